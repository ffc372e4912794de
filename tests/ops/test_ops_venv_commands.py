"""The commands ops/README.md runs from .venv-ops work there, without the development environment.

Runs in the ops virtualenv (`make ops-test`): the sagemaker SDK's pins, plus the project with
--no-deps. Nothing here reaches AWS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    "module", ["churn_ops.teardown", "churn_ops.redrive", "churn_ops.stack", "churn_local.profiles"]
)
def test_the_documented_tools_start_in_the_ops_venv(module, tmp_path):
    result = run(module, "--help", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]


def test_data_is_generated_and_checked_in_the_ops_venv(tmp_path):
    out = tmp_path / "data"
    generated = run(
        "churn_ops.training_data", "generate", "--rows", "200", "--out", str(out), tmp_path=tmp_path
    )
    assert generated.returncode == 0, generated.stderr[-2000:]
    assert json.loads((out / "train.jsonl").read_text().splitlines()[0])["y"] in (0, 1)
    checked = run(
        "churn_ops.training_data",
        "check",
        "--train",
        str(out / "train.jsonl"),
        "--test",
        str(out / "test.jsonl"),
        tmp_path=tmp_path,
    )
    assert checked.returncode == 0 and "train: OK" in checked.stdout, checked.stderr

    (tmp_path / "bad.jsonl").write_text(json.dumps({"Day Mins": 1.0}) + "\n")
    refused = run(
        "churn_ops.training_data", "check", "--train", str(tmp_path / "bad.jsonl"), tmp_path=tmp_path
    )
    assert (
        refused.returncode == 1
        and refused.stderr.startswith("error: train data")
        and "missing columns" in refused.stderr
    )


def test_parameters_are_checked_in_the_ops_venv(tmp_path):
    result = run("churn_ops.stack", "check", "--config-env", "prod", tmp_path=tmp_path)
    assert result.returncode == 1 and "ModelDataUrlIsNotThePlaceholder" in result.stderr
    # The immutable model URL rule runs here too, and names the command that fixes it.
    assert "churn_ops.publish_model model.tar.gz" in result.stderr


def test_publish_model_runs_in_the_ops_venv_and_no_credentials_is_one_line(tmp_path):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"\x1f\x8b not a real model")
    result = run("churn_ops.publish_model", str(archive), "--bucket", "models-a", tmp_path=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "no AWS credentials found" in result.stderr


def test_no_credentials_is_one_line(tmp_path):
    result = run("churn_ops.teardown", "--stack", "churn-alerts", "--dry-run", tmp_path=tmp_path)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "no AWS credentials found" in result.stderr
