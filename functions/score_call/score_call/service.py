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
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError
from churn_contracts.calls import CallStatus, RiskLevel, risk_level
from churn_contracts.endpoint import Score, request_record, shorten_text
from churn_contracts.features import TEXT
from churn_contracts.locations import LocationError, S3Location, parse_location
from churn_contracts.profile import item_to_record
from churn_contracts.topics import CallTopics, TopicsError
from churn_contracts.transcribe import TranscriptError
from churn_lambda.logs import safe_reason
from churn_lambda.retry import Backoff, call_with_backoff

from .alert import ALERT_TYPE, Alert, PreparedAlert, follow_up
from .compose import OutcomeLinks, TranscriptLinks, base_alert, call_facts, compose_alert
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
from .offers import Advisor, explain_request, strongest_sentence, topics_document
from .transcript import excerpt, model_text
from .wording import word_reasons

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


class AlertEvents(Protocol):
    def put(self, alert: PreparedAlert) -> None: ...


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
    # Presigned links to the redacted transcript (issue 22); None: alerts carry none.
    links: TranscriptLinks | None = None
    # Signed one-click outcome links (issue 21); None: alerts carry none.
    outcome_links: OutcomeLinks | None = None
    # The alert on the stack's event bus (issue 21); None: no events.
    events: AlertEvents | None = None


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
        return _alert(call, token, profile, scored, settings, deps, now, None)
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
        document = deps.transcripts.read(location)
        text = model_text(document, settings)
    except TranscriptError as exc:
        return _scoring_failed(deps, name, token, f"unusable transcript: {exc}", now())
    text, truncated = shorten_text(text)

    profile = deps.profiles.get(str(call.customer_id))
    features = item_to_record(profile or {})  # the profile as this score used it
    started = clock()
    try:
        score = deps.scorer.score(explain_request(request_record(features, text)))
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
    )
    prepared: PreparedAlert | None = None
    if high:
        # Composed before the claim is written, and written with it: whoever publishes later
        # (a retry, the reconciler, a takeover) sends exactly these bytes.
        alert = compose_alert(
            call,
            settings,
            profile,
            reasons=list(score.reasons),
            topics=score.topics,
            facts=call_facts(call, document),
            advisor=deps.advisor,
            links=deps.links,
            transcript=location,
            moment=scored_at,
            outcome_links=deps.outcome_links,
            risk_basis=score.risk_basis,
        )
        prepared = alert.prepared()
        shown = list(alert.reasons)
    else:
        shown = word_reasons(
            list(score.reasons),
            strongest_sentence=strongest_sentence(score.topics),
            excerpts=settings.alert_excerpts,
        )
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
        topics=topics_document(score.topics, settings.alert_excerpts),
        reasons=shown,
        alert=prepared,
        scored_profile=features,
        unknown_categories=score.unknown_categories or None,
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
    return _alert(call, token, profile, scored, settings, deps, now, prepared)


def _alert(
    call: CallItem,
    token: str,
    profile: Mapping[str, Any] | None,
    scored: Outcome,
    settings: Settings,
    deps: Collaborators,
    now: Callable[[], datetime],
    prepared: PreparedAlert | None,
) -> Outcome:
    """Holding the call's alert claim: the stored alert, the quiet window, publish once, record it."""
    name, customer = call.job_name, str(call.customer_id)
    if prepared is None:
        prepared = PreparedAlert.from_item(call.raw.get("alert"))
    if prepared is None:
        # Scored before alerts were stored with the claim: composed now, from what the item
        # holds, and stored before anything is published (so a later sender sends it too).
        prepared = _released_on_error(
            lambda: _legacy_alert(call, settings, profile, deps, now()), deps, name, token
        )
        if not _released_on_error(lambda: deps.calls.store_alert(name, token, prepared), deps, name, token):
            return scored.but(Result.IN_PROGRESS, reason="another invocation took the alert over")
    moment = now()
    lease = timedelta(seconds=settings.lease_seconds)
    claim = _released_on_error(
        lambda: deps.alert_window.claim(customer, name, moment, moment + lease), deps, name, token
    )
    if claim.delivered_message_id:
        # The journal says this call's alert went out; only the call item lags behind.
        # The event may not have gone either (the invocation died after SNS): put it again, identical.
        put = _put_event(prepared, deps)
        _persist(lambda: deps.calls.mark_alerted(name, str(claim.delivered_message_id), now()), deps)
        return scored.but(
            Result.ALERTED,
            message_id=claim.delivered_message_id,
            reason="bookkeeping finished",
            event_put=put,
        )
    if claim.busy:
        _quietly(deps.calls.release_alert, name, token)
        raise WindowBusyError("another call of this customer is publishing an alert")
    if not claim.granted:
        return _follow_up(call, token, prepared, claim, scored, settings, deps, now)

    try:
        message_id = deps.publisher.publish(prepared)
    except Exception:
        _quietly(deps.alert_window.release, customer, name)
        _quietly(deps.calls.release_alert, name, token)
        raise
    delivered = now()
    # After SNS accepted the alert: the event is a copy, never a reason to withhold or resend it.
    put = _put_event(prepared, deps)
    if deps.advisor is not None and prepared.offer_id:
        _try(lambda: deps.advisor.record(customer, prepared.offer_id, name, delivered), deps)
    journal = _try(lambda: deps.alert_window.mark_delivered(customer, name, message_id, delivered), deps)
    try:
        _persist(lambda: deps.calls.mark_alerted(name, message_id, delivered), deps)
    except Exception:
        if not journal:
            log.error("Alert sent but not recorded", extra={"message_id": message_id})
        raise
    return scored.but(Result.ALERTED, message_id=message_id, event_put=put)


