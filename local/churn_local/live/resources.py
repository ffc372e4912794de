"""The LiveCalls resources, as the local stack deployed them (``LocalStack(parameters={"LiveCalls": "true"})``).

moto's CloudFormation creates the stream, the tables (their TTL applied by the stack), the live
bus and its rule, the failure queue, the five functions and their roles from template.yaml. What
it cannot create is listed in ``churn_local.spec.NOT_CREATED`` (the agents' WebSocket API:
:mod:`churn_local.live.socket` serves it). This module reads the deployed names back and fills the
one gap the live path needs: moto creates the Kinesis stream without its ``StreamModeDetails``
and ``StreamEncryption``, so they are applied through Kinesis's API from the properties the
deployment resolved. The bus rule's target (the push function) is delivered to an SQS queue by the
stack's wiring, as every template rule is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_ops.template_rules import load_template

from ..spec import gap_properties

TABLES = ("LiveContactsTable", "AgentConnectionsTable")
FUNCTIONS = (
    "LiveScoreFunction",
    "AgentConnectFunction",
    "AgentDisconnectFunction",
    "AgentPushFunction",
    "AgentCurrentFunction",
)


class LiveCallsOffError(RuntimeError):
    """The stack was deployed without LiveCalls=true."""


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


def from_stack(stack: Any) -> LiveResources:
    """The live resources of a started :class:`~churn_local.stack.LocalStack`, the stream's gaps filled."""
    spec = stack.spec
    missing = [f for f in FUNCTIONS if f not in spec.functions]
    if missing:
        raise LiveCallsOffError(
            "the local stack has no live resources (" + ", ".join(missing) + "): deploy it with "
            'parameters={"LiveCalls": "true"}'
        )
    stream_arn = spec.outputs["LiveSegmentsStreamArn"]
    stream_name = stream_arn.rsplit("/", 1)[-1]
    _fill_stream_gaps(stack, stream_name)
    failures = spec.queue("LiveScoreFailuresQueue")
    (updates,) = stack.wiring.delivery_queues["AgentPushFunction"]
    return LiveResources(
        stream_name,
        stream_arn,
        spec.table("LiveContactsTable").name,
        spec.table("AgentConnectionsTable").name,
        spec.outputs["LiveEventBusName"],
        updates,
        failures.url,
        failures.arn,
    )


def _fill_stream_gaps(stack: Any, stream_name: str) -> None:
    props = gap_properties(stack.client, stack.spec.stack_name, "LiveSegmentsStream") or {}
    kinesis = stack.client("kinesis")
    summary = kinesis.describe_stream_summary(StreamName=stream_name)["StreamDescriptionSummary"]
    mode = (props.get("StreamModeDetails") or {}).get("StreamMode")
    if mode and summary.get("StreamModeDetails", {}).get("StreamMode") != mode:
        kinesis.update_stream_mode(StreamARN=summary["StreamARN"], StreamModeDetails={"StreamMode": mode})
    encryption = props.get("StreamEncryption") or {}
    if encryption.get("EncryptionType") == "KMS" and summary.get("EncryptionType") != "KMS":
        kinesis.start_stream_encryption(
            StreamName=stream_name, EncryptionType="KMS", KeyId=encryption["KeyId"]
        )


def mapping_settings(template: str | Path = "template.yaml") -> dict[str, Any]:
    """LiveScoreFunction's Kinesis event properties as the template sets them."""
    resources = load_template(Path(template))["Resources"]
    return dict(resources["LiveScoreFunction"]["Properties"]["Events"]["Segments"]["Properties"])
