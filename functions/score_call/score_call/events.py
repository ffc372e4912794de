"""The "Transcribe Job State Change" event, as delivered by the EventBridge rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .models import COMPLETED, FAILED, InvalidEventError, JobState

__all__ = ["COMPLETED", "DETAIL_TYPE", "FAILED", "SOURCE", "InvalidEventError", "parse_job_state_change"]

SOURCE = "aws.transcribe"
DETAIL_TYPE = "Transcribe Job State Change"
MAX_JOB_NAME = 200


def parse_job_state_change(event: Any) -> JobState:
    """Only the detail matters; the documented placeholders ("event ID", "timestamp") are accepted.

    Raises :class:`InvalidEventError` for anything else, whatever its shape.
    """
    if not isinstance(event, Mapping):
        raise InvalidEventError("event is not a JSON object")
    if event.get("source") != SOURCE or event.get("detail-type") != DETAIL_TYPE:
        raise InvalidEventError(f"expected source {SOURCE!r} and detail-type {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidEventError("event has no detail object")
    name = detail.get("TranscriptionJobName")
    status = detail.get("TranscriptionJobStatus")
    if not isinstance(name, str) or not name or len(name) > MAX_JOB_NAME or not name.isprintable():
        raise InvalidEventError("detail.TranscriptionJobName is missing or not a job name")
    if not isinstance(status, str) or status not in {COMPLETED, FAILED}:
        raise InvalidEventError(f"detail.TranscriptionJobStatus must be {COMPLETED} or {FAILED}")
    reason = detail.get("FailureReason")
    event_id = event.get("id")
    return JobState(
        job_name=name,
        status=status,
        failure_reason=str(reason) if reason else None,
        event_id=str(event_id) if isinstance(event_id, (str, int)) and event_id else None,
    )
