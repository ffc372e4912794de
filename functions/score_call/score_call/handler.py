"""ScoreCallFunction: a Transcribe job finished -> score the call -> store -> maybe alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_lambda.logs import pin_library_loggers
from churn_lambda.wiring import Wiring

from .adapters import clients
from .adapters.alerts import AlertEvents, AlertPublisher, KmsOutcomeLinks, S3TranscriptLinks
from .adapters.calls import CallsRepository
from .adapters.endpoint import EndpointScorer
from .adapters.offers import advisor_from_env
from .adapters.profiles import ProfileStore
from .adapters.suppression import AlertWindow
from .adapters.transcribe import TranscriptionJobs
from .adapters.transcripts import TranscriptStore
from .config import Settings, load_settings
from .events import parse_job_state_change
from .models import COMPLETED, InvalidEventError, Outcome, Result
from .observability import logger, metrics, tracer
from .service import Collaborators, handle_job_state_change

pin_library_loggers()


def _build(config: Settings) -> Collaborators:
    return Collaborators(
        jobs=TranscriptionJobs(clients.client("transcribe")),
        transcripts=TranscriptStore(clients.client("s3")),
        profiles=ProfileStore(clients.table(config.profiles_table)),
        scorer=EndpointScorer(clients.client("sagemaker-runtime"), config.endpoint_name),
        calls=CallsRepository(clients.table(config.calls_table), retention_days=config.call_retention_days),
        alert_window=AlertWindow(
            clients.table(config.customer_alerts_table), timedelta(days=config.alert_suppression_days)
        ),
        publisher=AlertPublisher(clients.client("sns"), config.alert_topic_arn),
        advisor=advisor_from_env(clients.client, clients.table),
        links=S3TranscriptLinks(clients.presigning_s3()),
        outcome_links=(
            KmsOutcomeLinks(clients.client("kms"), config.outcome_link_key_id, config.outcome_link_base_url)
            if config.outcome_link_key_id and config.outcome_link_base_url
            else None
        ),
        events=AlertEvents(clients.client("events"), config.alert_event_bus)
        if config.alert_event_bus
        else None,
    )


_WIRING = Wiring(load_settings, _build, clients.reset)
settings = _WIRING.settings
collaborators = _WIRING.collaborators
reset = _WIRING.reset


def _now() -> datetime:
    return datetime.now(UTC)


def _count(name: str, value: float = 1, unit: MetricUnit = MetricUnit.Count) -> None:
    metrics.add_metric(name=name, unit=unit, value=value)


def report(outcome: Outcome, *, completed: bool = True) -> dict[str, Any]:
    """Log and count one outcome (ids, numbers and reasons only: never the transcript or profile)."""
    details: dict[str, Any] = {"result": outcome.result.value}
    if outcome.reason:
        details["reason"] = outcome.reason
    result = outcome.result
    if completed and outcome.scored_now:
        _count("CallsTranscribed")
    if result is Result.TRANSCRIPTION_FAILED:
        _count("TranscriptionsFailed")
        logger.warning("Transcription failed", extra=details)
    elif result is Result.SCORING_FAILED:
        _count("ScoringFailed")
        logger.warning("Scoring failed", extra=details)
    elif result is Result.REJECTED:
        _count("EventsRejected")
        logger.warning("Event rejected", extra=details)
    elif result is Result.IGNORED:
        _count("EventsIgnored")
        logger.info("Not a job of this stack", extra=details)
    elif result in {Result.DUPLICATE, Result.IN_PROGRESS}:
        _count("DuplicateEvents")
        logger.info("Nothing to do", extra=details)
    elif result is Result.TRANSCRIBING:
        logger.info("Still transcribing", extra=details)
    if outcome.probability is not None:
        details.update(
            probability=round(outcome.probability, 4),
            risk_level=outcome.risk_level,
            profile_found=outcome.profile_found,
            missing_features=len(outcome.missing_features),
        )
        if outcome.scored_now:
            _count("CallsScored")
            _count("MissingFeatures", len(outcome.missing_features))
            if outcome.latency_ms is not None:
                _count("ScoringLatency", round(outcome.latency_ms, 1), MetricUnit.Milliseconds)
            if outcome.no_customer_speech:
                _count("NoCustomerSpeech")
            if outcome.text_truncated:
                _count("TextTruncated")
        if outcome.event_put is True:
            _count("AlertEventsPut")
        elif outcome.event_put is False:
            _count("AlertEventsFailed")
        if result is Result.ALERTED:
            _count("HighRiskAlerts")
        elif result is Result.SUPPRESSED:
            _count("AlertsSuppressed")
            if outcome.message_id:
                _count("AlertFollowUps")
        logger.info("Call scored", extra=details)
    return {"job_name": outcome.job_name, **details}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        change = parse_job_state_change(event)
    except InvalidEventError as exc:
        # A poison event: rejected once, counted and logged, never retried into a queue.
        _count("EventsRejected")
        logger.warning("Event rejected", extra={"result": Result.REJECTED.value, "reason": str(exc)})
        return {"job_name": None, "result": Result.REJECTED.value, "reason": str(exc)}
    logger.append_keys(job_name=change.job_name)
    outcome = handle_job_state_change(change, settings(), collaborators(), now=_now)
    return report(outcome, completed=change.status == COMPLETED)
