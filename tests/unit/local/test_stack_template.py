"""The template reader: names, environment and wiring come from template.yaml, resolved locally."""

from __future__ import annotations

from pathlib import Path

import pytest
from churn_local.spec import read_stack
from churn_local.template import Resolver, TemplateError, load_template

ROOT = Path(__file__).resolve().parents[3]


def test_resources_are_resolved_to_local_names(project: Path) -> None:
    spec = read_stack(project / "template.yaml", sqs_endpoint="http://127.0.0.1:5000")

    assert [b.name for b in spec.buckets] == ["recordings-123456789012-dev"]
    assert spec.buckets[0].eventbridge
    table = spec.table("CallsTable")
    assert table.name == "churn-local-CallsTable"
    assert table.create_args["GlobalSecondaryIndexes"][0]["IndexName"] == "by-customer"
    assert "PointInTimeRecoverySpecification" not in table.create_args
    assert table.ttl_attribute == "expires_at"
    assert spec.topic("AlertTopic").arn == "arn:aws:sns:us-east-1:123456789012:churn-local-AlertTopic"
    assert spec.queue("FailureQueue").url == "http://127.0.0.1:5000/123456789012/churn-local-FailureQueue"
    assert spec.outputs == {"Bucket": "recordings-123456789012-dev"}


def test_conditions_drop_resources_and_values(project: Path) -> None:
    spec = read_stack(project / "template.yaml")

    assert "ProdOnlyQueue" in spec.skipped and "EmailSubscription" in spec.skipped
    assert spec.subscriptions == []
    env = spec.function("RecordFunction").environment
    assert env["MODE"] == "relaxed"
    assert "GONE" not in env


def test_function_environment_merges_globals_and_resolves_refs(project: Path) -> None:
    spec = read_stack(project / "template.yaml", parameters={"Threshold": "0.2", "Stage": "prod"})

    record = spec.function("RecordFunction")
    assert record.environment == {
        "STAGE": "prod",
        "LOG_LEVEL": "INFO",
        "CALLS_TABLE": "churn-local-CallsTable",
        "TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:churn-local-AlertTopic",
        "THRESHOLD": "0.2",
        "BUCKET_ARN": "arn:aws:s3:::recordings-123456789012-prod",
        "MODE": "strict",
        "GONE": "x",
    }
    assert record.code_uri == (project / "handlers").resolve()
    assert record.layer_paths == ((project / "layer").resolve(),)
    assert record.timeout_s == 5
    assert spec.function("FlakyFunction").timeout_s == 2
    assert "ProdOnlyQueue" not in spec.skipped


def test_async_invoke_settings_come_from_the_template(project: Path) -> None:
    spec = read_stack(project / "template.yaml")
    failure_queue_arn = spec.queue("FailureQueue").arn

    record = spec.function("RecordFunction")
    assert record.max_retries == 1
    assert record.on_failure is not None and record.on_failure.arn == failure_queue_arn
    flaky = spec.function("churn-local-FlakyFunction")
    assert flaky.max_retries == 2
    assert flaky.on_failure is not None and flaky.on_failure.arn == failure_queue_arn


def test_rules_from_sam_events_and_explicit_rules_target_functions(project: Path) -> None:
    spec = read_stack(project / "template.yaml")
    rules = {r.logical_id: r for r in spec.rules}

    uploaded = rules["RecordFunctionUploaded"]
    assert uploaded.pattern["detail"]["bucket"]["name"] == ["recordings-123456789012-dev"]
    assert [t.function for t in uploaded.targets] == ["RecordFunction"]
    jobs = rules["JobsRule"]
    assert jobs.pattern["detail"]["TranscriptionJobName"] == [{"prefix": "churn-dev-"}]
    assert [t.function for t in jobs.targets] == ["FlakyFunction"]


def test_unknown_parameter_override_is_an_error(project: Path) -> None:
    with pytest.raises(TemplateError, match="Nope"):
        read_stack(project / "template.yaml", parameters={"Nope": "1"})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Fn::Sub": "${AWS::Region}:${!Literal}"}, "us-east-1:${Literal}"),
        ({"Fn::Sub": ["${A}-${B}", {"A": "x", "B": {"Ref": "AWS::StackName"}}]}, "x-churn-local"),
        ({"Fn::Join": ["/", ["a", {"Ref": "AWS::AccountId"}]]}, "a/123456789012"),
        ({"Fn::Select": [1, {"Fn::Split": [",", "a,b,c"]}]}, "b"),
    ],
)
def test_intrinsics(expression: dict, expected: str) -> None:
    resolver = Resolver({"Resources": {}})
    assert resolver.resolve(expression) == expected


def test_the_project_template_resolves() -> None:
    """The real template.yaml reads cleanly: every function has code and a handler on disk."""
    template = load_template(ROOT / "template.yaml")
    spec = read_stack(ROOT / "template.yaml")
    assert set(spec.functions) >= {"StartTranscriptionFunction", "ScoreCallFunction"}
    for function in spec.functions.values():
        module = function.handler.rpartition(".")[0].replace(".", "/")
        assert (function.code_uri / f"{module}.py").is_file(), function.handler
    assert template["Resources"]
