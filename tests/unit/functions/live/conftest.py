"""The live function over in-process moto: contacts, profiles and quiet-window tables, an event
bus whose rule delivers to an SQS queue (what an agent-push target would read), a clock."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from churn_lambda.retry import Backoff
from live_score.adapters.bus import RiskEvents
from live_score.adapters.connections import BY_CONNECTION, Connections
from live_score.adapters.contacts import ContactsRepository
from live_score.adapters.endpoint import EndpointScorer
from live_score.adapters.profiles import ProfileStore
from live_score.adapters.window import QuietWindow
from live_score.config import Settings
from live_score.models import DETAIL_TYPE, EVENT_SOURCE
from live_score.service import Collaborators
from moto import mock_aws

from tests.unit.functions.score_support import CannedRuntime

CONTACTS = "live-contacts"
PROFILES = "live-profiles"
ALERTS = "live-customer-alerts"
BUS = "live-bus"
INSTANCE = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"


@dataclass
class Clock:
    moment: datetime = field(default_factory=lambda: datetime(2026, 12, 7, 0, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class Directory:
    """Amazon Connect's contact attributes as the contact flow set them (moto has no Connect)."""

    def __init__(self, customers: dict[str, str]) -> None:
        self.customers = customers
        self.calls = 0

    def customer_id(self, instance_id: str, contact_id: str) -> str | None:
        self.calls += 1
        return self.customers.get(contact_id)


@dataclass
class Live:
    dynamodb: Any
    events: Any
    sqs: Any
    queue_url: str
    runtime: CannedRuntime
    clock: Clock
    directory: Directory
    settings: Settings
    deps: Collaborators

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        return (
            self.dynamodb.Table(CONTACTS)
            .get_item(Key={"contact_id": contact_id}, ConsistentRead=True)
            .get("Item")
        )

    def updates(self) -> list[dict[str, Any]]:
        """Every ``Churn Risk Updated`` detail the bus delivered so far (drained)."""
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return out
            for message in batch:
                body = json.loads(message["Body"])
                assert body["detail-type"] == DETAIL_TYPE and body["source"] == EVENT_SOURCE
                out.append(body["detail"])
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


def settings(**overrides: Any) -> Settings:
    values = dict(
        contacts_table=CONTACTS,
        profiles_table=PROFILES,
        customer_alerts_table=ALERTS,
        endpoint_name="churn-risk",
        event_bus_name=BUS,
        medium_risk_threshold=0.35,
        high_risk_threshold=0.6,
        rescore_interval_seconds=5.0,
        contact_ttl_hours=12.0,
        alert_suppression_days=7.0,
    )
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def live(aws_env: None, sdk: dict[str, Any]) -> Iterator[Live]:
    import boto3

    with mock_aws():
        dynamodb = sdk["dynamodb"]
        for name, key in ((CONTACTS, "contact_id"), (PROFILES, "customer_id"), (ALERTS, "customer_id")):
            dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        dynamodb.Table(PROFILES).put_item(Item={"customer_id": "C-1", "Account Length": 12, "plan": "B"})
        events = boto3.client("events", region_name="us-east-1")
        sqs = sdk["sqs"]
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="agent-updates")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="risk-updates",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [DETAIL_TYPE]}),
        )
        events.put_targets(Rule="risk-updates", EventBusName=BUS, Targets=[{"Id": "q", "Arn": queue_arn}])
        config = settings()
        clock = Clock()
        runtime = CannedRuntime()
        directory = Directory({"contact-1": "C-1", "contact-2": "C-2"})
        deps = Collaborators(
            contacts=ContactsRepository(dynamodb.Table(CONTACTS), timedelta(hours=config.contact_ttl_hours)),
            profiles=ProfileStore(dynamodb.Table(PROFILES)),
            scorer=EndpointScorer(runtime, config.endpoint_name, Backoff(attempts=3, base_s=0.0, cap_s=0.0)),
            events=RiskEvents(events, BUS),
            window=QuietWindow(dynamodb.Table(ALERTS), timedelta(days=config.alert_suppression_days)),
            directory=directory,
        )
        yield Live(dynamodb, events, sqs, queue_url, runtime, clock, directory, config, deps)


# --- Contact Lens events in the documented shape ------------------------------------------


def envelope(contact_id: str, event_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "Version": "1.0.0",
        "Channel": "VOICE",
        "AccountId": "123456789012",
        "InstanceId": INSTANCE,
        "ContactId": contact_id,
        "LanguageCode": "en-US",
        "EventType": event_type,
        **extra,
    }


def final(segment_id: str, role: str, content: str, begin_ms: int) -> dict[str, Any]:
    return {
        "Transcript": {
            "Id": segment_id,
            "ParticipantId": role,
            "ParticipantRole": role,
            "Content": content,
            "BeginOffsetMillis": begin_ms,
            "EndOffsetMillis": begin_ms + 2000,
            "Sentiment": "NEUTRAL",
        }
    }


def partial(segment_id: str, role: str, content: str, begin_ms: int) -> dict[str, Any]:
    return {
        "Utterance": {
            "Id": f"u-{segment_id}",
            "TranscriptId": segment_id,
            "ParticipantId": role,
            "ParticipantRole": role,
            "PartialContent": content,
            "BeginOffsetMillis": begin_ms,
            "EndOffsetMillis": begin_ms + 1000,
        }
    }


def segments(contact_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return envelope(contact_id, "SEGMENTS", Segments=list(items))


def kinesis_record(payload: Any, sequence: int, *, raw: bytes | None = None) -> dict[str, Any]:
    """One record as Lambda's Kinesis event carries it (tests/fixtures/formats/kinesis-event-contact-lens.json)."""
    data = raw if raw is not None else json.dumps(payload).encode()
    seq = f"4959033827149025660855969253836157109592157598913{sequence:07d}"
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": payload.get("ContactId", "x") if isinstance(payload, dict) else "x",
            "sequenceNumber": seq,
            "data": base64.b64encode(data).decode(),
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"shardId-000000000000:{seq}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": "arn:aws:iam::123456789012:role/live",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/live",
    }


def connections_table(dynamodb: Any) -> Connections:
    """The agents' connections table as the template declares it: contact and connection, and the
    connection's own index (a disconnect knows only its connection id)."""
    table = dynamodb.create_table(
        TableName="connections",
        KeySchema=[
            {"AttributeName": "contact_id", "KeyType": "HASH"},
            {"AttributeName": "connection_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "contact_id", "AttributeType": "S"},
            {"AttributeName": "connection_id", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": BY_CONNECTION,
                "KeySchema": [{"AttributeName": "connection_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return Connections(table)
