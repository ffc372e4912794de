"""The LiveCalls resources, created in local AWS from the template's own properties.

moto's CloudFormation cannot deploy them yet (a Rule on a custom bus by Ref fails inside moto;
ApiGatewayV2 has no moto model), so the local stack deploys the post-call template and this module
makes the live stream, tables, bus and rule through the services' APIs, with the key schemas,
indexes and TTL read from template.yaml. The bus rule delivers to an SQS queue, read by
:mod:`churn_local.live.bus` (as the local stack delivers its EventBridge rules).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_ops.template_rules import load_template

TABLES = ("LiveContactsTable", "AgentConnectionsTable")


@dataclass(frozen=True)
class LiveResources:
    stream_name: str
    stream_arn: str
    contacts_table: str
    connections_table: str
    bus_name: str
    updates_queue_url: str
    failures_queue_url: str
    failures_queue_arn: str


def _table_request(name: str, props: dict[str, Any]) -> dict[str, Any]:
    request = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return request


def create(client: Any, template: str | Path = "template.yaml", prefix: str = "churn-local") -> LiveResources:
    """Make the live resources; ``client(service)`` returns a boto3 client on local AWS."""
    resources = load_template(Path(template))["Resources"]
    suffix = uuid.uuid4().hex[:6]
    dynamodb = client("dynamodb")
    names = {}
    for logical_id in TABLES:
        props = resources[logical_id]["Properties"]
        names[logical_id] = f"{prefix}-{logical_id}-{suffix}"
        dynamodb.create_table(**_table_request(names[logical_id], props))
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=names[logical_id], TimeToLiveSpecification=ttl)

    stream = resources["LiveSegmentsStream"]["Properties"]
    kinesis = client("kinesis")
    stream_name = f"{prefix}-LiveSegmentsStream-{suffix}"
    kinesis.create_stream(StreamName=stream_name, StreamModeDetails=stream["StreamModeDetails"])
    kinesis.start_stream_encryption(StreamName=stream_name, EncryptionType="KMS", KeyId="alias/aws/kinesis")
    stream_arn = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"][
        "StreamARN"
    ]

    sqs = client("sqs")
    failures = sqs.create_queue(QueueName=f"{prefix}-LiveScoreFailuresQueue-{suffix}")["QueueUrl"]
    failures_arn = sqs.get_queue_attributes(QueueUrl=failures, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    updates = sqs.create_queue(QueueName=f"{prefix}-AgentPush-delivery-{suffix}")["QueueUrl"]
    updates_arn = sqs.get_queue_attributes(QueueUrl=updates, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]

    events = client("events")
    bus = f"{prefix}-live-{suffix}"
    events.create_event_bus(Name=bus)
    pattern = resources["AgentPushFunction"]["Properties"]["Events"]["RiskUpdated"]["Properties"]["Pattern"]
    events.put_rule(
        Name=f"{prefix}-risk-updated-{suffix}", EventBusName=bus, EventPattern=json.dumps(pattern)
    )
    events.put_targets(
        Rule=f"{prefix}-risk-updated-{suffix}",
        EventBusName=bus,
        Targets=[{"Id": "AgentPush", "Arn": updates_arn}],
    )
    return LiveResources(
        stream_name,
        stream_arn,
        names["LiveContactsTable"],
        names["AgentConnectionsTable"],
        bus,
        updates,
        failures,
        failures_arn,
    )


def mapping_settings(template: str | Path = "template.yaml") -> dict[str, Any]:
    """LiveScoreFunction's Kinesis event properties as the template sets them."""
    resources = load_template(Path(template))["Resources"]
    return dict(resources["LiveScoreFunction"]["Properties"]["Events"]["Segments"]["Properties"])
