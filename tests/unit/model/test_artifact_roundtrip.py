"""The artifact contract the serving side codes against: save, load, predict."""

from __future__ import annotations

import json
import shutil

import joblib
import numpy as np
import pytest

pytest.importorskip("sentence_transformers")

from churn_contracts.endpoint import FeatureSpec
from churn_model.artifact import load_model, save_model
from churn_model.data import generate_rows
from churn_model.pipeline import encoders
from churn_model.train import TrainConfig, fit_pipeline, score

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "classifier, params",
    [("rf", {}), ("additive", {"c": 0.01, "learning_rate": 0.1, "max_depth": 3, "min_samples_leaf": 5})],
)
def test_load_model_predicts_what_the_trained_pipeline_predicts(tmp_path, classifier, params):
    rows = generate_rows(90, seed=77)
    spec = FeatureSpec()
    config = TrainConfig(
        spec=spec, classifier=classifier, n_estimators=15, classifier_params=params, progress=False
    )
    records = [{name: row[name] for name in spec.all} for row in rows]
    labels = np.array([row["y"] for row in rows])
    pipeline, _, _ = fit_pipeline(records[:72], labels[:72], config)
    expected = score(pipeline, records[72:], spec)

    save_model(pipeline, tmp_path / "m", spec=spec, metadata={"model_version": "v-test", "thresholds": {}})
    model = load_model(tmp_path / "m")
    assert model.model_version == "v-test"
    assert model.spec == spec
    np.testing.assert_allclose(model.predict_proba(records[72:]), expected, atol=1e-9)
    # Saving did not disturb the live pipeline's encoder settings.
    assert all(e.model_path is None for e in encoders(pipeline))


def test_the_artifact_is_relocatable_and_refers_to_its_own_encoder(tiny_model_dir, tmp_path):
    moved = tmp_path / "elsewhere" / "model"
    shutil.copytree(tiny_model_dir, moved)
    raw = joblib.load(moved / "model.joblib")
    assert {e.model_path for e in encoders(raw)} == {"encoder"}
    assert all(e.cache_dir is None and e.device is None for e in encoders(raw))

    model = load_model(moved)
    assert {e.resolved_path for e in encoders(model.pipeline)} == {moved.resolve() / "encoder"}
    rows = generate_rows(5, seed=5)
    np.testing.assert_allclose(
        model.predict_proba(rows), load_model(tiny_model_dir).predict_proba(rows), atol=1e-9
    )


def test_predict_proba_contract(tiny_model_dir):
    model = load_model(tiny_model_dir, device="cpu")
    assert model.spec == FeatureSpec.from_dict(
        json.loads((tiny_model_dir / "feature_names.json").read_text())
    )
    assert model.metadata["model_version"] == model.model_version == "tiny-test-model"
    thresholds = model.metadata["thresholds"]
    assert 0.0 <= thresholds["medium"] <= thresholds["high"] <= 1.0
    model.warm_up()

    rows = generate_rows(16, seed=9)
    batch = model.predict_proba(rows)  # extra fields (ids, turns, y) are ignored
    assert batch.shape == (16,)
    assert batch.dtype == np.float64
    assert ((batch >= 0) & (batch <= 1)).all()
    np.testing.assert_allclose(model.predict_proba(rows), batch, atol=1e-12)  # deterministic
    # Every feature missing, unknown categories, no call text: still a probability.
    odd = model.predict_proba(
        [dict.fromkeys(model.spec.all), {"State": "Atlantis", "plan": "Z", "text": None}]
    )
    assert odd.shape == (2,)
    assert np.isfinite(odd).all()
    assert model.predict_proba([]).shape == (0,)


def test_a_long_call_is_scored_whole(tiny_model_dir):
    model = load_model(tiny_model_dir)
    record = generate_rows(1, seed=3)[0]
    long_call = {**record, "text": " ".join([record["text"]] * 12)}  # several encoder windows
    assert np.isfinite(model.predict_proba([long_call])).all()


def test_load_model_explains_a_wrong_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not a churn model directory: model.joblib is missing"):
        load_model(tmp_path)


def test_precision_fp32_loads_full_precision(tiny_model_dir):
    model = load_model(tiny_model_dir, precision="fp32")
    assert all(e.resolved_precision == "fp32" for e in encoders(model.pipeline))
    assert load_model(tiny_model_dir, device="cpu").pipeline is not model.pipeline
