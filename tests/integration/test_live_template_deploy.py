"""template.yaml with LiveCalls=true through the local stack's deployment path (SAM-translated, moto's
CloudFormation, read back: churn_local.spec.deploy): the live resources exist because the template
made them, and what moto cannot create is listed in NOT_CREATED with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = [pytest.mark.local]

LIVE_FUNCTIONS = {
    "LiveScoreFunction": "LiveScoreRole",
    "AgentConnectFunction": "AgentConnectRole",
    "AgentDisconnectFunction": "AgentDisconnectRole",
    "AgentPushFunction": "AgentPushRole",
    "AgentCurrentFunction": "AgentCurrentRole",
}


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from churn_local.live.run import live_stack

    # No model server: nothing is scored here (the endpoint URL is never called).
    with live_stack("http://127.0.0.1:9") as started:
        yield started


def _created(stack: Any) -> dict[str, dict[str, Any]]:
    cloudformation = stack.client("cloudformation")
    summaries = cloudformation.list_stack_resources(StackName=stack.spec.stack_name)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s for s in summaries}


def test_the_live_resources_are_created_by_the_template(stack: Any) -> None:
    created = _created(stack)
    for logical_id, kind in {
        "LiveSegmentsStream": "AWS::Kinesis::Stream",
        "LiveContactsTable": "AWS::DynamoDB::Table",
        "AgentConnectionsTable": "AWS::DynamoDB::Table",
        "LiveEventBus": "AWS::Events::EventBus",
        "AgentPushFunctionRiskUpdated": "AWS::Events::Rule",
        "LiveScoreFailuresQueue": "AWS::SQS::Queue",
        **dict.fromkeys(LIVE_FUNCTIONS, "AWS::Lambda::Function"),
        **dict.fromkeys(LIVE_FUNCTIONS.values(), "AWS::IAM::Role"),
    }.items():
        assert created[logical_id]["ResourceType"] == kind, logical_id
        assert created[logical_id]["ResourceStatus"] == "CREATE_COMPLETE", logical_id


def test_the_stream_tables_bus_and_rule_are_as_declared(stack: Any) -> None:
    from churn_local.live.resources import from_stack

    live = from_stack(stack)  # fills the stream's gaps (mode, encryption)
    stream = stack.client("kinesis").describe_stream_summary(StreamName=live.stream_name)[
        "StreamDescriptionSummary"
    ]
    assert stream["StreamARN"] == live.stream_arn
    assert stream["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    assert stream["EncryptionType"] == "KMS" and stream["KeyId"] == "alias/aws/kinesis"

    dynamodb = stack.client("dynamodb")
    contacts = dynamodb.describe_table(TableName=live.contacts_table)["Table"]
    assert contacts["KeySchema"] == [{"AttributeName": "contact_id", "KeyType": "HASH"}]
    connections = dynamodb.describe_table(TableName=live.connections_table)["Table"]
    assert [i["IndexName"] for i in connections["GlobalSecondaryIndexes"]] == ["by-connection"]
    for name in (live.contacts_table, live.connections_table):
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}, name

    events = stack.client("events")
    assert events.describe_event_bus(Name=live.bus_name)["Name"] == live.bus_name
    (rule,) = [r for r in stack.spec.rules if r.logical_id == "AgentPushFunctionRiskUpdated"]
    assert rule.event_bus == live.bus_name
    assert rule.pattern == {"source": ["churn-alerts.live"], "detail-type": ["Churn Risk Updated"]}
    assert [t.function for t in rule.targets] == ["AgentPushFunction"]
    assert live.updates_queue_url in stack.wiring.delivery_queues["AgentPushFunction"]

    # The mapping is the local poller's (moto's would invoke Lambda in Docker on every put).
    assert "churn_local.live.poller" in stack.spec.skipped["LiveScoreFunctionSegments"]
    assert stack.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []


def test_each_live_function_has_its_own_role_with_its_template_policies(stack: Any) -> None:
    created = _created(stack)
    iam = stack.client("iam")
    for function, role in LIVE_FUNCTIONS.items():
        spec = stack.spec.function(function)
        assert spec.role_arn.rsplit("/", 1)[-1] == created[role]["PhysicalResourceId"], function
        assert iam.get_role(RoleName=created[role]["PhysicalResourceId"])["Role"]["Arn"] == spec.role_arn
        assert spec.policies, function
    contacts = stack.spec.table("LiveContactsTable").arn
    statements = [s for p in stack.spec.function("LiveScoreFunction").policies for s in p["Statement"]]
    (on_contacts,) = [s for s in statements if s["Resource"] == contacts]
    assert sorted(on_contacts["Action"]) == ["dynamodb:GetItem", "dynamodb:PutItem"]
    # The push role's @connections grant names the API's id (a stand-in here) and its stage.
    push = json.dumps(stack.spec.function("AgentPushFunction").policies)
    assert ":agentsocketapi-local/live/POST/@connections/*" in push
    endpoint = stack.spec.function("AgentPushFunction").environment["CONNECTIONS_ENDPOINT"]
    assert endpoint == "https://agentsocketapi-local.execute-api.us-east-1.amazonaws.com/live"
    assert stack.spec.outputs["LiveEventBusName"] == f"{stack.spec.stack_name}-live"


def test_what_moto_cannot_create_is_listed_with_its_reason(stack: Any) -> None:
    from churn_local.spec import NOT_CREATED

    skipped = stack.spec.skipped
    for logical_id in (
        "AgentSocketApi",
        "AgentConnectRoute",
        "AgentDisconnectRoute",
        "AgentCurrentRoute",
        "AgentConnectIntegration",
        "AgentSocketDeployment",
        "AgentSocketStage",
    ):
        assert "churn_local.live.socket" in skipped[logical_id], logical_id
    assert all(k.startswith("AWS::ApiGatewayV2::") for k in NOT_CREATED if "live.socket" in NOT_CREATED[k])
    # Nothing live is said to be off: LiveCalls=true holds every live condition but the data key's.
    off = {k for k, why in skipped.items() if why == "its condition is false"}
    assert not off & ({"LiveSegmentsStream", "LiveContactsTable", "LiveEventBus"} | set(LIVE_FUNCTIONS))
    assert "LiveStreamKeyPolicy" in off  # no DataKmsKeyArn
