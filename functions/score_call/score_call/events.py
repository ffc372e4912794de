"""The "Transcribe Job State Change" event, as delivered by the EventBridge rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

SOURCE = "aws.transcribe"
DETAIL_TYPE = "Transcribe Job State Change"
COMPLETED = "COMPLETED"
FAILED = "FAILED"


class InvalidEventError(ValueError):
    """Not a Transcribe job state change; raised so the event lands on the on-failure queue."""


@dataclass(frozen=True)
class JobStateChange:
    job_name: str
    status: str
    failure_reason: str | None
    event_id: str | None


def parse_job_state_change(event: Any) -> JobStateChange:
    """Only the detail matters; the documented placeholders ("event ID", "timestamp") are accepted."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event is not a JSON object")
    wrapped = EventBridgeEvent(dict(event))
    if wrapped.get("source") != SOURCE or wrapped.get("detail-type") != DETAIL_TYPE:
        raise InvalidEventError(f"expected source {SOURCE!r} and detail-type {DETAIL_TYPE!r}")
    detail = wrapped.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError("event has no detail object")
    name = detail.get("TranscriptionJobName")
    status = detail.get("TranscriptionJobStatus")
    if not isinstance(name, str) or not name:
        raise InvalidEventError("detail.TranscriptionJobName is missing")
    if status not in {COMPLETED, FAILED}:
        raise InvalidEventError(f"detail.TranscriptionJobStatus must be {COMPLETED} or {FAILED}")
    reason = detail.get("FailureReason")
    return JobStateChange(
        job_name=name,
        status=status,
        failure_reason=str(reason) if reason else None,
        event_id=str(wrapped.get("id")) if wrapped.get("id") else None,
    )
