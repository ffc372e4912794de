"""Kinesis record -> :class:`SegmentEvent`, or :class:`InvalidRecordError` with a log-safe reason.

Only the fields the function uses are checked; unknown segment kinds (``Categories``,
``PostContactSummary``, later additions) are skipped, so a new Contact Lens feature is never
a poison record. The reasons name fields, never their values (a Content is the customer's speech).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from .models import EVENT_TYPES, FAILED, SEGMENTS, FinalSegment, InvalidRecordError, SegmentEvent

# Kinesis caps a record at 1 MiB (10 MiB since 2025 on request); Contact Lens events are far smaller.
MAX_RECORD_BYTES = 1024 * 1024
MAX_ID_CHARS = 256  # the Connect API's limit on segment and contact ids


def decode_record(data: str) -> Mapping[str, Any]:
    """A Lambda Kinesis record's ``kinesis.data`` (base64 JSON) -> the event object."""
    if not isinstance(data, str):
        raise InvalidRecordError("kinesis.data is not a base64 string")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRecordError("kinesis.data is not valid base64") from None
    if len(raw) > MAX_RECORD_BYTES:
        raise InvalidRecordError("record is larger than a Kinesis record can be")
    try:
        payload = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidRecordError("record is not JSON") from None
    if not isinstance(payload, Mapping):
        raise InvalidRecordError("record is not a JSON object")
    return payload


def _id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_CHARS:
        raise InvalidRecordError(f"{name} is missing or not an id")
    return value


def _offset(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidRecordError(f"{name} is not a non-negative number")
    return int(value)


def _final(body: Any, where: str) -> FinalSegment:
    if not isinstance(body, Mapping):
        raise InvalidRecordError(f"{where} is not an object")
    content = body.get("Content")
    if not isinstance(content, str):
        raise InvalidRecordError(f"{where}.Content is not a string")
    role = body.get("ParticipantRole")
    if not isinstance(role, str):
        raise InvalidRecordError(f"{where}.ParticipantRole is not a string")
    return FinalSegment(
        id=_id(body.get("Id"), f"{where}.Id"),
        role=role,
        content=content,
        begin_ms=_offset(body.get("BeginOffsetMillis", 0), f"{where}.BeginOffsetMillis"),
        end_ms=_offset(body.get("EndOffsetMillis", 0), f"{where}.EndOffsetMillis"),
    )


def parse_segment_event(payload: Mapping[str, Any]) -> SegmentEvent:
    event_type = payload.get("EventType")
    if event_type not in EVENT_TYPES:
        raise InvalidRecordError("EventType is not STARTED, SEGMENTS, COMPLETED or FAILED")
    contact_id = _id(payload.get("ContactId"), "ContactId")
    instance_id = payload.get("InstanceId")
    instance_id = instance_id if isinstance(instance_id, str) else ""
    if event_type == FAILED:
        # The documented FAILED event carries only the common properties; keep a reason if one comes.
        reason = payload.get("FailureReason") or payload.get("Reason")
        return SegmentEvent(FAILED, contact_id, instance_id, failure_reason=str(reason) if reason else None)
    if event_type != SEGMENTS:
        return SegmentEvent(event_type, contact_id, instance_id)
    segments = payload.get("Segments")
    if not isinstance(segments, list):
        raise InvalidRecordError("Segments is not a list")
    finals: list[FinalSegment] = []
    partials = 0
    for index, segment in enumerate(segments):
        if not isinstance(segment, Mapping):
            raise InvalidRecordError(f"Segments[{index}] is not an object")
        if "Transcript" in segment:
            finals.append(_final(segment["Transcript"], f"Segments[{index}].Transcript"))
        elif "Utterance" in segment:
            partials += 1
    return SegmentEvent(SEGMENTS, contact_id, instance_id, tuple(finals), partials)
