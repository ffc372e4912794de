import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Reference formats live beside the project root (../shared/formats); CI lays them there too.
FORMATS = ROOT.parent / "shared" / "formats"
EVENTS = ROOT / "events"


def load_format(name: str) -> dict:
    return json.loads((FORMATS / name).read_text())


@pytest.fixture
def formats_dir() -> Path:
    if not FORMATS.is_dir():
        pytest.fail(f"reference formats not found at {FORMATS}")
    return FORMATS
