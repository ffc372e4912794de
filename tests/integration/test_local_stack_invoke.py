"""Local invoke (`sam local invoke`'s job without Docker): starts the background stack when none is
running, runs the function from the template with its environment, prints result and logs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.local.conftest import FLAKY_HANDLER, RECORD_HANDLER, TEMPLATE

pytestmark = pytest.mark.local


def _project(root: Path) -> Path:
    (root / "template.yaml").write_text(TEMPLATE)
    (root / "handlers").mkdir()
    (root / "handlers" / "record.py").write_text(RECORD_HANDLER)
    (root / "handlers" / "flaky.py").write_text(FLAKY_HANDLER)
    (root / "layer").mkdir()
    (root / "layer" / "layer_helper.py").write_text('MARKER = "from-layer"\n')
    return root


def _run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_invoke_starts_the_stack_and_runs_the_function_once(tmp_path: Path) -> None:
    project = _project(tmp_path)
    event = {
        "version": "0",
        "id": "f5f1e65c-dc3a-93ca-6c1e-b1647eac7963",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-03-08T17:50:14Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::recordings-123456789012-dev"],
        "detail": {
            "bucket": {"name": "recordings-123456789012-dev"},
            "object": {"key": "recordings/c9/x.wav", "etag": "abc"},
            "reason": "PutObject",
        },
    }
    (project / "event.json").write_text(json.dumps(event))
    try:
        ok = _run("churn_local.invoke", "RecordFunction", "event.json", cwd=project)
        failing = _run("churn_local.invoke", "FlakyFunction", "-", cwd=project, stdin="not json")
        status = _run("churn_local.stack", "status", cwd=project)
    finally:
        down = _run("churn_local.stack", "down", cwd=project)

    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"stored": "recordings/c9/x.wav", "remaining_ms": True}
    assert "[RecordFunction] record handler got Object Created" in ok.stderr
    assert "REPORT RequestId:" in ok.stderr
    assert "starting the local stack in the background" in ok.stderr
    assert failing.returncode == 2 and "cannot read the event" in failing.stderr
    assert status.returncode == 0 and "local AWS" in status.stdout
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not (project / ".local-stack" / "state.json").exists()


def test_a_failing_handler_prints_lambdas_error_and_exits_non_zero(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "event.json").write_text(json.dumps({"detail": {"fail_times": 5}}))
    try:
        result = _run("churn_local.invoke", "FlakyFunction", "event.json", cwd=project)
    finally:
        _run("churn_local.stack", "down", cwd=project)

    assert result.returncode == 1
    error = json.loads(result.stdout)
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "failure number 1"
