import json

import pytest
from churn_contracts.conversation import Role, Turn
from churn_contracts.transcribe import parse_transcript
from churn_local.transcribe.asr import Word
from churn_local.transcribe.processing import (
    JobFailure,
    _sidecar_turns,
    redact,
    sidecar_key,
    turns_from_words,
)


def test_sidecar_lives_under_a_prefix_that_does_not_trigger_the_pipeline():
    assert sidecar_key("recordings/c-1/call-1.wav") == "local-transcripts/recordings/c-1/call-1.wav.json"


def test_words_split_into_turns_at_long_pauses():
    words = [Word("hello", 0.5, 0.9), Word("there", 1.0, 1.4), Word("again", 4.0, 4.4), Word("yes", 4.6, 4.8)]
    assert turns_from_words(words, Role.CUSTOMER) == [
        Turn(Role.CUSTOMER, "hello there", 0.5),
        Turn(Role.CUSTOMER, "again yes", 4.0),
    ]
    assert turns_from_words([], Role.AGENT) == []


def test_redaction_masks_numbers_and_addresses_only():
    turns = [Turn(Role.CUSTOMER, "My card is 4111-1111, mail me at a@b.com please", 1.0)]
    assert redact(turns) == [Turn(Role.CUSTOMER, "My card is [PII] mail me at [PII] please", 1.0)]


def test_sidecar_turns_round_trip_into_a_parseable_transcript():
    from churn_contracts.transcribe import build_transcript

    turns = _sidecar_turns(
        json.dumps(
            {
                "turns": [
                    {"role": "agent", "text": "How can I help?", "start_time": 0},
                    {"role": "customer", "text": "Cancel my plan.", "start_time": 2.5},
                ]
            }
        ).encode()
    )
    assert parse_transcript(build_transcript(turns, mode="channels")).customer_text == "Cancel my plan."


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"turns": [{"role": "caller", "text": "hi"}]}',
        b'{"turns": []}',
        b'{"lines": []}',
    ],
)
def test_bad_sidecars_fail_the_job_with_a_reason(body):
    with pytest.raises(JobFailure, match="sidecar"):
        _sidecar_turns(body)
