"""Least privilege in template.yaml: no ``Resource: "*"`` outside a short, commented allow-list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from churn_local.template import load_template as read_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def load_template() -> dict[str, Any]:
    return read_template(TEMPLATE)


# (resource logical id, statement Sid) -> why "*" is the only possible resource.
ALLOWED_WILDCARDS = {
    ("StartTranscriptionRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("ScoreCallRole", "Tracing"): "X-Ray PutTraceSegments/PutTelemetryRecords take no resource",
    ("ScoringModelRole", "EcrLogin"): "ecr:GetAuthorizationToken takes no resource",
    ("AlertTopicKey", "AccountAdministers"): "in a key policy, * is the key itself",
    ("OpsTopicKey", "AccountAdministers"): "in a key policy, * is the key itself",
    ("OpsTopicKey", "CloudWatchAlarmsPublish"): "in a key policy, * is the key itself",
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


@pytest.mark.parametrize("role", ["StartTranscriptionRole", "ScoreCallRole"])
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


def test_invoke_endpoint_follows_the_endpoint_mode():
    resource = _statements("ScoreCallRole")["Score"]["Resource"]
    condition, created, existing = resource["Fn::If"]
    assert condition == "CreateEndpoint" and created == {"Ref": "ScoringEndpoint"}
    assert existing["Fn::Sub"].endswith(":endpoint/${EndpointName}")


def test_model_role_reads_only_the_model_artifact():
    statements = _statements("ScoringModelRole")
    s3_statements = [
        s for s in statements.values() if any(a.startswith("s3:") for a in _as_list(s["Action"]))
    ]
    assert [s["Sid"] for s in s3_statements] == ["ReadModelArtifact"]
    assert _as_list(s3_statements[0]["Action"]) == ["s3:GetObject"]


def test_bucket_policy_denies_insecure_transport():
    (statement,) = [s for lid, s in policy_statements(load_template()) if lid == "RecordingsBucketPolicy"]
    assert statement["Effect"] == "Deny" and statement["Condition"] == {
        "Bool": {"aws:SecureTransport": "false"}
    }
