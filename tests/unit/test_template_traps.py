"""Issue 24 section 3: the first-deploy traps of template.yaml, each fixed or refused by a rule.

Each test names the trap it holds shut. Rules are evaluated with the same evaluator as
test_template_rules.py; the API's ordering is checked on the SAM-translated template, where the
stage SAM generates exists.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
from churn_ops.template_rules import ParameterError, check_parameters

from tests.unit.test_template_iam import load_template, policy_statements

ROOT = Path(__file__).resolve().parents[2]
T = load_template()
R = T["Resources"]
OPS_README = (ROOT / "ops" / "README.md").read_text()
MODEL = "s3://my-models/churn/model.tar.gz"


def problems(**overrides: object) -> str:
    try:
        check_parameters(T, overrides)
    except ParameterError as exc:
        return str(exc)
    return ""


def _refs(node: Any) -> set[str]:
    """Logical ids a node depends on: Ref, GetAtt, ${X} / ${X.Attr} in Sub."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) else value
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if isinstance(value, list):
                    found |= _refs(value[1])
            else:
                found |= _refs(value)
    elif isinstance(node, list):
        for item in node:
            found |= _refs(item)
    return found


def _depends_on(resources: dict[str, Any], start: str) -> set[str]:
    """Everything CloudFormation creates before ``start`` (DependsOn and references, transitively)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        resource = resources.get(todo.pop())
        if resource is None:
            continue
        explicit = resource.get("DependsOn") or []
        explicit = [explicit] if isinstance(explicit, str) else explicit
        edges = (set(explicit) | _refs(resource.get("Properties")) | _refs(resource.get("Metadata"))) & set(
            resources
        )
        todo.extend(edges - seen)
        seen |= edges
    return seen


@pytest.fixture(scope="module")
def translated(monkeypatch_module: Any) -> dict[str, Any]:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    class NoManagedPolicies:  # the template names no managed policies (functions have their own roles)
        def load(self) -> dict[str, str]:
            return {}

    template = yaml_parse((ROOT / "template.yaml").read_text())
    for logical_id, resource in template["Resources"].items():  # as `sam package` leaves them
        for key in ("CodeUri", "ContentUri"):
            if isinstance(resource.get("Properties", {}).get(key), str):
                resource["Properties"][key] = {"Bucket": "artifacts", "Key": f"{logical_id}.zip"}
    return transform(copy.deepcopy(template), {}, NoManagedPolicies())


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield patch


# --- API Gateway's account logging role --------------------------------------------------------


def test_the_api_stage_is_created_after_the_account_logging_role_when_the_stack_sets_it(translated):
    resources = translated["Resources"]
    (stage,) = [lid for lid, r in resources.items() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert "AccessLogSetting" in resources[stage]["Properties"]
    before = _depends_on(resources, stage)
    # The access log group (which the stage names) refers to the Account resource only when that
    # one is created, so the stage waits for it without a DependsOn on a conditional resource.
    assert {"ScoreApiAccessLogGroup", "ApiGatewayLogsAccount"} <= before
    (tag,) = resources["ScoreApiAccessLogGroup"]["Properties"]["Tags"]
    assert tag["Value"] == {
        "Fn::If": ["SetApiGatewayLogsRole", {"Ref": "ApiGatewayLogsAccount"}, "account-setting"]
    }
    # DependsOn on the conditional resource itself would fail whenever the condition is false.
    for resource in resources.values():
        depends = resource.get("DependsOn") or []
        assert "ApiGatewayLogsAccount" not in ([depends] if isinstance(depends, str) else depends)


def test_the_account_logging_role_is_opt_in_kept_on_delete_and_documented():
    parameter = T["Parameters"]["ApiGatewayLogsRole"]
    assert parameter["Default"] == "false"
    assert "overwrites" in parameter["Description"]
    for logical_id in ("ApiGatewayLogsAccountRole", "ApiGatewayLogsAccount"):
        assert R[logical_id]["Condition"] == "SetApiGatewayLogsRole"
        assert (
            R[logical_id]["DeletionPolicy"] == "Retain" and R[logical_id]["UpdateReplacePolicy"] == "Retain"
        )
    assert "ApiGatewayLogsRole" in OPS_README and "get-account" in OPS_README


# --- a new account's quotas ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameter", "function", "condition"),
    [
        ("StartTranscriptionConcurrency", "StartTranscriptionFunction", "ReserveStartConcurrency"),
        ("ScoreCallConcurrency", "ScoreCallFunction", "ReserveScoreConcurrency"),
    ],
)
def test_reserved_concurrency_is_off_by_default_so_a_quota_of_10_deploys(parameter, function, condition):
    assert T["Parameters"][parameter]["Default"] == 0 and T["Parameters"][parameter]["MinValue"] == 0
    assert T["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}
    reserved = R[function]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}
    assert parameter in OPS_README


def _samconfig_overrides(env: str) -> dict[str, str]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    text = config[env]["deploy"]["parameters"].get("parameter_overrides", "")
    return dict(pair.split("=", 1) for pair in shlex.split(text))


def test_prod_is_not_an_always_on_gpu_endpoint_by_default():
    prod = _samconfig_overrides("prod")
    assert prod["EndpointMode"] == "serverless", "prod scales to zero; a GPU endpoint is a documented choice"
    assert "EndpointInstanceType" not in prod and "EndpointMinInstances" not in prod
    assert problems(**{**prod, "ModelDataUrl": MODEL}) == ""
    # The documented choice: what an always-on GPU endpoint costs idle, and the GPU quota.
    assert "ml.g4dn.xlarge" in OPS_README and "quota" in OPS_README.lower()


def test_recovery_from_rollback_complete_is_documented():
    assert "ROLLBACK_COMPLETE" in OPS_README and "delete-stack" in OPS_README


# --- SageMaker -----------------------------------------------------------------------------------


def test_batch_transform_can_write_its_logs():
    (logs,) = [
        s for lid, s in policy_statements(T) if lid == "ScoringModelRole" and s.get("Sid") == "ContainerLogs"
    ]
    resources = json.dumps(logs["Resource"])
    assert "log-group:/aws/sagemaker/TransformJobs:*" in resources
    assert "log-group:/aws/sagemaker/Endpoints/*" in resources
    assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= set(logs["Action"])


def test_serverless_with_network_isolation_is_refused_before_anything_is_created():
    found = problems(ModelDataUrl=MODEL, EndpointMode="serverless", EndpointNetworkIsolation="true")
    assert (
        "ServerlessEndpointWithoutNetworkIsolation" in found and "does not support network isolation" in found
    )
    assert problems(ModelDataUrl=MODEL, EndpointMode="serverless") == ""
    assert problems(ModelDataUrl=MODEL, EndpointMode="cpu", EndpointNetworkIsolation="true") == ""


def _endpoint_name(stack_id: str, instance_type: str, mode: str) -> str:
    """ScoringEndpoint's EndpointName, evaluated for one stack id, instance type and mode."""

    def value(node: Any) -> Any:
        if isinstance(node, str):
            return node
        (key, arg), *_ = node.items()
        if key == "Ref":
            return {"AWS::StackId": stack_id, "EndpointInstanceType": instance_type}.get(
                arg, {"EndpointCpuInstanceType": instance_type}.get(arg, arg)
            )
        if key == "Fn::Join":
            items = value(arg[1]) if isinstance(arg[1], dict) else [value(item) for item in arg[1]]
            return arg[0].join(items)
        if key == "Fn::Split":
            return value(arg[1]).split(arg[0])
        if key == "Fn::Select":
            return value(arg[1])[int(arg[0])]
        if key == "Fn::If":
            truth = {"ServerlessEndpoint": mode == "serverless", "GpuEndpoint": mode == "gpu"}[arg[0]]
            return value(arg[1] if truth else arg[2])
        raise AssertionError(f"unexpected {key}")

    return value(R["ScoringEndpoint"]["Properties"]["EndpointName"])


