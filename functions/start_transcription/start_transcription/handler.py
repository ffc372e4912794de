"""StartTranscriptionFunction: a recording was created -> call item + Transcribe job."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .adapters import clients
from .adapters.calls import CallsRepository
from .adapters.s3 import RecordingStore
from .adapters.transcribe import TranscriptionService
from .config import Settings, load_settings
from .events import parse_created_objects
from .observability import logger, metrics, tracer
from .recording import extension_label, key_fingerprint
from .service import Result, start_transcription


@cache
def settings() -> Settings:
    return load_settings()


@cache
def collaborators() -> dict[str, Any]:
    config = settings()
    table = boto3.resource("dynamodb").Table(config.calls_table)
    return {
        "recordings": RecordingStore(clients.client("s3")),
        "transcriber": TranscriptionService(clients.client("transcribe")),
        "calls": CallsRepository(table, retention_days=config.call_retention_days),
    }


def reset() -> None:
    """Drop cached settings and clients (tests change the environment between cases)."""
    settings.cache_clear()
    collaborators.cache_clear()
    clients.reset()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    created, skipped = parse_created_objects(event)
    config = settings()
    deps = collaborators()
    summary: dict[str, Any] = {
        "started": [],
        "duplicates": [],
        "rejected": [],
        "failed": [],
        "ignored": skipped,
    }
    if skipped:
        metrics.add_metric(name="EventsIgnored", unit=MetricUnit.Count, value=skipped)
    for obj in created:
        if obj.correlation_id:
            logger.set_correlation_id(obj.correlation_id)
        outcome = start_transcription(obj, config, now=datetime.now(UTC), **deps)
        if outcome.result is Result.REJECTED:
            reason = outcome.rejection.value if outcome.rejection else "unknown"
            # The key itself can hold names or phone numbers: log its fingerprint only.
            logger.warning(
                "Recording rejected",
                extra={
                    "reason": reason,
                    "key_sha256": key_fingerprint(obj.key),
                    "extension": extension_label(obj.key),
                },
            )
            metrics.add_metric(name="RecordingsRejected", unit=MetricUnit.Count, value=1)
            summary["rejected"].append({"reason": reason, "key_sha256": key_fingerprint(obj.key)})
        elif outcome.result is Result.FAILED:
            logger.error(
                "Transcription job refused", extra={"job_name": outcome.job_name, "reason": outcome.reason}
            )
            metrics.add_metric(name="TranscriptionsFailed", unit=MetricUnit.Count, value=1)
            summary["failed"].append(outcome.job_name)
        elif outcome.result is Result.DUPLICATE:
            logger.info("Recording already handled", extra={"job_name": outcome.job_name})
            metrics.add_metric(name="DuplicateEvents", unit=MetricUnit.Count, value=1)
            summary["duplicates"].append(outcome.job_name)
        else:
            logger.info("Transcription started", extra={"job_name": outcome.job_name})
            metrics.add_metric(name="TranscriptionsStarted", unit=MetricUnit.Count, value=1)
            summary["started"].append(outcome.job_name)
    return summary
