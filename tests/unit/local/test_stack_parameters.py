"""`stack up` refuses bad parameters at once, with the template's own rules, and starts nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from churn_local.spec import read_stack
from churn_ops.template_rules import ParameterError

ROOT = Path(__file__).resolve().parents[3]


def stack_up(state_dir: Path, *params: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "churn_local.stack", "--state-dir", str(state_dir), "up", "--wait", "5"]
    for pair in params:
        command += ["--param", pair]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)


def test_stack_up_refuses_misordered_thresholds_in_one_line_and_starts_nothing(tmp_path: Path):
    result = stack_up(tmp_path / "state", "MediumRiskThreshold=0.5", "HighRiskThreshold=0.3")
    assert result.returncode == 1
    assert "MediumRiskThreshold (0.5) must be at most HighRiskThreshold (0.3)" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "state").exists(), "nothing started, no stack.log to dig through"


def test_stack_up_lists_every_problem(tmp_path: Path):
    result = stack_up(
        tmp_path / "state",
        "EndpointMinInstances=3",
        "EndpointMaxInstances=2",
        "ModelDataUrl=s3://replace-me-model-bucket/churn/model.tar.gz",
    )
    assert result.returncode == 1
    assert "EndpointInstancesInOrder" in result.stderr and "ModelDataUrlIsNotThePlaceholder" in result.stderr


def test_reading_the_stack_applies_the_same_checks():
    # LocalStack and `make invoke` read the stack through read_stack, so they refuse too.
    with pytest.raises(ParameterError, match="HighRiskThreshold"):
        read_stack(ROOT / "template.yaml", parameters={"HighRiskThreshold": "0.05"})
    assert (
        read_stack(ROOT / "template.yaml", parameters={"HighRiskThreshold": "0.5"}).parameters[
            "HighRiskThreshold"
        ]
        == "0.5"
    )


def test_the_deploy_check_does_not_stand_on_the_local_emulation():
    # ops runs in .venv-ops; its template rules must not import churn_local (the emulation).
    code = (
        "import sys, churn_ops.stack, churn_ops.template_rules as t;"
        "t.check_parameters(t.load_template('template.yaml'));"
        "print(sorted(m for m in sys.modules if m.startswith('churn_local')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize("tool", ["stack", "invoke"])
def test_without_a_trained_model_stack_up_and_invoke_say_what_to_run_first(tmp_path: Path, tool: str):
    # `make invoke` starts a stack by itself: both refuse in one line instead of a stack that
    # answers every score with "endpoint response is not JSON" (the API's 502).
    import os

    state = tmp_path / "state"
    if tool == "stack":
        command = [sys.executable, "-m", "churn_local.stack", "--state-dir", str(state), "up", "--wait", "5"]
    else:
        command = [
            sys.executable,
            "-m",
            "churn_local.invoke",
            "--state-dir",
            str(state),
            "-",
            "events/s3-put.json",
        ]
    env = {**os.environ, "CHURN_MODEL_DIR": str(tmp_path / "no-model")}
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1, result.stderr
    assert (
        f"no trained model in {tmp_path / 'no-model'}: run `make data && make train` first" in result.stderr
    )
    assert "Traceback" not in result.stderr
    assert not state.exists(), "nothing started"