def _put_event(prepared: PreparedAlert, deps: Collaborators) -> bool | None:
    """The alert's EventBridge copy; a refusal is logged and counted, the SNS alert stands."""
    if deps.events is None:
        return None
    try:
        deps.events.put(prepared)
    except Exception as exc:
        log.warning("Alert event not put", extra={"error": type(exc).__name__})
        return False
    return True


def _follow_up(
    call: CallItem,
    token: str,
    prepared: PreparedAlert,
    claim: WindowClaim,
    scored: Outcome,
    settings: Settings,
    deps: Collaborators,
    now: Callable[[], datetime],
) -> Outcome:
    """A repeat call inside the quiet window: a short follow-up to the open alert (or, with
    follow-ups off, silence), then the call is marked suppressed by the open alert's call."""
    name, holder = call.job_name, claim.holder_job_name
    message_id = None
    if settings.alert_follow_ups and prepared.kind == ALERT_TYPE:
        message = follow_up(prepared.document(), holder, claim.holder_alerted_at)
        try:
            message_id = deps.publisher.publish(message)
        except Exception:
            _quietly(deps.calls.release_alert, name, token)
            raise
    _persist(lambda: deps.calls.mark_suppressed(name, token, holder, now(), message_id), deps)
    if message_id:
        return scored.but(Result.SUPPRESSED, message_id=message_id, reason=f"follow-up to {holder}")
    return scored.but(Result.SUPPRESSED, reason=f"quiet window held by {holder}")


def _legacy_alert(
    call: CallItem,
    settings: Settings,
    profile: Mapping[str, Any] | None,
    deps: Collaborators,
    moment: datetime,
) -> PreparedAlert:
    stored = call.raw.get("reasons")
    reasons = [dict(r) for r in stored if isinstance(r, Mapping)] if isinstance(stored, list) else []
    alert = compose_alert(
        call,
        settings,
        profile,
        reasons=[],
        topics=_stored_topics(call),
        facts=call_facts(call),
        advisor=deps.advisor,
        links=deps.links,
        transcript=_location(call.transcript_uri),
        moment=call.scored_at or moment,
        outcome_links=deps.outcome_links,
    )
    if reasons:
        alert = replace(alert, reasons=reasons)
    else:
        alert = replace(alert, degraded=[*alert.degraded, "reasons: not stored with this older score"])
    return alert.prepared()


def _stored_topics(call: CallItem) -> CallTopics | None:
    try:
        return CallTopics.from_dict(_plain(call.raw["topics"])) if call.raw.get("topics") else None
    except TopicsError:
        return None


def _plain(value: Any) -> Any:
    """A stored DynamoDB map as plain JSON values (Decimal -> int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _location(uri: str | None) -> S3Location | None:
    try:
        return parse_location(uri) if uri else None
    except LocationError:
        return None


def build_alert(call: CallItem, settings: Settings, profile: Mapping[str, Any] | None) -> Alert:
    """The alert from the call item and the profile alone (no reasons, no offer)."""
    return base_alert(call, settings, profile)


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
