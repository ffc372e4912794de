"""Every sample event in events/ gives its documented outcome with `make invoke` on a fresh stack.

events/README.md lists the outcomes; this runs `python -m churn_local.invoke - <event>` (what
`make invoke EVENT=...` runs) for each, against one fresh background stack with a small model.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def invoke(event: str, state_dir: Path, model: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "churn_local.invoke", "-", f"events/{event}"]
    command += ["--state-dir", str(state_dir), "--model", str(model), *extra]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_each_sample_event_gives_its_documented_outcome(tiny_model_dir: Path, tmp_path: Path):
    state_dir = tmp_path / "stack"
    documented = (EVENTS / "README.md").read_text()
    try:
        results = {
            name: invoke(name, state_dir, tiny_model_dir)
            for name in (
                "s3-put.json",
                "eventbridge-object-created.json",
                "transcribe-completed.json",
                "transcribe-failed.json",
            )
        }
        again = invoke("s3-put.json", state_dir, tiny_model_dir)
        unseeded = invoke("transcribe-completed.json", state_dir, tiny_model_dir, "--no-seed")
    finally:
        subprocess.run(
            [sys.executable, "-m", "churn_local.stack", "--state-dir", str(state_dir), "down"],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            check=False,
        )

    outputs = {}
    for name, result in results.items():
        assert result.returncode == 0, f"{name}: {result.stderr[-3000:]}"
        outputs[name] = json.loads(result.stdout)
        assert f"`{name}`" in documented, f"events/README.md does not document {name}"

    for name in ("s3-put.json", "eventbridge-object-created.json"):
        assert len(outputs[name]["started"]) == 1 and not outputs[name]["duplicates"], outputs[name]
        assert "put a recording with speech" in results[name].stderr
        assert "StartTranscriptionFunction" in results[name].stderr

    scored = outputs["transcribe-completed.json"]
    assert scored["result"] in {"scored", "alerted"} and 0.0 <= scored["probability"] <= 1.0, scored
    assert re.search(r"transcribed as job \S+ \(COMPLETED\)", results["transcribe-completed.json"].stderr)

    failed = outputs["transcribe-failed.json"]
    assert failed["result"] == "transcription-failed" and failed["reason"], failed

    # Run twice, the upload event finds its job already started: a duplicate, as on AWS.
    assert json.loads(again.stdout)["duplicates"] and "put a recording" not in again.stderr
    # Without seeding, the sample's job does not exist here: the function says so, no traceback.
    assert "Traceback" not in unseeded.stdout
