"""The documented Contact Lens voice segment format, as Lambda's Kinesis event carries it."""

from __future__ import annotations

import base64
import json

import pytest
from live_score.events import decode_record, parse_segment_event
from live_score.models import InvalidRecordError

from tests.conftest import load_format


def test_the_documented_segments_event_gives_finals_only() -> None:
    sample = load_format("contact-lens-voice-segments.json")
    event = parse_segment_event(sample["SEGMENTS"])
    assert event.event_type == "SEGMENTS"
    assert event.contact_id == "a1b2c3d4-5678-90ab-cdef-EXAMPLE22222"
    assert event.partials == 2  # the two Utterance partials are counted, never kept
    assert [s.role for s in event.finals] == ["AGENT", "CUSTOMER"]
    (customer,) = event.customer_finals
    assert customer.id == "9e6c8d1b-2f4a-4c1e-8b7d-3a5f6e7d8c9b"
    assert (customer.begin_ms, customer.end_ms) == (25010, 29750)


@pytest.mark.parametrize("kind", ["STARTED", "COMPLETED", "FAILED"])
def test_session_events(kind: str) -> None:
    event = parse_segment_event(load_format("contact-lens-voice-segments.json")[kind])
    assert event.event_type == kind and not event.finals


def test_the_kinesis_fixture_decodes_to_the_session() -> None:
    records = load_format("kinesis-event-contact-lens.json")["Records"]
    kinds = [parse_segment_event(decode_record(r["kinesis"]["data"])).event_type for r in records]
    assert kinds == ["STARTED", "SEGMENTS", "COMPLETED"]
    assert {r["kinesis"]["partitionKey"] for r in records} == {"a1b2c3d4-5678-90ab-cdef-EXAMPLE22222"}


def _b64(value: object) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("%%%not base64", "base64"),
        (base64.b64encode(b"\xff\xfe").decode(), "not JSON"),
        (_b64([1, 2]), "not a JSON object"),
        (_b64({"EventType": "PAUSED", "ContactId": "c"}), "EventType"),
        (_b64({"EventType": "SEGMENTS"}), "ContactId"),
        (_b64({"EventType": "SEGMENTS", "ContactId": "c", "Segments": {}}), "Segments is not a list"),
        (
            _b64({"EventType": "SEGMENTS", "ContactId": "c", "Segments": [{"Transcript": {"Id": "s"}}]}),
            "Content",
        ),
    ],
)
def test_malformed_records_are_refused_with_a_reason_that_holds_no_speech(data: str, reason: str) -> None:
    with pytest.raises(InvalidRecordError, match=reason):
        parse_segment_event(decode_record(data))


def test_a_reason_never_quotes_the_content() -> None:
    payload = {
        "EventType": "SEGMENTS",
        "ContactId": "c",
        "Segments": [{"Transcript": {"Id": "s", "Content": "my card is 4111", "ParticipantRole": 7}}],
    }
    with pytest.raises(InvalidRecordError) as info:
        parse_segment_event(payload)
    assert "4111" not in str(info.value)


def test_unknown_segment_kinds_are_skipped() -> None:
    payload = {
        "EventType": "SEGMENTS",
        "ContactId": "c",
        "Segments": [{"Categories": {"MatchedCategories": []}}, {"PostContactSummary": {"Content": "x"}}],
    }
    assert parse_segment_event(payload).finals == ()
