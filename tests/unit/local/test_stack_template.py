"""The local stack is the template deployed: SAM-translated, created by moto's CloudFormation, and
names, environment and wiring read back from the stack, not resolved by hand."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from churn_local.aws import LocalAws
from churn_local.spec import NOT_CREATED, deploy, read_stack
from churn_ops.template_rules import TemplateError

ROOT = Path(__file__).resolve().parents[3]
_names = itertools.count()


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _deploy(project: Path, aws: LocalAws, **parameters: str):
    name = f"s{next(_names)}"
    return name, deploy(project / "template.yaml", aws.url, parameters=parameters, stack_name=name)


def test_names_and_arns_come_from_the_deployed_stack(project: Path, local_aws: LocalAws) -> None:
    name, spec = _deploy(project, local_aws)

    assert [b.name for b in spec.buckets] == [f"recordings-{name}-dev"]  # the template's BucketName
    assert spec.buckets[0].eventbridge
    table = spec.table("CallsTable")
    assert table.name.startswith(f"{name}-CallsTable-")  # CloudFormation's generated name
    assert table.create_args["GlobalSecondaryIndexes"][0]["IndexName"] == "by-customer"
    assert table.ttl_attribute == "expires_at"
    topic = spec.topic("AlertTopic")
    assert topic.arn.startswith(f"arn:aws:sns:us-east-1:123456789012:{name}-AlertTopic-")
    queue = spec.queue("FailureQueue")
    assert queue.url == f"{local_aws.url}/123456789012/{queue.name}"
    assert spec.outputs == {"Bucket": f"recordings-{name}-dev"}


def test_conditions_drop_resources_and_values(project: Path, local_aws: LocalAws) -> None:
    _, spec = _deploy(project, local_aws)

    assert spec.skipped["ProdOnlyQueue"] == "its condition is false"
    assert "EmailSubscription" in spec.skipped and spec.subscriptions == []
    env = spec.function("RecordFunction").environment
    assert env["MODE"] == "relaxed"
    assert "GONE" not in env


def test_function_environment_merges_globals_and_refs(project: Path, local_aws: LocalAws) -> None:
    name, spec = _deploy(project, local_aws, Threshold="0.2", Stage="prod")

    record = spec.function("RecordFunction")
    assert record.environment == {
        "STAGE": "prod",
        "LOG_LEVEL": "INFO",
        "CALLS_TABLE": spec.table("CallsTable").name,
        "TOPIC_ARN": spec.topic("AlertTopic").arn,
        "THRESHOLD": "0.2",
        "BUCKET_ARN": f"arn:aws:s3:::recordings-{name}-prod",
        "MODE": "strict",
        "GONE": "x",
    }
    assert record.code_uri == (project / "handlers").resolve()
    assert record.layer_paths == ((project / "layer").resolve(),)
    assert record.timeout_s == 5
    assert spec.function("FlakyFunction").timeout_s == 2
    assert "ProdOnlyQueue" not in spec.skipped


def test_each_function_has_its_own_role_with_the_sam_policy_expanded(
    project: Path, local_aws: LocalAws
) -> None:
    _, spec = _deploy(project, local_aws)

    record, flaky = spec.function("RecordFunction"), spec.function("FlakyFunction")
    assert record.role_arn != flaky.role_arn
    table_arn = spec.table("CallsTable").arn
    statements = [s for p in record.policies for s in p["Statement"]]
    # DynamoDBCrudPolicy, expanded by aws-sam-translator, resolved by CloudFormation.
    assert any("dynamodb:PutItem" in s["Action"] and table_arn in s["Resource"] for s in statements)
    assert not any("dynamodb:PutItem" in s.get("Action", []) for p in flaky.policies for s in p["Statement"])


def test_async_invoke_settings_come_from_the_template(project: Path, local_aws: LocalAws) -> None:
    _, spec = _deploy(project, local_aws)
    failure_queue_arn = spec.queue("FailureQueue").arn

    record = spec.function("RecordFunction")
    assert record.max_retries == 1
    assert record.on_failure is not None and record.on_failure.arn == failure_queue_arn
    flaky = spec.function("FlakyFunction")
    assert flaky.max_retries == 2
    assert flaky.on_failure is not None and flaky.on_failure.arn == failure_queue_arn


def test_rules_from_sam_events_and_explicit_rules_target_functions(
    project: Path, local_aws: LocalAws
) -> None:
    name, spec = _deploy(project, local_aws)
    rules = {r.logical_id: r for r in spec.rules}

    uploaded = rules["RecordFunctionUploaded"]
    assert uploaded.pattern["detail"]["bucket"]["name"] == [f"recordings-{name}-dev"]
    assert [t.function for t in uploaded.targets] == ["RecordFunction"]
    jobs = rules["JobsRule"]
    assert jobs.pattern["detail"]["TranscriptionJobName"] == [{"prefix": "churn-dev-"}]
    assert [t.function for t in jobs.targets] == ["FlakyFunction"]


def test_unknown_parameter_override_is_an_error(project: Path, local_aws: LocalAws) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        deploy(project / "template.yaml", local_aws.url, parameters={"Nope": "1"}, stack_name="nope")


def test_the_project_template_deploys() -> None:
    """template.yaml deploys through moto's CloudFormation; what is not created says why."""
    spec = read_stack(ROOT / "template.yaml", parameters={"ApiThrottleRate": "7"})
    assert set(spec.functions) >= {"StartTranscriptionFunction", "ScoreCallFunction", "ScoreApiFunction"}
    for function in spec.functions.values():
        module = function.handler.rpartition(".")[0].replace(".", "/")
        assert (function.code_uri / f"{module}.py").is_file(), function.handler
        assert function.role_arn and function.policies, function.logical_id
    assert spec.skipped["ScoreApi"] == NOT_CREATED["AWS::ApiGateway::RestApi"]
    assert spec.skipped["RecordingsBucketPolicy"] == NOT_CREATED["AWS::S3::BucketPolicy"]
    alert_topic = spec.topic("AlertTopic").arn
    assert spec.kms_keys[alert_topic].startswith(f"arn:aws:kms:us-east-1:{spec.account}:key/")
    assert spec.buckets[0].versioned
    # The API the local gateway serves: its settings resolved by the deployment, not by hand.
    api = spec.apis["ScoreApi"]
    assert api["StageName"] == "live" and api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["Throttle"]["RateLimit"] == 7
    # The stand-in outputs are not shown as the stack's outputs.
    assert not any(name.startswith(("LocalGap", "LocalApi")) for name in spec.outputs)


def test_a_deployment_moto_refuses_is_one_clear_error(project: Path, local_aws: LocalAws) -> None:
    deploy(project / "template.yaml", local_aws.url, stack_name="twice")
    with pytest.raises(TemplateError, match=r"local deployment of .* failed: AlreadyExistsException"):
        deploy(project / "template.yaml", local_aws.url, stack_name="twice")
