"""The score function's domain types: what the domain reads, decides and reports.

Adapters build and consume these; the domain never imports an adapter. The call item itself
(:class:`~churn_contracts.calls.CallItem`), the endpoint's :class:`~churn_contracts.endpoint.Score`
and :class:`~churn_contracts.locations.S3Location` are contracts shared with other processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from churn_contracts.calls import CallItem
from churn_contracts.endpoint import ResponseError, Score
from churn_contracts.locations import S3Location

if TYPE_CHECKING:
    from .alert import PreparedAlert

__all__ = [
    "CallItem",
    "CallNotFoundError",
    "EndpointContractError",
    "EndpointUnavailableError",
    "InvalidEventError",
    "JobState",
    "ModelRejectedError",
    "Outcome",
    "Result",
    "S3Location",
    "Score",
    "ScoreRecord",
    "TranscriptUnavailableError",
    "TranscriptionJob",
    "WindowBusyError",
    "WindowClaim",
]

COMPLETED = "COMPLETED"
FAILED = "FAILED"


class InvalidEventError(ValueError):
    """Not a usable Transcribe job state change: rejected once, counted, never retried."""


class ModelRejectedError(ValueError):
    """The model container refused this input (a 4xx behind InvokeEndpoint's ModelError)."""


class EndpointUnavailableError(RuntimeError):
    """The endpoint kept throttling or failing (429/5xx) after the bounded retries."""


# The endpoint answered 200 with something outside the prediction contract.
EndpointContractError = ResponseError


class TranscriptUnavailableError(RuntimeError):
    """The job reports no transcript we may read; raised so the event is retried, then kept."""


class CallNotFoundError(LookupError):
    """No call item for this job."""


class WindowBusyError(RuntimeError):
    """Another call of this customer is publishing an alert right now; retried later, when that
    alert has either gone out (this one is then suppressed) or been given back."""


@dataclass(frozen=True)
class JobState:
    """What a Transcribe state-change event (or the reconciler's GetTranscriptionJob) says."""

    job_name: str
    status: str  # COMPLETED, FAILED, or (reconciler only) IN_PROGRESS / QUEUED
    failure_reason: str | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class TranscriptionJob:
    name: str
    status: str
    transcript_uri: str | None
    redacted_transcript_uri: str | None
    redacted: bool
    media_uri: str | None
    failure_reason: str | None = None


@dataclass(frozen=True)
class ScoreRecord:
    probability: float
    risk_level: str
    medium_threshold: float
    high_threshold: float
    missing_features: list[str]
    profile_found: bool
    model_version: str
    transcript_uri: str
    scored_at: datetime
    latency_ms: float
    excerpt: str | None = None
    text_truncated: bool = False
    # Stored with the score: the whole call's topics and the reasons in words (JSON-ready).
    topics: dict[str, Any] | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)
    # At high risk: the complete alert, written in the same write that claims it.
    alert: PreparedAlert | None = None
    # The model features this score was made from (issue 21: training uses them, not today's profile).
    scored_profile: dict[str, Any] | None = None
    # Profile values the model never saw ({column: value}, bounded by the contract): stored for
    # whoever fixes the profile, never logged (they are customer data).
    unknown_categories: dict[str, str] | None = None


@dataclass(frozen=True)
class WindowClaim:
    """The customer's quiet window, as seen by one call that wants to alert."""

    granted: bool
    holder_job_name: str | None = None  # the call whose delivered alert holds the window
    busy: bool = False  # another call is publishing now
    delivered_message_id: str | None = None  # this call's alert already went out (the journal)
    holder_alerted_at: str | None = None  # when the alert holding the window went out


class Result(StrEnum):
    IGNORED = "ignored"  # another stack's job
    REJECTED = "rejected"  # a poison or orphan event: counted, not retried
    DUPLICATE = "duplicate"  # nothing left to do
    IN_PROGRESS = "in-progress"  # another invocation holds the call's lease
    TRANSCRIBING = "transcribing"  # (reconciler) the job is still running
    TRANSCRIPTION_FAILED = "transcription-failed"
    SCORING_FAILED = "scoring-failed"
    SCORED = "scored"
    ALERTED = "alerted"
    SUPPRESSED = "suppressed"  # with a message_id: a repeat call's follow-up went out instead


@dataclass(frozen=True)
class Outcome:
    result: Result
    job_name: str
    reason: str | None = None
    probability: float | None = None
    risk_level: str | None = None
    missing_features: list[str] = field(default_factory=list)
    profile_found: bool | None = None
    latency_ms: float | None = None
    message_id: str | None = None
    no_customer_speech: bool = False
    text_truncated: bool = False
    # True when this invocation called the endpoint (a scored duplicate did not).
    scored_now: bool = False
    # The alert's EventBridge copy: True put, False refused (the SNS alert went anyway), None not tried.
    event_put: bool | None = None

    def but(self, result: Result, **changes: object) -> Outcome:
        return replace(self, result=result, **changes)