@pytest.mark.parametrize(
    ("mode", "instance_type"),
    [
        ("gpu", "ml.g4dn.2xlarge"),
        ("gpu", "ml.g5.xlarge"),
        ("cpu", "ml.c6i.2xlarge"),
        ("serverless", "ml.c6i.large"),
    ],
)
def test_endpoint_names_fit_63_characters_for_the_longest_stack_name(mode, instance_type):
    longest = "A" + "b-" * 63 + "c"  # 128 characters, mixed case: both allowed in stack names
    stack_id = (
        f"arn:aws:cloudformation:eu-west-1:123456789012:stack/{longest}/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    )
    name = _endpoint_name(stack_id, instance_type, mode)
    assert len(name) <= 63 and re.fullmatch(r"[a-z0-9](-*[a-z0-9]){0,62}", name), name
    assert name.startswith("churn-0f1e2d3c-")
    # Another mode or instance type is another name (the replacement the autoscaling needs).
    assert name != _endpoint_name(stack_id, "ml.c6i.xlarge", "cpu")


# --- data: keys, lifecycle -----------------------------------------------------------------------


def test_an_optional_kms_key_encrypts_the_bucket_and_every_table():
    parameter = T["Parameters"]["DataKmsKeyArn"]
    assert parameter["Default"] == ""
    assert (
        problems(DataKmsKeyArn="arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        == ""
    )
    assert "DataKmsKeyArn" in problems(DataKmsKeyArn="alias/my-key")
    bucket = R["RecordingsBucket"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    condition, with_key, _ = bucket["ServerSideEncryptionByDefault"]["Fn::If"]
    assert condition == "HasDataKmsKey" and with_key["KMSMasterKeyID"] == {"Ref": "DataKmsKeyArn"}
    for logical_id, resource in R.items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            _, with_key, _ = resource["Properties"]["SSESpecification"]["Fn::If"]
            assert with_key == {
                "SSEEnabled": True,
                "SSEType": "KMS",
                "KMSMasterKeyId": {"Ref": "DataKmsKeyArn"},
            }, logical_id


def test_every_role_that_touches_the_bucket_or_tables_may_use_the_data_key_through_those_services_only():
    data = {lid for lid, r in R.items() if r["Type"] in {"AWS::S3::Bucket", "AWS::DynamoDB::Table"}}
    users = {
        lid
        for lid, statement in policy_statements(T)
        if R[lid]["Type"] == "AWS::IAM::Role"
        and any(str(a).split(":")[0] in {"s3", "dynamodb"} for a in _as_list(statement["Action"]))
        and _refs(statement["Resource"]) & data
    }
    policy = R["DataKeyPolicy"]
    assert policy["Condition"] == "HasDataKmsKey"
    roles = _refs(policy["Properties"]["Roles"])
    assert users <= roles, users - roles
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Ref": "DataKmsKeyArn"}
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey"}
    via = json.dumps(statement["Condition"]["StringEquals"]["kms:ViaService"])
    assert "s3.${AWS::Region}" in via and "dynamodb.${AWS::Region}" in via


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _covers(prefix: str | None, key: str) -> bool:
    return prefix is None or key.startswith(prefix)


def test_offer_rule_versions_never_expire_and_batch_objects_do():
    rules = R["RecordingsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    # Alerts cite the rules' version: no rule may expire an old version (or the current one) of offers/.
    for rule in rules:
        prefix = rule.get("Prefix", (rule.get("Filter") or {}).get("Prefix"))
        if "NoncurrentVersionExpiration" in rule or "ExpirationInDays" in rule:
            assert not _covers(prefix, "offers/rules.json"), rule["Id"]
    # ...while the recordings' and transcripts' old versions still do.
    noncurrent = {r.get("Prefix") for r in rules if "NoncurrentVersionExpiration" in r}
    assert {"recordings/", "transcripts/", "batch/"} <= noncurrent
    (batch,) = [r for r in rules if r.get("Prefix") == "batch/" and "ExpirationInDays" in r]
    assert batch["ExpirationInDays"] == {"Ref": "BatchRetentionDays"}


# --- trust policies -----------------------------------------------------------------------------

# Services that assume a role without the confused-deputy keys documented for that role.
NO_SOURCE_KEYS = {
    "lambda.amazonaws.com": "a function's execution role: Lambda itself assumes it for this account's function",
    "apigateway.amazonaws.com": "the account's logging role: API Gateway does not document the keys for it",
}


def test_service_trust_policies_name_this_account():
    checked = set()
    for logical_id, resource in R.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            service = statement["Principal"].get("Service")
            if service in NO_SOURCE_KEYS:
                continue
            checked.add(logical_id)
            condition = statement.get("Condition") or {}
            assert condition.get("StringEquals", {}).get("aws:SourceAccount") == {"Ref": "AWS::AccountId"}, (
                logical_id
            )
            arn = json.dumps(condition.get("ArnLike", {}).get("aws:SourceArn"))
            assert "${AWS::AccountId}" in arn and service.split(".")[0] in arn, logical_id
    assert checked == {"TranscribeDataAccessRole", "ScoringModelRole"}


def test_the_reconcile_schedule_keeps_within_what_the_dead_reconciler_alarm_expects():
    assert problems(ReconcileSchedule="rate(5 minutes)") == ""
    assert problems(ReconcileSchedule="rate(15 minutes)") == ""
    assert "ReconcileSchedule" in problems(ReconcileSchedule="rate(1 hour)")
    assert "ReconcileSchedule" in problems(ReconcileSchedule="rate(30 minutes)")
