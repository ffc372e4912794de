"""The staged SageMaker source folder, run the way the training container runs it.

The SDK's driver does ``cd /opt/ml/input/data/code && python sagemaker_entry.py --<name> <value>...``
with SM_MODEL_DIR, SM_CHANNEL_TRAIN, SM_CHANNEL_TEST and SM_OUTPUT_DATA_DIR set. Here the same
command runs in a fresh interpreter against a copy of the folder, on generated data, and the model
directory it leaves (the job's model.tar.gz) must hold the model, the encoder and the serving code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from churn_ops import training_source
from churn_ops.best_flags import BEST_HYPERPARAMETERS

pytestmark = [pytest.mark.slow, pytest.mark.model]


def _container_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_") and k != "PYTHONPATH"}
    env.update(
        SM_MODEL_DIR=str(tmp_path / "opt/ml/model"),
        SM_CHANNEL_TRAIN=str(tmp_path / "opt/ml/input/data/train"),
        SM_CHANNEL_TEST=str(tmp_path / "opt/ml/input/data/test"),
        SM_OUTPUT_DATA_DIR=str(tmp_path / "opt/ml/output/data"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return env


def test_staged_folder_imports_its_own_copies(tmp_path: Path) -> None:
    staged = training_source.stage(tmp_path / "code")
    probe = (
        "import churn_model, churn_contracts; print(churn_model.__file__); print(churn_contracts.__file__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=staged,
        env=_container_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(Path(path).is_relative_to(staged) for path in out), out


def test_the_job_command_trains_and_leaves_a_servable_model_dir(tmp_path: Path) -> None:
    staged = training_source.stage(tmp_path / "code")
    env = _container_env(tmp_path)
    generated = tmp_path / "generated"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "churn_model.data.generate",
            "--rows",
            "150",
            "--test-fraction",
            "0.3",
            "--out",
            str(generated),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    for channel in ("train", "test"):
        folder = Path(env[f"SM_CHANNEL_{channel.upper()}"])
        folder.mkdir(parents=True)
        shutil.copy(generated / f"{channel}.jsonl", folder)
        shutil.copy(generated / "oracle.json", folder)
    hyperparameters = {**BEST_HYPERPARAMETERS, "n-estimators": "20", "batch-size": "64"}
    # The SDK's basic_script_driver: every hyperparameter becomes "--name value" (tests/ops checks this).
    args = [item for name, value in hyperparameters.items() for item in (f"--{name}", value)]

    done = subprocess.run(
        [sys.executable, training_source.ENTRY_SCRIPT, *args, "--no-progress"],
        cwd=staged,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    model_dir = Path(env["SM_MODEL_DIR"])
    for name in (
        "model.joblib",
        "feature_names.json",
        "model.json",
        "code/inference.py",
        "code/requirements.txt",
    ):
        assert (model_dir / name).is_file(), name
    assert any((model_dir / "encoder").glob("*.safetensors")), "the encoder files are not in the model"
    assert (model_dir / "code" / "churn_contracts" / "endpoint.py").is_file()
    requirements = (model_dir / "code" / "requirements.txt").read_text()
    assert "scikit-learn==" in requirements and "torch==" not in requirements
    model = json.loads((model_dir / "model.json").read_text())
    assert model["hyperparameters"]["n_estimators"] == 20
    assert (Path(env["SM_OUTPUT_DATA_DIR"]) / "metrics.json").is_file()
