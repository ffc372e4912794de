"""The domain: a finished transcription job -> score -> call item -> exactly one alert (or none).

Plain functions over their collaborators (jobs, transcripts, profiles, scorer, calls, alert
window, publisher), so tests pass moto-backed adapters or fakes. The event path
(:func:`handle_job_state_change`) and the reconciler (:func:`reconcile_call`) finish a call
through the same :func:`finish_call`.

Exactly once, under faults: every step is a conditional transition on the call item. Scoring
takes a lease (one endpoint call per call); a high-risk score claims the alert in the same
write; the customer's quiet window is claimed, published to, then marked delivered (the
journal a later delivery reads so it never publishes twice). A failure gives back what it
held and raises, so Lambda retries at once; an invocation that died leaves leases that lapse,
and the next delivery or the reconciler takes over.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import ClientError
from churn_contracts.calls import CallStatus, RiskLevel, risk_level
from churn_contracts.endpoint import Score, request_record, shorten_text
from churn_contracts.features import TEXT
from churn_contracts.locations import LocationError, S3Location, parse_location
from churn_contracts.profile import item_to_record
from churn_contracts.transcribe import TranscriptError
from churn_lambda.logs import safe_reason
from churn_lambda.retry import Backoff, call_with_backoff

from .alert import Alert
from .config import Settings
from .models import (
    COMPLETED,
    FAILED,
    CallItem,
    JobState,
    ModelRejectedError,
    Outcome,
    Result,
    ScoreRecord,
    TranscriptionJob,
    TranscriptUnavailableError,
    WindowBusyError,
    WindowClaim,
)
from .offers import Advisor, explain_request
from .transcript import excerpt, model_text

log = logging.getLogger(__name__)


class Jobs(Protocol):
    def get(self, job_name: str) -> TranscriptionJob | None: ...


class Transcripts(Protocol):
    def read(self, location: S3Location) -> dict[str, Any]: ...


class Profiles(Protocol):
    def get(self, customer_id: str) -> dict[str, Any] | None: ...


class Scorer(Protocol):
    def score(self, record: Mapping[str, Any]) -> Score: ...


class Calls(Protocol):
    def get(self, job_name: str) -> CallItem | None: ...
    def mark_transcription_failed(self, job_name: str, reason: str, now: datetime) -> bool: ...
    def begin_scoring(self, job_name: str, token: str, now: datetime, lease_until: datetime) -> bool: ...
    def release_scoring(self, job_name: str, token: str) -> None: ...
    def mark_scoring_failed(self, job_name: str, token: str, reason: str, now: datetime) -> bool: ...
    def record_score(
        self, job_name: str, token: str, score: ScoreRecord, alert_lease_until: datetime | None
    ) -> bool: ...
    def claim_alert(self, job_name: str, token: str, now: datetime, lease_until: datetime) -> bool: ...
    def release_alert(self, job_name: str, token: str) -> None: ...
    def mark_suppressed(self, job_name: str, token: str, by_job: str | None, now: datetime) -> bool: ...
    def mark_alerted(self, job_name: str, message_id: str, now: datetime) -> bool: ...


class AlertWindow(Protocol):
    def claim(self, customer_id: str, job_name: str, now: datetime, lease_until: datetime) -> WindowClaim: ...
    def release(self, customer_id: str, job_name: str) -> None: ...
    def mark_delivered(self, customer_id: str, job_name: str, message_id: str, now: datetime) -> None: ...


class Publisher(Protocol):
    def publish(self, alert: Alert) -> str: ...


def _new_token() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Collaborators:
    jobs: Jobs
    transcripts: Transcripts
    profiles: Profiles
    scorer: Scorer
    calls: Calls
    alert_window: AlertWindow
    publisher: Publisher
    new_token: Callable[[], str] = _new_token
    # Bookkeeping after a publish is retried here before giving up (the journal covers the rest).
    bookkeeping: Backoff = field(default_factory=lambda: Backoff(attempts=4, base_s=0.2, cap_s=2.0))
    sleep: Callable[[float], None] = time.sleep
    # Reasons and a retention offer in the alert (issue 13); None: alerts carry neither.
    advisor: Advisor | None = None


def transcript_location(job: TranscriptionJob, settings: Settings) -> S3Location:
    """With redaction on (in the settings or on the job) only the redacted transcript is read."""
    uri = job.redacted_transcript_uri if (settings.pii_redaction or job.redacted) else job.transcript_uri
    if not uri:
        raise TranscriptUnavailableError("the job reports no transcript location of the kind required")
    try:
        location = parse_location(uri)
    except LocationError as exc:
        raise TranscriptUnavailableError(str(exc)) from None
    if location.bucket != settings.recordings_bucket:
        raise TranscriptUnavailableError("the transcript is outside the recordings bucket")
    return location


def handle_job_state_change(
    change: JobState,
    settings: Settings,
    deps: Collaborators,
    *,
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.perf_counter,
) -> Outcome:
    name = change.job_name
    if not name.startswith(settings.job_name_prefix):
        return Outcome(Result.IGNORED, name, reason="not a job of this stack")
    call = deps.calls.get(name)
    if call is None or not call.customer_id:
        # The start function writes the item before it starts a job, so this job is not ours to
        # record (and a FAILED event must not create an orphan item).
        return Outcome(Result.REJECTED, name, reason="no call item for this job")
    if change.status == FAILED:
        return transcription_failed(call, change.failure_reason, deps, now())
    return finish_call(call, settings, deps, now=now, clock=clock)


def transcription_failed(
    call: CallItem, reason: str | None, deps: Collaborators, moment: datetime
) -> Outcome:
    """Only a call still waiting for its transcript becomes TRANSCRIPTION_FAILED."""
    name = call.job_name
    if call.status != CallStatus.TRANSCRIBING:
        return Outcome(Result.DUPLICATE, name, reason=f"call is already {call.status}")
    safe = safe_reason(reason or "Transcribe reported FAILED without a reason")
    if deps.calls.mark_transcription_failed(name, safe, moment):
        return Outcome(Result.TRANSCRIPTION_FAILED, name, reason=safe)
    return Outcome(Result.DUPLICATE, name, reason="call moved on")


def finish_call(
    call: CallItem,
    settings: Settings,
    deps: Collaborators,
    *,
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.perf_counter,
    job: TranscriptionJob | None = None,
) -> Outcome:
    """Bring a call whose transcript is ready as far as it goes: scored, then alerted once."""
    name = call.job_name
    if call.terminal:
        return Outcome(Result.DUPLICATE, name)
    lease = timedelta(seconds=settings.lease_seconds)
    if call.status == CallStatus.SCORED:
        # High risk, alert not sent: a claim that lapsed, or an invocation that died after the score.
        token = deps.new_token()
        moment = now()
        if not deps.calls.claim_alert(name, token, moment, moment + lease):
            return Outcome(Result.IN_PROGRESS, name, reason="another invocation holds the alert")
        profile = _released_on_error(lambda: deps.profiles.get(str(call.customer_id)), deps, name, token)
        scored = Outcome(
            Result.SCORED,
            name,
            probability=call.probability,
            risk_level=call.risk_level,
            missing_features=list(call.missing_features),
            profile_found=profile is not None,
        )
        return _alert(call, token, profile, scored, settings, deps, now)
    if call.status not in {CallStatus.TRANSCRIBING, CallStatus.SCORING}:
        return Outcome(Result.DUPLICATE, name, reason=f"unexpected status {call.status}")

    token = deps.new_token()
    moment = now()
    if not deps.calls.begin_scoring(name, token, moment, moment + lease):
        return Outcome(Result.IN_PROGRESS, name, reason="another invocation holds the scoring lease")
    try:
        return _score(call, token, settings, deps, now, clock, job)
    except Exception:
        _quietly(deps.calls.release_scoring, name, token)
        raise


def _score(
    call: CallItem,
    token: str,
    settings: Settings,
    deps: Collaborators,
    now: Callable[[], datetime],
    clock: Callable[[], float],
    job: TranscriptionJob | None,
) -> Outcome:
    name = call.job_name
    job = job or deps.jobs.get(name)
    if job is None or job.status != COMPLETED:
        raise TranscriptUnavailableError("Transcribe does not report this job as COMPLETED")
    location = transcript_location(job, settings)
    try:
        text = model_text(deps.transcripts.read(location), settings)
    except TranscriptError as exc:
        return _scoring_failed(deps, name, token, f"unusable transcript: {exc}", now())
    text, truncated = shorten_text(text)

    profile = deps.profiles.get(str(call.customer_id))
    started = clock()
    try:
        score = deps.scorer.score(explain_request(request_record(item_to_record(profile or {}), text)))
    except ModelRejectedError as exc:
        return _scoring_failed(deps, name, token, str(exc), now())
    latency_ms = (clock() - started) * 1000.0

    missing = list(score.missing_features)
    if not text and TEXT not in missing:
        missing.append(TEXT)  # the customer said nothing: scored on the profile alone, and said so
    level = risk_level(score.probability, settings.medium_risk_threshold, settings.high_risk_threshold)
    quote = excerpt(text, settings.excerpt_max_chars) if settings.alert_excerpts and text else None
    scored_at = now()
    high = level is RiskLevel.HIGH
    record = ScoreRecord(
        probability=score.probability,
        risk_level=level.value,
        medium_threshold=settings.medium_risk_threshold,
        high_threshold=settings.high_risk_threshold,
        missing_features=missing,
        profile_found=profile is not None,
        model_version=score.model_version,
        transcript_uri=location.uri,
        scored_at=scored_at,
        latency_ms=latency_ms,
        excerpt=quote,
        text_truncated=truncated,
    )
    alert_until = scored_at + timedelta(seconds=settings.lease_seconds) if high else None
    if not deps.calls.record_score(name, token, record, alert_until):
        return Outcome(
            Result.DUPLICATE, name, reason="the scoring lease lapsed; another invocation took over"
        )
    scored = Outcome(
        Result.SCORED,
        name,
        probability=score.probability,
        risk_level=level.value,
        missing_features=missing,
        profile_found=profile is not None,
        latency_ms=latency_ms,
        no_customer_speech=not text,
        text_truncated=truncated,
        scored_now=True,
    )
    if not high:
        return scored
    call = replace(
        call,
        status=CallStatus.SCORED.value,
        probability=score.probability,
        risk_level=level.value,
        missing_features=missing,
        profile_found=profile is not None,
        model_version=score.model_version,
        transcript_uri=location.uri,
        scored_at=scored_at,
        excerpt=quote,
        raw={**call.raw, "reasons": list(score.reasons)},  # for the alert only, not stored
    )
    return _alert(call, token, profile, scored, settings, deps, now)


def _alert(
    call: CallItem,
    token: str,
    profile: Mapping[str, Any] | None,
    scored: Outcome,
    settings: Settings,
    deps: Collaborators,
    now: Callable[[], datetime],
) -> Outcome:
    """Holding the call's alert claim: the quiet window, then publish once, then record it."""
    name, customer = call.job_name, str(call.customer_id)
    moment = now()
    lease = timedelta(seconds=settings.lease_seconds)
    claim = _released_on_error(
        lambda: deps.alert_window.claim(customer, name, moment, moment + lease), deps, name, token
    )
    if claim.delivered_message_id:
        # The journal says this call's alert went out; only the call item lags behind.
        _persist(lambda: deps.calls.mark_alerted(name, str(claim.delivered_message_id), now()), deps)
        return scored.but(
            Result.ALERTED, message_id=claim.delivered_message_id, reason="bookkeeping finished"
        )
    if claim.busy:
        _quietly(deps.calls.release_alert, name, token)
        raise WindowBusyError("another call of this customer is publishing an alert")
    if not claim.granted:
        deps.calls.mark_suppressed(name, token, claim.holder_job_name, now())
        return scored.but(Result.SUPPRESSED, reason=f"quiet window held by {claim.holder_job_name}")

    try:
        alert = build_alert(call, settings, profile)
        if deps.advisor is not None:
            reasons = list(call.raw.get("reasons") or [])
            alert = deps.advisor.advise(alert, reasons, item_to_record(profile or {}), now())
        message_id = deps.publisher.publish(alert)
    except Exception:
        _quietly(deps.alert_window.release, customer, name)
        _quietly(deps.calls.release_alert, name, token)
        raise
    delivered = now()
    if deps.advisor is not None and alert.offer:
        _try(lambda: deps.advisor.record(alert, delivered), deps)
    journal = _try(lambda: deps.alert_window.mark_delivered(customer, name, message_id, delivered), deps)
    try:
        _persist(lambda: deps.calls.mark_alerted(name, message_id, delivered), deps)
    except Exception:
        if not journal:
            log.error("Alert sent but not recorded", extra={"message_id": message_id})
        raise
    return scored.but(Result.ALERTED, message_id=message_id)


