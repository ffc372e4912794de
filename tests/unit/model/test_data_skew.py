"""Train/serve skew: the stored ``text`` must equal what scoring builds from a real transcript.

The generator renders ``text`` from the turns; the scoring side gets a Transcribe
output document of the same call and builds the customer's text from it, with
the shared parser and renderer and with the score Lambda's own ``model_text``.
Two sets of calls are checked, each in both Transcribe layouts (channels, speakers):

* fresh calls from the generator: catches a generator that renders on its own;
* ``data_skew_calls.jsonl``, calls whose ``text`` was rendered when the file was
  written, like a training set on disk: catches a change to the shared renderer
  or to the transcript parser, which would otherwise move both sides together.

Regenerate the file only for a deliberate, versioned change of the text format:
    python -c "import json; from churn_model.data.generate import generate_rows; \
    print(*(json.dumps({k: r[k] for k in ('call_id', 'text', 'turns')}) for r in generate_rows(100, seed=2024)), sep='\\n')" \
    > tests/unit/model/data_skew_calls.jsonl
"""

from __future__ import annotations

import json
from dataclasses import MISSING, fields
from pathlib import Path

import pytest
from churn_contracts.conversation import Turn
from churn_contracts.transcribe import build_transcript, parse_transcript
from churn_model.data.generate import generate_rows
from score_call.config import Settings
from score_call.transcript import model_text

STORED_CALLS = Path(__file__).with_name("data_skew_calls.jsonl")


@pytest.fixture(scope="module")
def fresh_calls() -> list[dict]:
    return generate_rows(120, seed=11)


@pytest.fixture(scope="module")
def stored_calls() -> list[dict]:
    return [json.loads(line) for line in STORED_CALLS.read_text(encoding="utf-8").splitlines()]


def _score_function_settings() -> Settings:
    # Only the transcript settings matter here; the rest are placeholders, defaults kept.
    required = {
        f.name: "unused" for f in fields(Settings) if f.default is MISSING and f.default_factory is MISSING
    }
    return Settings(**required)


def contracts_text(document: dict) -> str:
    return parse_transcript(document).customer_text


def score_function_text(document: dict) -> str:
    """Exactly what the score Lambda sends to the endpoint as ``text``."""
    return model_text(document, _score_function_settings())


SCORING_SIDES = {"contracts": contracts_text, "score_call": score_function_text}
MODES = ["channels", "speakers"]


def assert_no_skew(calls: list[dict], mode: str, side: str) -> None:
    assert len(calls) >= 100
    build = SCORING_SIDES[side]
    mismatches = [
        c["call_id"]
        for c in calls
        if build(build_transcript([Turn.from_dict(t) for t in c["turns"]], mode=mode)) != c["text"]
    ]
    assert mismatches == [], f"{len(mismatches)} of {len(calls)} calls differ, first {mismatches[:3]}"


@pytest.mark.parametrize("side", SCORING_SIDES)
@pytest.mark.parametrize("mode", MODES)
def test_generated_text_equals_scoring_text(fresh_calls: list[dict], mode: str, side: str) -> None:
    assert_no_skew(fresh_calls, mode, side)


@pytest.mark.parametrize("side", SCORING_SIDES)
@pytest.mark.parametrize("mode", MODES)
def test_stored_training_text_equals_scoring_text(stored_calls: list[dict], mode: str, side: str) -> None:
    assert_no_skew(stored_calls, mode, side)


def test_calls_are_real_conversations(fresh_calls: list[dict], stored_calls: list[dict]) -> None:
    # Guards against a vacuous pass: several customer turns, agent turns and words in every call.
    for call in fresh_calls + stored_calls:
        roles = [t["role"] for t in call["turns"]]
        assert roles.count("customer") >= 2 and roles.count("agent") >= 2
        assert len(call["text"].split()) >= 30
