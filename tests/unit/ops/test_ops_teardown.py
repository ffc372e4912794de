"""Teardown against moto: buckets emptied (every version), stack deleted, retained tables named."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from churn_ops import teardown
from churn_ops.stack import StackError
from moto import mock_aws

REGION = "us-east-1"
TEMPLATE = {
    "Resources": {
        # As in template.yaml: the recordings bucket and the tables are retained.
        "RecordingsBucket": {
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"VersioningConfiguration": {"Status": "Enabled"}},
        },
        "ScratchBucket": {"Type": "AWS::S3::Bucket"},
        "CallsTable": {
            "Type": "AWS::DynamoDB::Table",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "TableName": "churn-calls",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "job_name", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "job_name", "KeyType": "HASH"}],
            },
        },
        "AlertsTopic": {"Type": "AWS::SNS::Topic"},
    },
    "Outputs": {
        "RecordingsBucketName": {"Value": {"Ref": "RecordingsBucket"}},
        "ScratchBucketName": {"Value": {"Ref": "ScratchBucket"}},
    },
}


@pytest.fixture
def stack() -> Any:
    with mock_aws():
        session = boto3.Session(region_name=REGION)
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(StackName="churn-alerts", TemplateBody=json.dumps(TEMPLATE))
        outputs = cloudformation.describe_stacks(StackName="churn-alerts")["Stacks"][0]["Outputs"]
        bucket = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "RecordingsBucketName")
        scratch = next(o["OutputValue"] for o in outputs if o["OutputKey"] == "ScratchBucketName")
        s3 = session.client("s3")
        # moto's CloudFormation does not apply VersioningConfiguration; AWS does.
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"v1", b"v2"):
            s3.put_object(Bucket=bucket, Key="recordings/cust-1/call-1.wav", Body=body)
        s3.put_object(Bucket=bucket, Key="recordings/cust-2/call-9.mp3", Body=b"x")
        s3.delete_object(Bucket=bucket, Key="recordings/cust-2/call-9.mp3")  # leaves a delete marker
        s3.put_object(Bucket=scratch, Key="tmp/a", Body=b"a")
        yield session, bucket, scratch


def test_dry_run_counts_versions_and_changes_nothing(stack: Any) -> None:
    session, bucket, scratch = stack
    report = teardown.teardown(
        "churn-alerts", cloudformation=session.client("cloudformation"), s3=session.client("s3"), dry_run=True
    )
    assert report.emptied == {bucket: 4, scratch: 1}  # two versions, one object, one delete marker
    assert not report.deleted
    versions = session.client("s3").list_object_versions(Bucket=bucket)
    assert len(versions["Versions"]) + len(versions["DeleteMarkers"]) == 4
    assert session.client("cloudformation").describe_stacks(StackName="churn-alerts")["Stacks"]


def test_teardown_empties_the_bucket_deletes_the_stack_and_keeps_the_table(stack: Any) -> None:
    session, bucket, scratch = stack
    cloudformation = session.client("cloudformation")
    stack_id = cloudformation.describe_stacks(StackName="churn-alerts")["Stacks"][0]["StackId"]

    report = teardown.teardown(
        "churn-alerts", cloudformation=cloudformation, s3=session.client("s3"), wait=True
    )

    assert report.deleted and report.emptied == {bucket: 4, scratch: 1}
    assert sorted((r.logical_id, r.type, r.physical_id, r.policy) for r in report.retained) == [
        ("CallsTable", "AWS::DynamoDB::Table", "churn-calls", "Retain"),
        ("RecordingsBucket", "AWS::S3::Bucket", bucket, "Retain"),
    ]
    table = next(r for r in report.retained if r.logical_id == "CallsTable")
    assert table.delete_with == "aws dynamodb delete-table --table-name churn-calls"
    versions = session.client("s3").list_object_versions(Bucket=bucket)  # kept, and empty
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    status = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
    assert status == "DELETE_COMPLETE"
    assert "churn-calls" in session.client("dynamodb").list_tables()["TableNames"]


def test_keep_recordings_leaves_the_recordings(stack: Any) -> None:
    session, bucket, scratch = stack
    report = teardown.teardown(
        "churn-alerts",
        cloudformation=session.client("cloudformation"),
        s3=session.client("s3"),
        keep_recordings=True,
    )
    assert report.emptied == {scratch: 1}
    assert len(session.client("s3").list_object_versions(Bucket=bucket)["Versions"]) == 3


def test_a_missing_stack_is_a_clear_error(stack: Any) -> None:
    session, _, _ = stack
    with pytest.raises(StackError, match="not found"):
        teardown.teardown("nope", cloudformation=session.client("cloudformation"), s3=session.client("s3"))


def test_cli_refuses_without_yes(capsys: pytest.CaptureFixture[str]) -> None:
    assert teardown.main(["--stack", "churn-alerts"]) == 2
    assert "--yes" in capsys.readouterr().err