def build_alert(call: CallItem, settings: Settings, profile: Mapping[str, Any] | None) -> Alert:
    record = item_to_record(profile or {})
    scored_at = call.scored_at
    return Alert(
        customer_id=str(call.customer_id),
        call_id=str(call.call_id or ""),
        job_name=call.job_name,
        probability=float(call.probability or 0.0),
        risk_level=str(call.risk_level),
        medium_threshold=settings.medium_risk_threshold,
        high_threshold=settings.high_risk_threshold,
        profile_found=profile is not None,
        plan=record.get("plan"),
        limit=record.get("limit"),
        account_length=record.get("Account Length"),
        customer_service_calls=record.get("CustServ Calls"),
        missing_features=list(call.missing_features),
        excerpt=call.excerpt if settings.alert_excerpts else None,
        recording_uri=call.recording_uri,
        transcript_uri=str(call.transcript_uri or ""),
        model_version=str(call.model_version or "unknown"),
        scored_at=scored_at.isoformat(timespec="seconds").replace("+00:00", "Z") if scored_at else "",
    )


def reconcile_call(
    call: CallItem,
    settings: Settings,
    deps: Collaborators,
    *,
    now: Callable[[], datetime],
    clock: Callable[[], float] = time.perf_counter,
) -> Outcome:
    """A call the events left in flight: ask Transcribe, then finish it as the event path would."""
    name = call.job_name
    if call.status == CallStatus.TRANSCRIBING:
        job = deps.jobs.get(name)
        if job is None:
            # The start function's retry (or a redrive) may still start it: left as it is, and
            # counted as stuck once old enough, rather than closed behind the redrive's back.
            return Outcome(Result.TRANSCRIBING, name, reason="Transcribe has no such job yet")
        if job.status == FAILED:
            return transcription_failed(call, job.failure_reason, deps, now())
        if job.status != COMPLETED:
            return Outcome(Result.TRANSCRIBING, name, reason=f"job is {job.status}")
        return finish_call(call, settings, deps, now=now, clock=clock, job=job)
    return finish_call(call, settings, deps, now=now, clock=clock)


