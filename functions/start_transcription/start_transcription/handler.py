"""StartTranscriptionFunction: a recording was created -> call item + Transcribe job."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_lambda.logs import pin_library_loggers

from .adapters import clients
from .adapters.calls import CallsRepository
from .adapters.s3 import RecordingStore
from .adapters.transcribe import TranscriptionService
from .config import Settings, load_settings
from .events import parse_created_objects
from .models import CreatedObject, InvalidEventError, Outcome, Result
from .observability import logger, metrics, tracer
from .recording import extension_label, key_fingerprint
from .service import Collaborators, start_transcription

pin_library_loggers()


@cache
def settings() -> Settings:
    return load_settings()


@cache
def collaborators() -> Collaborators:
    config = settings()
    return Collaborators(
        recordings=RecordingStore(clients.client("s3")),
        transcriber=TranscriptionService(clients.client("transcribe")),
        calls=CallsRepository(clients.table(config.calls_table), retention_days=config.call_retention_days),
    )


def reset() -> None:
    """Drop cached settings and clients (tests change the environment between cases)."""
    settings.cache_clear()
    collaborators.cache_clear()
    clients.reset()


def _count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def report(obj: CreatedObject, outcome: Outcome, summary: dict[str, Any]) -> None:
    """Log and count one outcome. The key can hold names or phone numbers: only its fingerprint."""
    if outcome.result is Result.REJECTED:
        reason = outcome.rejection.value if outcome.rejection else "unknown"
        fingerprint = key_fingerprint(obj.key)
        logger.warning(
            "Recording rejected",
            extra={"reason": reason, "key_sha256": fingerprint, "extension": extension_label(obj.key)},
        )
        _count("RecordingsRejected")
        summary["rejected"].append({"reason": reason, "key_sha256": fingerprint})
    elif outcome.result is Result.FAILED:
        logger.error(
            "Transcription job refused", extra={"job_name": outcome.job_name, "reason": outcome.reason}
        )
        _count("TranscriptionsFailed")
        summary["failed"].append(outcome.job_name)
    elif outcome.result is Result.DUPLICATE:
        logger.info("Recording already handled", extra={"job_name": outcome.job_name})
        _count("DuplicateEvents")
        summary["duplicates"].append(outcome.job_name)
    else:
        logger.info("Transcription started", extra={"job_name": outcome.job_name})
        _count("TranscriptionsStarted")
        summary["started"].append(outcome.job_name)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    summary: dict[str, Any] = {"started": [], "duplicates": [], "rejected": [], "failed": [], "ignored": 0}
    try:
        created, skipped = parse_created_objects(event)
    except InvalidEventError as exc:
        # A poison event: rejected once, counted and logged, never retried into a queue.
        _count("EventsRejected")
        logger.warning("Event rejected", extra={"reason": str(exc)})
        return {**summary, "invalid": str(exc)}
    summary["ignored"] = skipped
    if skipped:
        _count("EventsIgnored", skipped)
    config, deps = settings(), collaborators()
    for obj in created:
        if obj.correlation_id:
            logger.set_correlation_id(obj.correlation_id)
        report(obj, start_transcription(obj, config, deps, now=datetime.now(UTC)), summary)
    return summary
