"""The local IAM evaluator and its action table (churn_local.iam): what it decides, per statement."""

from __future__ import annotations

import pytest
from churn_local.iam import Context, decide, identifying, refusals, required

CTX = Context("us-east-1", "123456789012", {"arn:aws:sns:us-east-1:123456789012:alerts": "arn:aws:kms:k/1"})
BUCKET = "arn:aws:s3:::recordings"


def policy(*statements: dict) -> list[dict]:
    return [{"Version": "2012-10-17", "Statement": list(statements)}]


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/recordings/*"},
            "s3:GetObject",
            f"{BUCKET}/recordings/c/1.wav",
            "Allow",
        ),
        (
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/recordings/*"},
            "s3:GetObject",
            f"{BUCKET}/transcripts/1.json",
            "ImplicitDeny",
        ),
        ({"Effect": "Allow", "Action": "S3:Get*", "Resource": "*"}, "s3:GetObjectVersion", "x", "Allow"),
        (
            {"Effect": "Allow", "Action": "kms:GenerateDataKey*", "Resource": "k"},
            "kms:GenerateDataKey",
            "k",
            "Allow",
        ),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "iam:PassRole", "r", "ImplicitDeny"),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "sqs:SendMessage", "q", "Allow"),
        (
            {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::secret/*"},
            "s3:GetObject",
            "arn:aws:s3:::secret/a",
            "ImplicitDeny",
        ),
        # Resource ARNs are case-sensitive, actions are not.
        (
            {"Effect": "Allow", "Action": "s3:getobject", "Resource": f"{BUCKET}/Recordings/*"},
            "s3:GetObject",
            f"{BUCKET}/recordings/a",
            "ImplicitDeny",
        ),
    ],
)
def test_one_statement(statement: dict, action: str, resource: str, expected: str) -> None:
    assert decide(policy(statement), action, resource) == expected


def test_an_explicit_deny_wins_over_any_allow() -> None:
    policies = policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
    )
    assert decide(policies, "s3:DeleteObject", f"{BUCKET}/a") == "ExplicitDeny"
    assert decide(policies, "s3:GetObject", f"{BUCKET}/a") == "Allow"


def test_a_head_with_a_version_needs_get_object_version() -> None:
    plain = identifying("s3", "HeadObject", {"Bucket": "recordings", "Key": "recordings/a.wav"})
    versioned = identifying(
        "s3", "HeadObject", {"Bucket": "recordings", "Key": "recordings/a.wav", "VersionId": "v1"}
    )
    assert versioned == {"Bucket": "recordings", "Key": "recordings/a.wav", "VersionId": True}
    assert required("s3", "HeadObject", plain, CTX) == [("s3:GetObject", f"{BUCKET}/recordings/a.wav")]
    assert required("s3", "HeadObject", versioned, CTX) == [
        ("s3:GetObjectVersion", f"{BUCKET}/recordings/a.wav")
    ]


def test_publishing_to_an_encrypted_topic_needs_its_key() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:alerts"
    needed = required("sns", "Publish", {"TopicArn": topic}, CTX)
    assert needed == [
        ("sns:Publish", topic),
        ("kms:GenerateDataKey", "arn:aws:kms:k/1"),
        ("kms:Decrypt", "arn:aws:kms:k/1"),
    ]
    publish_only = policy({"Effect": "Allow", "Action": "sns:Publish", "Resource": topic})
    assert [r[0] for r in refusals(publish_only, "sns", "Publish", {"TopicArn": topic}, CTX)] == [
        "kms:GenerateDataKey",
        "kms:Decrypt",
    ]


def test_a_query_on_an_index_names_the_index_and_an_unknown_call_needs_its_own_action() -> None:
    query = required("dynamodb", "Query", {"TableName": "calls", "IndexName": "by-customer"}, CTX)
    assert query == [
        ("dynamodb:Query", "arn:aws:dynamodb:us-east-1:123456789012:table/calls/index/by-customer")
    ]
    assert required("s3", "RestoreObject", {}, CTX) == [("s3:RestoreObject", "*")]


def test_recorded_parameters_keep_names_never_bodies() -> None:
    kept = identifying("sns", "Publish", {"TopicArn": "t", "Message": "Jane Doe, 555-0100, wants to cancel"})
    assert kept == {"TopicArn": "t"}


def test_put_events_is_authorised_on_each_entrys_bus() -> None:
    """A role allowed only the stack's alert bus may not put on the default bus, and vice versa."""
    bus_arn = "arn:aws:events:us-east-1:123456789012:event-bus/churn-alerts"
    named = {"Entries": [{"EventBusName": "churn-alerts", "Detail": "{}"}]}
    by_arn = {"Entries": [{"EventBusName": bus_arn}]}
    default = {"Entries": [{"Detail": "{}"}]}
    assert required("events", "PutEvents", named, CTX) == [("events:PutEvents", bus_arn)]
    assert required("events", "PutEvents", by_arn, CTX) == [("events:PutEvents", bus_arn)]
    assert required("events", "PutEvents", default, CTX) == [
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/default")
    ]


def test_a_recorded_put_events_keeps_each_entrys_bus_never_its_detail() -> None:
    from churn_local.iam import identifying

    params = {"Entries": [{"EventBusName": "churn-alerts", "Detail": '{"excerpt": "my number is"}'}]}
    kept = identifying("events", "PutEvents", params)
    assert kept == {"Entries": [{"EventBusName": "churn-alerts"}]}
    assert required("events", "PutEvents", kept, CTX) == [
        ("events:PutEvents", "arn:aws:events:us-east-1:123456789012:event-bus/churn-alerts")
    ]
