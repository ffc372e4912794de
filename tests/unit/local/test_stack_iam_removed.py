"""A removed permission makes the named check fail: the template with one policy statement taken
out, deployed like the local stack deploys it, and the calls the functions make (as the recorded-
calls test records them) checked against the roles the stack created.

Faithful without a running pipeline: ``churn_local.iam.check_calls`` is the same check the
integration test applies to the calls recorded there, and the workers enforce with the same
evaluator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from churn_local.iam import Context, check_calls
from churn_local.spec import StackSpec, read_stack
from churn_ops.template_rules import load_template

pytestmark = [pytest.mark.local, pytest.mark.slow]  # four deployments, seconds each
ROOT = Path(__file__).resolve().parents[3]


def _deployed(tmp_path: Path, role: str | None = None, sid: str | None = None) -> StackSpec:
    template = load_template(ROOT / "template.yaml")
    if role is not None:
        for policy in template["Resources"][role]["Properties"]["Policies"]:
            statements = policy["PolicyDocument"]["Statement"]
            kept = [s for s in statements if s.get("Sid") != sid]
            assert len(kept) == len(statements) - 1, f"{role} has no statement {sid}"
            policy["PolicyDocument"]["Statement"] = kept
    path = tmp_path / "template.json"
    path.write_text(json.dumps(template))
    return read_stack(path)


def _calls(spec: StackSpec) -> list[dict]:
    """What each function calls on its main path (recorded shapes, deployed names)."""
    bucket = spec.buckets[0].name
    calls_table = spec.table("CallsTable").name
    score = spec.function("ScoreCallFunction")
    return [
        {
            "function": "StartTranscriptionFunction",
            "service": "s3",
            "operation": "HeadObject",
            "params": {"Bucket": bucket, "Key": "recordings/C-1/call-1.wav", "VersionId": True},
        },
        {
            "function": "ScoreCallFunction",
            "service": "sagemaker-runtime",
            "operation": "InvokeEndpoint",
            "params": {"EndpointName": score.environment["ENDPOINT_NAME"]},
        },
        {
            "function": "ScoreApiFunction",
            "service": "dynamodb",
            "operation": "GetItem",
            "params": {"TableName": calls_table},
        },
        {
            "function": "ScoreApiFunction",
            "service": "dynamodb",
            "operation": "Query",
            "params": {"TableName": calls_table, "IndexName": "by-customer"},
        },
    ]


def _check(spec: StackSpec) -> list[str]:
    return check_calls(
        _calls(spec),
        {f.logical_id: f.policies for f in spec.functions.values()},
        Context(spec.region, spec.account, spec.kms_keys),
    )


def test_the_template_as_it_is_allows_every_call(tmp_path: Path) -> None:
    assert _check(_deployed(tmp_path)) == []


@pytest.mark.parametrize(
    ("role", "sid", "expected"),
    [
        (
            "StartTranscriptionRole",
            "ReadRecordings",
            "StartTranscriptionFunction: HeadObject needs s3:GetObjectVersion",
        ),
        ("ScoreCallRole", "Score", "ScoreCallFunction: InvokeEndpoint needs sagemaker:InvokeEndpoint"),
        ("ScoreApiRole", "ReadCalls", "ScoreApiFunction: GetItem needs dynamodb:GetItem"),
    ],
)
def test_a_removed_permission_fails_the_named_check(
    tmp_path: Path, role: str, sid: str, expected: str
) -> None:
    problems = _check(_deployed(tmp_path, role, sid))
    assert len(problems) == 1 and problems[0].startswith(expected), problems
