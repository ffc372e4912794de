"""`make help` lists every target, and every target is phony (none is a file make could skip)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAKEFILE = (ROOT / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-z0-9][a-z0-9-]*):(?!=)", MAKEFILE, flags=re.MULTILINE))


def phony() -> set[str]:
    text = re.search(r"^\.PHONY:((?:.*\\\n)*.*)$", MAKEFILE, flags=re.MULTILINE).group(1)
    return set(text.replace("\\\n", " ").split())


def test_every_target_is_phony():
    assert {"help", "test", "test-fast", "demo", "invoke"} <= TARGETS
    assert phony() >= TARGETS, f"not in .PHONY: {sorted(TARGETS - phony())}"


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")
def test_make_help_lists_every_target():
    shown = subprocess.run(
        ["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    listed = set(re.findall(r"^\s+make (\S+)", shown, flags=re.MULTILINE))
    assert listed >= TARGETS, f"missing from make help (add a ## comment): {sorted(TARGETS - listed)}"
