"""Shared fixtures for the Lambda tests: moto-backed AWS with the template's resources."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"
STACK = "churn-test"
BUCKET = "churn-test-recordingsbucket"
CALLS = "churn-test-calls"
PROFILES = "churn-test-profiles"
CUSTOMER_ALERTS = "churn-test-customer-alerts"
PREFIX = f"{STACK}-"


def calls_table_definition(name: str) -> dict[str, Any]:
    """The calls table as template.yaml declares it (keys and indexes), for moto."""
    from churn_ops.template_rules import load_template

    from tests.conftest import ROOT

    props = load_template(ROOT / "template.yaml")["Resources"]["CallsTable"]["Properties"]
    return {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"],
        "BillingMode": "PAY_PER_REQUEST",
    }


@dataclass
class Aws:
    s3: Any
    dynamodb: Any
    sns: Any
    sqs: Any
    transcribe: Any
    topic_arn: str
    queue_url: str

    def call(self, job_name: str) -> dict[str, Any] | None:
        return (
            self.dynamodb.Table(CALLS).get_item(Key={"job_name": job_name}, ConsistentRead=True).get("Item")
        )

    def alerts(self) -> list[dict[str, Any]]:
        """Every SNS notification the retention-team queue received (SNS envelopes)."""
        received = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not batch:
                return received
            for message in batch:
                received.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_TRANSCRIBE",
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ChurnAlerts")


@pytest.fixture(scope="session")
def sdk() -> dict[str, Any]:
    """Test-side clients, made once: moto intercepts them whenever a mock is active."""
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)
    return {
        "s3": session.client("s3"),
        "dynamodb": session.resource("dynamodb"),
        "sns": session.client("sns"),
        "sqs": session.client("sqs"),
        "transcribe": session.client("transcribe"),
    }


@pytest.fixture
def aws(aws_env: None, sdk: dict[str, Any]) -> Iterator[Aws]:
    with mock_aws():
        s3 = sdk["s3"]
        s3.create_bucket(Bucket=BUCKET)
        dynamodb = sdk["dynamodb"]
        for name, key in ((PROFILES, "customer_id"), (CUSTOMER_ALERTS, "customer_id")):
            dynamodb.create_table(
                TableName=name,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        dynamodb.create_table(**calls_table_definition(CALLS))
        sns = sdk["sns"]
        topic_arn = sns.create_topic(Name="churn-test-alerts")["TopicArn"]
        sqs = sdk["sqs"]
        queue_url = sqs.create_queue(QueueName="retention-team")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        yield Aws(
            s3=s3,
            dynamodb=dynamodb,
            sns=sns,
            sqs=sqs,
            transcribe=sdk["transcribe"],
            topic_arn=topic_arn,
            queue_url=queue_url,
        )


class LambdaContext:
    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    memory_limit_in_mb = 256
    aws_request_id = "5b3a0c1e-7f7a-4d2b-9a55-0c6f0c7f1a11"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "2026/11/28/[$LATEST]0123456789abcdef"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext()


def emitted_metrics(stdout: str) -> dict[str, list[float]]:
    """Metric values from the EMF documents Powertools printed, by metric name."""
    found: dict[str, list[float]] = {}
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        document = json.loads(line)
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                found.setdefault(metric["Name"], []).extend(value if isinstance(value, list) else [value])
    return found
