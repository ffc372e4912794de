"""The domain: a finished transcription job -> score -> call item -> (maybe) one alert.

Plain functions over their collaborators (jobs, transcripts, profiles, scorer, calls,
alert window, publisher), so tests can pass moto-backed adapters or fakes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from churn_contracts.calls import RiskLevel, risk_level
from churn_contracts.features import TEXT
from churn_contracts.profile import item_to_record
from churn_contracts.transcribe import TranscriptError

from .adapters.calls import CallRecord, ScoreRecord
from .adapters.endpoint import ModelRejectedError, Score
from .adapters.suppression import Claim
from .adapters.transcribe import TranscriptionJob
from .adapters.transcripts import S3Location, TranscriptLocationError, parse_location
from .alert import Alert
from .config import Settings
from .events import FAILED, JobStateChange
from .transcript import excerpt, model_text

# A PENDING alert claim older than this was left by an invocation that died mid-publish.
STALE_CLAIM = timedelta(minutes=5)


class Jobs(Protocol):
    def get(self, job_name: str) -> TranscriptionJob: ...


class Transcripts(Protocol):
    def read(self, location: S3Location) -> dict[str, Any]: ...


class Profiles(Protocol):
    def get(self, customer_id: str) -> dict[str, Any] | None: ...


class Scorer(Protocol):
    def score(self, record: Mapping[str, Any]) -> Score: ...


class Calls(Protocol):
    def get(self, job_name: str) -> CallRecord | None: ...
    def mark_transcription_failed(self, job_name: str, reason: str, now: datetime) -> None: ...
    def mark_scoring_failed(self, job_name: str, reason: str, now: datetime) -> bool: ...
    def record_score(self, job_name: str, score: ScoreRecord) -> bool: ...
    def mark_suppressed(self, job_name: str, by_job: str | None, now: datetime) -> None: ...
    def claim_alert(self, job_name: str, now: datetime, stale_before: datetime) -> bool: ...
    def release_alert(self, job_name: str, claimed_at: datetime) -> None: ...
    def mark_alerted(self, job_name: str, message_id: str, now: datetime) -> None: ...


class AlertWindow(Protocol):
    def claim(self, customer_id: str, job_name: str, now: datetime) -> Claim: ...


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str: ...


class CallNotFoundError(LookupError):
    """No call item for this job: the start function never recorded it. Raised, so the
    event is kept on the on-failure queue rather than scored without a customer."""


class TranscriptUnavailableError(RuntimeError):
    """The job reports no transcript we may read; raised so the event is retried, then kept."""


class Result(StrEnum):
    TRANSCRIPTION_FAILED = "transcription-failed"
    IGNORED = "ignored"
    DUPLICATE = "duplicate"
    SCORING_FAILED = "scoring-failed"
    SCORED = "scored"
    ALERTED = "alerted"
    SUPPRESSED = "suppressed"


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


@dataclass(frozen=True)
class Collaborators:
    jobs: Jobs
    transcripts: Transcripts
    profiles: Profiles
    scorer: Scorer
    calls: Calls
    alert_window: AlertWindow
    publisher: Publisher


def transcript_location(job: TranscriptionJob, settings: Settings) -> S3Location:
    """With redaction on (in the settings or on the job) only the redacted transcript is read."""
    uri = job.redacted_transcript_uri if (settings.pii_redaction or job.redacted) else job.transcript_uri
    if not uri:
        raise TranscriptUnavailableError("the job reports no transcript location of the kind required")
    try:
        location = parse_location(uri)
    except TranscriptLocationError as exc:
        raise TranscriptUnavailableError(str(exc)) from None
    if location.bucket != settings.recordings_bucket:
        raise TranscriptUnavailableError("the transcript is outside the recordings bucket")
    return location


def score_record(profile: Mapping[str, Any] | None, text: str) -> dict[str, Any]:
    """The endpoint's record: the profile's feature values (absent -> null) plus the text."""
    record = item_to_record(profile or {})
    record[TEXT] = text
    return record


def handle_job_state_change(
    change: JobStateChange,
    settings: Settings,
    deps: Collaborators,
    *,
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.perf_counter,
) -> Outcome:
    name = change.job_name
    if not name.startswith(settings.job_name_prefix):
        return Outcome(Result.IGNORED, name, reason="not a job of this stack")
    if change.status == FAILED:
        reason = change.failure_reason or "Transcribe reported FAILED without a reason"
        deps.calls.mark_transcription_failed(name, reason, now())
        return Outcome(Result.TRANSCRIPTION_FAILED, name, reason=reason)

    call = deps.calls.get(name)
    if call is None or not call.customer_id:
        raise CallNotFoundError(f"no call item for job {name}")
    if call.finished:
        return Outcome(Result.DUPLICATE, name)

    job = deps.jobs.get(name)
    location = transcript_location(job, settings)
    try:
        text = model_text(deps.transcripts.read(location), settings)
    except TranscriptError as exc:
        return _scoring_failed(deps, name, f"unusable transcript: {exc}", now())

    profile = deps.profiles.get(call.customer_id)
    started = clock()
    try:
        score = deps.scorer.score(score_record(profile, text))
    except ModelRejectedError as exc:
        return _scoring_failed(deps, name, str(exc), now())
    latency_ms = (clock() - started) * 1000.0

    level = risk_level(score.probability, settings.medium_risk_threshold, settings.high_risk_threshold)
    quote = excerpt(text, settings.excerpt_max_chars) if settings.alert_excerpts and text else None
    scored_at = now()
    stored = deps.calls.record_score(
        name,
        ScoreRecord(
            probability=score.probability,
            risk_level=level.value,
            medium_threshold=settings.medium_risk_threshold,
            high_threshold=settings.high_risk_threshold,
            missing_features=score.missing_features,
            profile_found=profile is not None,
            model_version=score.model_version,
            transcript_uri=location.uri,
            scored_at=scored_at,
            latency_ms=latency_ms,
            excerpt=quote,
        ),
    )
    scored = Outcome(
        Result.SCORED,
        name,
        probability=score.probability,
        risk_level=level.value,
        missing_features=score.missing_features,
        profile_found=profile is not None,
        latency_ms=latency_ms,
    )
    if not stored:
        return _replace(scored, Result.DUPLICATE)
    if level is not RiskLevel.HIGH:
        return scored

    claim = deps.alert_window.claim(call.customer_id, name, scored_at)
    if not claim.granted:
        deps.calls.mark_suppressed(name, claim.holder_job_name, now())
        return _replace(scored, Result.SUPPRESSED)

    claimed_at = now()
    if not deps.calls.claim_alert(name, claimed_at, claimed_at - STALE_CLAIM):
        return _replace(scored, Result.DUPLICATE)
    alert = _alert(call, name, score, level, settings, profile, quote, location, scored_at)
    try:
        message_id = deps.publisher.publish(alert)
    except Exception:
        deps.calls.release_alert(name, claimed_at)
        raise
    deps.calls.mark_alerted(name, message_id, now())
    return Outcome(**{**scored.__dict__, "result": Result.ALERTED, "message_id": message_id})


def _replace(outcome: Outcome, result: Result) -> Outcome:
    return Outcome(**{**outcome.__dict__, "result": result})


def _scoring_failed(deps: Collaborators, name: str, reason: str, moment: datetime) -> Outcome:
    deps.calls.mark_scoring_failed(name, reason, moment)
    return Outcome(Result.SCORING_FAILED, name, reason=reason)


def _alert(
    call: CallRecord,
    name: str,
    score: Score,
    level: RiskLevel,
    settings: Settings,
    profile: Mapping[str, Any] | None,
    quote: str | None,
    location: S3Location,
    scored_at: datetime,
) -> Alert:
    record = item_to_record(profile or {})
    return Alert(
        customer_id=str(call.customer_id),
        call_id=str(call.call_id or ""),
        job_name=name,
        probability=score.probability,
        risk_level=level.value,
        medium_threshold=settings.medium_risk_threshold,
        high_threshold=settings.high_risk_threshold,
        profile_found=profile is not None,
        plan=record.get("plan"),
        limit=record.get("limit"),
        account_length=record.get("Account Length"),
        customer_service_calls=record.get("CustServ Calls"),
        missing_features=score.missing_features,
        excerpt=quote,
        recording_uri=call.recording_uri,
        transcript_uri=location.uri,
        model_version=score.model_version,
        scored_at=scored_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
