"""Least privilege in template.yaml: no ``Resource: "*"`` outside a short, commented allow-list."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from churn_ops.template_rules import load_template as read_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def load_template() -> dict[str, Any]:
    return read_template(TEMPLATE)


# (resource logical id, statement Sid) -> why "*" is the only possible resource.
ALLOWED_WILDCARDS = {
    ("StartTranscriptionRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("ScoreCallRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("ScoreApiRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("ReconcileCallsRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("AlertDigestRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("ScoringModelRole", "EcrLogin"): "ecr:GetAuthorizationToken takes no resource",
    ("AlertTopicKey", "AccountAdministers"): "in a key policy, * is the key itself",
    ("OpsTopicKey", "AccountAdministers"): "in a key policy, * is the key itself",
    ("OpsTopicKey", "CloudWatchAlarmsPublish"): "in a key policy, * is the key itself",
    ("OutcomesApiRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("LiveScoreRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("AgentConnectRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("AgentDisconnectRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("AgentPushRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("AgentCurrentRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("OutcomeLinkKey", "AccountAdministers"): "in a key policy, * is the key itself",
}


def policy_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every IAM statement in the template, with the logical id of the resource holding it."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties") or {}
        documents = []
        for policy in props.get("Policies") or []:
            if isinstance(policy, dict):
                documents.append(policy.get("PolicyDocument", policy))
        for key in ("PolicyDocument", "KeyPolicy"):
            if key in props:
                documents.append(props[key])
        for document in documents:
            for statement in document.get("Statement", []) if isinstance(document, dict) else []:
                yield logical_id, statement


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_template_has_policies_to_check():
    roles = {logical_id for logical_id, _ in policy_statements(load_template())}
    assert {"StartTranscriptionRole", "ScoreCallRole", "ScoringModelRole", "RecordingsBucketPolicy"} <= roles


def test_no_wildcard_resource_outside_the_allow_list():
    offending = []
    for logical_id, statement in policy_statements(load_template()):
        wildcard = statement.get("Effect") == "Allow" and "*" in _as_list(statement.get("Resource"))
        if wildcard and (logical_id, statement.get("Sid")) not in ALLOWED_WILDCARDS:
            offending.append((logical_id, statement.get("Sid")))
    assert offending == []


def test_allow_list_has_no_stale_entries():
    used = {
        (logical_id, statement.get("Sid"))
        for logical_id, statement in policy_statements(load_template())
        if "*" in _as_list(statement.get("Resource"))
    }
    assert set(ALLOWED_WILDCARDS) <= used


def test_allow_listed_statements_grant_only_what_needs_them():
    allowed_actions = {
        "Tracing": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
        "EcrLogin": {"ecr:GetAuthorizationToken"},
    }
    for logical_id, statement in policy_statements(load_template()):
        sid = statement.get("Sid")
        if (logical_id, sid) in ALLOWED_WILDCARDS and sid in allowed_actions:
            assert set(_as_list(statement["Action"])) == allowed_actions[sid], (logical_id, sid)


def test_function_roles_use_no_wildcard_actions():
    for logical_id, statement in policy_statements(load_template()):
        if logical_id.endswith("Role"):
            for action in _as_list(statement["Action"]):
                assert not action.endswith(":*") and action != "*", (logical_id, action)


@pytest.mark.parametrize(
    "role", ["StartTranscriptionRole", "ScoreCallRole", "ScoreApiRole", "ReconcileCallsRole"]
)
def test_functions_have_their_own_roles_and_no_managed_policies(role):
    template = load_template()
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]
    function = role.replace("Role", "Function")
    assert template["Resources"][function]["Properties"]["Role"] == {"Fn::GetAtt": [role, "Arn"]}
    assert "Policies" not in template["Resources"][function]["Properties"]


def _statements(role: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for lid, s in policy_statements(load_template()) if lid == role}


def test_s3_access_is_scoped_to_prefixes():
    start, score = _statements("StartTranscriptionRole"), _statements("ScoreCallRole")
    assert start["ReadRecordings"]["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/recordings/*"}
    assert start["WriteTranscripts"]["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/transcripts/*"}
    assert score["ReadTranscripts"]["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/transcripts/*"}
    assert "s3:PutObject" not in _as_list(score["ReadTranscripts"]["Action"])


def test_transcribe_access_is_scoped_to_this_stacks_jobs():
    for role, sid in (("StartTranscriptionRole", "StartJobs"), ("ScoreCallRole", "ReadJobs")):
        resource = _statements(role)[sid]["Resource"]["Fn::Sub"]
        assert resource.endswith(":transcription-job/${AWS::StackName}-*")


def test_reconciler_queries_only_the_in_flight_index_and_never_scans():
    reconcile = _statements("ReconcileCallsRole")
    actions = {a for st in reconcile.values() for a in _as_list(st["Action"])}
    assert "dynamodb:Scan" not in actions
    assert reconcile["CallsInFlight"]["Resource"] == {"Fn::Sub": "${CallsTable.Arn}/index/by-open-status"}
    assert reconcile["ReadJobs"]["Resource"]["Fn::Sub"].endswith(":transcription-job/${AWS::StackName}-*")


def test_transcribe_data_access_role_is_scoped_and_passed_only_to_transcribe():
    template = load_template()
    role = template["Resources"]["TranscribeDataAccessRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "transcribe.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    data = _statements("TranscribeDataAccessRole")
    assert data["ReadRecordings"]["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/recordings/*"}
    assert data["WriteTranscripts"]["Resource"] == {"Fn::Sub": "${RecordingsBucket.Arn}/transcripts/*"}
    passing = _statements("StartTranscriptionRole")["PassDataAccessRole"]
    assert passing["Resource"] == {"Fn::GetAtt": ["TranscribeDataAccessRole", "Arn"]}
    assert passing["Condition"]["StringEquals"]["iam:PassedToService"] == "transcribe.amazonaws.com"


def test_invoke_endpoint_follows_the_endpoint_mode():
    resource = _statements("ScoreCallRole")["Score"]["Resource"]
    condition, created, existing = resource["Fn::If"]
    assert condition == "CreateEndpoint" and created == {"Ref": "ScoringEndpoint"}
    assert existing["Fn::Sub"].endswith(":endpoint/${EndpointName}")


def test_model_role_reads_the_artifact_and_batch_input_and_writes_batch_output_only():
    statements = _statements("ScoringModelRole")
    granted = {
        (sid, action, json.dumps(s["Resource"], sort_keys=True))
        for sid, s in statements.items()
        for action in _as_list(s["Action"])
        if action.startswith("s3:")
    }
    artifact = json.dumps(statements["ReadModelArtifact"]["Resource"], sort_keys=True)
    assert granted == {
        ("ReadModelArtifact", "s3:GetObject", artifact),
        ("ReadBatchInput", "s3:GetObject", '{"Fn::Sub": "${RecordingsBucket.Arn}/batch/in/*"}'),
        ("ListBatchInput", "s3:ListBucket", '{"Fn::GetAtt": ["RecordingsBucket", "Arn"]}'),
        ("WriteBatchOutput", "s3:PutObject", '{"Fn::Sub": "${RecordingsBucket.Arn}/batch/out/*"}'),
        ("WriteBatchOutput", "s3:AbortMultipartUpload", '{"Fn::Sub": "${RecordingsBucket.Arn}/batch/out/*"}'),
    }
    assert statements["ListBatchInput"]["Condition"] == {"StringLike": {"s3:prefix": ["batch/in/*"]}}


def test_bucket_policy_denies_insecure_transport():
    (statement,) = [
        s
        for lid, s in policy_statements(load_template())
        if lid == "RecordingsBucketPolicy" and s.get("Sid") == "DenyInsecureTransport"
    ]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }


def test_score_api_reads_the_two_tables_and_invokes_the_one_endpoint_nothing_more():
    statements = _statements("ScoreApiRole")
    granted = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for statement in statements.values()
        for action in _as_list(statement["Action"])
    }
    score = _statements("ScoreCallRole")["Score"]["Resource"]
    assert granted == {
        ("logs:CreateLogStream", '{"Fn::GetAtt": ["ScoreApiLogGroup", "Arn"]}'),
        ("logs:PutLogEvents", '{"Fn::GetAtt": ["ScoreApiLogGroup", "Arn"]}'),
        ("xray:PutTraceSegments", '"*"'),
        ("xray:PutTelemetryRecords", '"*"'),
        ("dynamodb:GetItem", '{"Fn::GetAtt": ["ProfilesTable", "Arn"]}'),
        ("dynamodb:GetItem", '{"Fn::GetAtt": ["CallsTable", "Arn"]}'),
        ("dynamodb:Query", '{"Fn::Sub": "${CallsTable.Arn}/index/by-customer"}'),
        # the same endpoint the score function invokes, in both endpoint modes
        ("sagemaker:InvokeEndpoint", json.dumps(score, sort_keys=True)),
    }
    assert all(s["Effect"] == "Allow" for s in statements.values())


def test_score_api_resource_policy_refuses_plain_http_and_opens_only_named_accounts():
    api = load_template()["Resources"]["ScoreApi"]["Properties"]
    statements = api["Auth"]["ResourcePolicy"]["CustomStatements"]
    deny = statements[0]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    condition, allowed, otherwise = statements[1]["Fn::If"]
    assert condition == "HasApiAllowedAccounts" and otherwise == {"Ref": "AWS::NoValue"}
    assert allowed["Effect"] == "Allow" and allowed["Action"] == "execute-api:Invoke"
    assert (
        api["Auth"]["DefaultAuthorizer"] == {"Ref": "ApiAuthorizer"} and api["Auth"]["ApiKeyRequired"] is True
    )
