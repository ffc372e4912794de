"""The model update path (issue 21 §3): blue/green with a canary and rollback alarms, content-
addressed model archives written once, a pinned container image, the outcomes pieces."""

from __future__ import annotations

import re
from typing import Any

from churn_ops.registry import is_immutable_model_url, model_key

from tests.unit.test_template_iam import load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
ROLLBACK = ("EndpointRollback5xxAlarm", "EndpointRollbackModelErrorsAlarm", "EndpointRollbackLatencyAlarm")


def props(logical_id: str) -> dict[str, Any]:
    return RESOURCES[logical_id]["Properties"]


def test_a_real_time_endpoint_updates_blue_green_with_a_canary_and_rolls_back_on_alarms() -> None:
    condition, real_time, serverless = props("ScoringEndpoint")["DeploymentConfig"]["Fn::If"]
    assert condition == "RealTimeEndpoint" and serverless == {"Ref": "AWS::NoValue"}
    routing = real_time["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    alarms = [a["AlarmName"]["Ref"] for a in real_time["AutoRollbackConfiguration"]["Alarms"]]
    assert alarms == list(ROLLBACK)
    metrics = {props(a)["MetricName"] for a in alarms}
    assert metrics == {"Invocation5XXErrors", "Invocation4XXErrors", "ModelLatency"}
    # Each alarm fires inside the canary's wait: evaluation periods x period <= the wait.
    for alarm in alarms:
        assert RESOURCES[alarm]["Condition"] == "RealTimeEndpoint"
        assert props(alarm)["Period"] * props(alarm)["EvaluationPeriods"] <= routing["WaitIntervalInSeconds"]


def test_the_rollback_alarms_watch_the_endpoint_the_stack_names() -> None:
    # The endpoint's name expression, real-time branch (a GetAtt would be a circular reference).
    _, _, real_time = props("ScoringEndpoint")["EndpointName"]["Fn::Join"][1][2]["Fn::If"]
    for alarm in ROLLBACK:
        dimensions = {d["Name"]: d["Value"] for d in props(alarm)["Dimensions"]}
        assert dimensions["VariantName"] == "AllTraffic"
        join = dimensions["EndpointName"]["Fn::Join"]
        assert join[1][:2] == props("ScoringEndpoint")["EndpointName"]["Fn::Join"][1][:2]
        assert join[1][2] == real_time


def test_model_archives_are_written_once_and_urls_are_content_addressed() -> None:
    statements = {s["Sid"]: s for s in props("RecordingsBucketPolicy")["PolicyDocument"]["Statement"]}
    once = statements["ModelsAreWrittenOnce"]
    assert once["Effect"] == "Deny" and once["Action"] == "s3:PutObject"
    assert once["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/models/*"}
    assert once["Condition"] == {"Null": {"s3:if-none-match": "true"}}
    digest = "ab" * 32
    assert model_key(digest) == f"models/sha256-{digest}/model.tar.gz"
    assert is_immutable_model_url(f"s3://churn-data/{model_key(digest)}")
    for mutable in (
        "s3://replace-me-model-bucket/churn/model.tar.gz",
        "s3://b/models/latest/model.tar.gz",
        f"s3://b/models/sha256-{digest[:-1]}/model.tar.gz",
    ):
        assert not is_immutable_model_url(mutable)


def test_the_serving_image_tag_is_pinned() -> None:
    image = props("ScoringModel")["PrimaryContainer"]["Image"]["Fn::Sub"][0]
    assert re.search(r"pytorch-inference:\d+\.\d+\.\d+-\$\{Flavour\}-py\d+", image) and "latest" not in image


def test_outcomes_table_is_encrypted_with_point_in_time_recovery_and_links_verify_only() -> None:
    table = props("OutcomesTable")
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["Fn::If"][2] == {"SSEEnabled": True}
    key = props("OutcomeLinkKey")
    assert (key["KeySpec"], key["KeyUsage"]) == ("HMAC_256", "GENERATE_VERIFY_MAC")
    statements = props("OutcomesApiRole")["Policies"][0]["PolicyDocument"]["Statement"]
    kms = [s for s in statements if str(s["Action"]).startswith("kms:")]
    assert kms == [
        {"Sid": "VerifyOutcomeLinks", "Effect": "Allow", "Action": "kms:VerifyMac",
         "Resource": {"Fn::GetAtt": ["OutcomeLinkKey", "Arn"]}}
    ]  # fmt: skip
    events = props("OutcomesApiFunction")["Events"]
    open_routes = {e["Properties"]["Path"] for e in events.values() if "Auth" in e["Properties"]}
    assert open_routes == {"/v1/outcome-links/{token}"}  # only the signed links go without a key
    for event in events.values():
        if "Auth" in event["Properties"]:
            assert event["Properties"]["Auth"] == {"Authorizer": "NONE", "ApiKeyRequired": False}
