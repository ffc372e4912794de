"""Teardown of a stack deployed with ApiGatewayLogsRole=true: the region's logging role is kept
(the template retains it) and the report says how to delete it, and when not to."""

from __future__ import annotations

import json

import boto3
from churn_ops import teardown
from moto import mock_aws

TEMPLATE = {
    "Resources": {
        "RecordingsBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "RetainExceptOnCreate"},
        "ApiGatewayLogsAccountRole": {
            "Type": "AWS::IAM::Role",
            "DeletionPolicy": "Retain",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        },
    },
    "Outputs": {"RecordingsBucketName": {"Value": {"Ref": "RecordingsBucket"}}},
}


def test_the_logging_role_is_retained_with_its_delete_command_and_a_warning() -> None:
    with mock_aws():
        session = boto3.Session(region_name="us-east-1")
        cloudformation = session.client("cloudformation")
        cloudformation.create_stack(StackName="churn-logs", TemplateBody=json.dumps(TEMPLATE))
        report = teardown.teardown(
            "churn-logs", cloudformation=cloudformation, s3=session.client("s3"), dry_run=True
        )
    (role,) = [r for r in report.retained if r.logical_id == "ApiGatewayLogsAccountRole"]
    assert f"aws iam delete-role --role-name {role.physical_id}" in role.delete_with
    assert (
        "--policy-name api-gateway-logs" in role.delete_with and "no API in this region" in role.delete_with
    )