def _scoring_failed(deps: Collaborators, name: str, token: str, reason: str, moment: datetime) -> Outcome:
    safe = safe_reason(reason, 300)
    if not deps.calls.mark_scoring_failed(name, token, safe, moment):
        return Outcome(
            Result.DUPLICATE, name, reason="the scoring lease lapsed; another invocation took over"
        )
    return Outcome(Result.SCORING_FAILED, name, reason=safe)


def _released_on_error(step: Callable[[], Any], deps: Collaborators, name: str, token: str) -> Any:
    try:
        return step()
    except Exception:
        _quietly(deps.calls.release_alert, name, token)
        raise


def _quietly(release: Callable[..., None], *args: Any) -> None:
    """Giving a claim back is best effort: if it fails, the claim's lease lapses instead."""
    try:
        release(*args)
    except Exception as exc:  # the original error is the one to raise
        log.warning("Could not release a claim; its lease will lapse", extra={"error": type(exc).__name__})


def _transient(exc: Exception) -> bool:
    return isinstance(exc, ClientError)


def _persist(step: Callable[[], Any], deps: Collaborators) -> None:
    call_with_backoff(step, retryable=_transient, backoff=deps.bookkeeping, sleep=deps.sleep)


def _try(step: Callable[[], Any], deps: Collaborators) -> bool:
    try:
        _persist(step, deps)
    except Exception as exc:  # the call item write below still records the alert
        log.warning("Could not write the alert journal", extra={"error": type(exc).__name__})
        return False
    return True
