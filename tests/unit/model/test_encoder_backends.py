"""The encoder's backends: ONNX int8 (the CPU default), PyTorch (the reference) and the static tier.

Sequences, not single steps: train -> save -> load elsewhere with no build directory -> score a
record alone and among 63 others.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from churn_contracts.endpoint import FeatureSpec
from churn_model.artifact import load_model, save_model
from churn_model.data import generate_rows
from churn_model.encoder import SentenceEncoder
from churn_model.encoder_onnx import int8_path
from churn_model.pipeline import encoders
from churn_model.train import TrainConfig, fit_pipeline

pytestmark = pytest.mark.slow

SPEC = FeatureSpec(["CustServ Calls", "Account Length"], ["plan", "limit"], ["text"])


def _records(rows):
    return [{name: row[name] for name in SPEC.all} for row in rows]


def test_the_cpu_default_is_onnx_int8_and_stays_close_to_fp32():
    texts = [r["text"] for r in generate_rows(12, seed=21)]
    default = SentenceEncoder(device="cpu", granularity="text")
    assert (default.resolved_backend, default.resolved_precision) == ("onnx", "int8")
    assert SentenceEncoder(device="cuda").resolved_backend == "torch"
    assert SentenceEncoder(device="cpu", precision="fp32").resolved_backend == "torch"

    fp32 = SentenceEncoder(device="cpu", backend="torch", precision="fp32", granularity="text")
    cosine = (default.transform(texts) * fp32.transform(texts)).sum(axis=1)
    assert cosine.mean() >= 0.99
    assert cosine.min() >= 0.98


def test_onnx_backend_refuses_what_it_cannot_run():
    with pytest.raises(ValueError, match="ONNX backend runs int8 on CPU only"):
        SentenceEncoder(device="cpu", backend="onnx", precision="fp32").transform(["hello"])
    with pytest.raises(ValueError, match="backend must be one of"):
        SentenceEncoder(device="cpu", backend="tensorrt").transform(["hello"])


@pytest.fixture(scope="module")
def onnx_artifact(tmp_path_factory):
    """A small model trained with the default CPU encoder and saved; the build directory is gone."""
    rows = generate_rows(80, seed=31)
    config = TrainConfig(spec=SPEC, classifier="logreg", text_granularity="text", progress=False)
    pipeline, _, _ = fit_pipeline(_records(rows), np.array([r["y"] for r in rows]), config)
    model_dir = tmp_path_factory.mktemp("onnx") / "model"
    save_model(pipeline, model_dir, spec=SPEC, metadata={"model_version": "v-onnx", "thresholds": {}})
    return model_dir


def test_the_artifact_carries_the_onnx_file_and_serves_without_exporting(
    onnx_artifact, tmp_path, monkeypatch
):
    assert int8_path(onnx_artifact / "encoder").is_file()
    # Another machine: no build directory, so an export would have to happen here, and must not.
    monkeypatch.setenv("CHURN_ENCODER_BUILD_DIR", str(tmp_path / "empty-build-dir"))
    model = load_model(onnx_artifact, device="cpu")
    assert {e.resolved_backend for e in encoders(model.pipeline)} == {"onnx"}
    model.predict_proba(_records(generate_rows(2, seed=1)))
    assert not (tmp_path / "empty-build-dir").exists()


def test_an_artifact_without_its_onnx_file_fails_at_load_not_at_the_first_request(
    onnx_artifact, tmp_path, monkeypatch
):
    broken = tmp_path / "model"
    shutil.copytree(onnx_artifact, broken)
    shutil.rmtree(broken / "encoder" / "onnx")
    monkeypatch.setenv("CHURN_ENCODER_BUILD_DIR", str(tmp_path / "empty-build-dir"))
    with pytest.raises(FileNotFoundError, match="nothing is exported at serve time"):
        load_model(broken, device="cpu", backend="onnx")
    # Without an explicit backend, the old-artifact path: PyTorch, still no export.
    model = load_model(broken, device="cpu")
    assert {e.resolved_backend for e in encoders(model.pipeline)} == {"torch"}
    assert not (tmp_path / "empty-build-dir").exists()


@pytest.mark.parametrize(("backend", "precision"), [("onnx", "int8"), ("torch", "fp32")])
def test_a_record_scores_the_same_alone_and_in_a_mixed_batch_of_64(onnx_artifact, backend, precision):
    # Every precision that can be a default: int8 on ONNX (CPU), fp32 (GPU default, the reference).
    model = load_model(onnx_artifact, device="cpu", backend=backend, precision=precision)
    batch = _records(generate_rows(64, seed=41))
    batch[5]["text"] = batch[5]["text"] * 4  # a long one: padding and window cuts in the mix
    batch[9]["text"] = "No."
    together = model.predict_proba(batch)
    alone = np.array([model.predict_proba([record])[0] for record in batch])
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def static_encoder():
    # Distilled once per machine into the build directory (a few minutes the first time).
    return SentenceEncoder(encoder="static", granularity="text")


def test_static_tier_is_deterministic_and_tracks_minilm(static_encoder):
    texts = [r["text"] for r in generate_rows(40, seed=51)]
    together = static_encoder.transform(texts)
    alone = np.vstack([static_encoder.transform([t]) for t in texts])
    np.testing.assert_allclose(alone, together, rtol=0, atol=1e-6)
    assert static_encoder.resolved_backend == "static"
    assert static_encoder.resolved_device == "cpu"
    # Which texts resemble which: the static table keeps part of MiniLM's geometry.
    minilm = SentenceEncoder(device="cpu", backend="torch", precision="fp32", granularity="text")
    reference = minilm.transform(texts)
    upper = np.triu_indices(len(texts), k=1)
    agreement = np.corrcoef((together @ together.T)[upper], (reference @ reference.T)[upper])[0, 1]
    assert agreement > 0.3  # 0.46 measured on generated calls; unrelated tables give ~0


def test_static_tier_trains_saves_and_serves_from_its_own_table(static_encoder, tmp_path, monkeypatch):
    static_encoder.transform(["warm"])  # the table is built before training starts
    rows = generate_rows(80, seed=61)
    config = TrainConfig(
        spec=SPEC, classifier="logreg", text_granularity="text", progress=False, encoder="static"
    )
    pipeline, train_scores, _ = fit_pipeline(_records(rows), np.array([r["y"] for r in rows]), config)
    save_model(pipeline, tmp_path / "m", spec=SPEC, metadata={"model_version": "v-static", "thresholds": {}})
    assert not (tmp_path / "m" / "encoder" / "model.onnx").exists()
    assert (tmp_path / "m" / "encoder" / "churn_static.json").is_file()

    monkeypatch.setenv("CHURN_ENCODER_BUILD_DIR", str(tmp_path / "empty-build-dir"))
    model = load_model(tmp_path / "m")
    assert {e.resolved_path for e in encoders(model.pipeline)} == {(tmp_path / "m" / "encoder").resolve()}
    np.testing.assert_allclose(model.predict_proba(_records(rows)), train_scores, atol=1e-9)
    assert not (tmp_path / "empty-build-dir").exists()


def test_the_gpu_check_says_so_and_exits_0_without_cuda():
    import subprocess
    import sys
    from pathlib import Path

    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here: run the check itself")
    script = Path(__file__).resolve().parents[3] / "model" / "benchmarks" / "gpu_check.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "no CUDA device" in done.stdout
