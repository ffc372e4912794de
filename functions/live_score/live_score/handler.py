"""LiveScoreFunction: a Kinesis batch of Contact Lens segment events -> running scores per contact.

Partial batch responses (``ReportBatchItemFailures``): a record that fails is reported by its
sequence number and the rest of the batch still counts; the event source mapping retries from
the first failed record (redelivered records after it change nothing: segment ids), bisects,
and sends what keeps failing to the on-failure destination. A malformed record fails alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_lambda.logs import pin_library_loggers
from churn_lambda.wiring import Wiring

from .adapters import clients
from .adapters.bus import RiskEvents
from .adapters.contacts import ContactsRepository
from .adapters.directory import ConnectDirectory
from .adapters.endpoint import EndpointScorer
from .adapters.profiles import ProfileStore
from .adapters.window import QuietWindow
from .config import Settings, load_settings
from .events import decode_record, parse_segment_event
from .models import InvalidRecordError, Outcome
from .observability import logger, metrics, tracer
from .service import Collaborators, handle_event

pin_library_loggers()


def _build(config: Settings) -> Collaborators:
    return Collaborators(
        contacts=ContactsRepository(
            clients.table(config.contacts_table), timedelta(hours=config.contact_ttl_hours)
        ),
        profiles=ProfileStore(clients.table(config.profiles_table)),
        scorer=EndpointScorer(clients.client("sagemaker-runtime"), config.endpoint_name),
        events=RiskEvents(clients.client("events"), config.event_bus_name),
        window=QuietWindow(
            clients.table(config.customer_alerts_table), timedelta(days=config.alert_suppression_days)
        ),
        directory=ConnectDirectory(clients.client("connect"), config.customer_id_attribute),
    )


_WIRING = Wiring(load_settings, _build, clients.reset)
settings = _WIRING.settings
collaborators = _WIRING.collaborators
reset = _WIRING.reset


def _now() -> datetime:
    return datetime.now(UTC)


def _count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def report(outcome: Outcome) -> None:
    """Count and log one record's outcome: ids, numbers and reasons, never the customer's words."""
    if outcome.new_turns:
        _count("LiveCustomerTurns", outcome.new_turns)
    if outcome.scored:
        _count("LiveScores")
    if outcome.published:
        _count("LiveRiskUpdates")
    if outcome.result == "duplicate":
        _count("LiveDuplicateRecords")
    if outcome.reason and not outcome.scored:
        _count("LiveScoreDeferred" if "unavailable" in outcome.reason else "LiveCallsClosedWithReason")
    logger.info(
        "Segment event",
        extra={
            "contact_id": outcome.contact_id,
            "result": outcome.result,
            "new_turns": outcome.new_turns,
            "scored": outcome.scored,
            "published": outcome.published,
            "risk_level": outcome.risk_level,
            "reason": outcome.reason,
            **outcome.details,
        },
    )


def record_handler(record: KinesisStreamRecord) -> Outcome:
    try:
        event = parse_segment_event(decode_record(record.kinesis.data))
    except InvalidRecordError as exc:
        _count("LiveRecordsRejected")
        logger.warning(
            "Record rejected",
            extra={"sequence_number": record.kinesis.sequence_number, "reason": str(exc)},
        )
        raise
    outcome = handle_event(event, settings(), collaborators(), now=_now)
    report(outcome)
    return outcome


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # A processor per invocation: it holds the batch's results (one invocation at a time on Lambda,
    # but the local event source mapping may run shards side by side).
    processor = BatchProcessor(event_type=EventType.KinesisDataStreams)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
