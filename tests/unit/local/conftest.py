"""Fixtures for the local-stack unit tests: a small template with handlers of our own."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from churn_local.spec import FunctionSpec

TEMPLATE = """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  Threshold:
    Type: Number
    Default: 0.7
  AlertEmail:
    Type: String
    Default: ""
Conditions:
  HasEmail: !Not [!Equals [!Ref AlertEmail, ""]]
  IsProd: !Equals [!Ref Stage, prod]
Globals:
  Function:
    Runtime: python3.13
    Timeout: 5
    Environment:
      Variables:
        STAGE: !Ref Stage
        LOG_LEVEL: INFO
Resources:
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
  RecordingsBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub "recordings-${AWS::StackName}-${Stage}"
      NotificationConfiguration:
        EventBridgeConfiguration:
          EventBridgeEnabled: true
  CallsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - {AttributeName: job_name, AttributeType: S}
        - {AttributeName: customer_id, AttributeType: S}
      KeySchema:
        - {AttributeName: job_name, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: by-customer
          KeySchema: [{AttributeName: customer_id, KeyType: HASH}]
          Projection: {ProjectionType: ALL}
      TimeToLiveSpecification: {AttributeName: expires_at, Enabled: true}
      PointInTimeRecoverySpecification: {PointInTimeRecoveryEnabled: true}
  AlertTopic:
    Type: AWS::SNS::Topic
  EmailSubscription:
    Type: AWS::SNS::Subscription
    Condition: HasEmail
    Properties:
      TopicArn: !Ref AlertTopic
      Protocol: email
      Endpoint: !Ref AlertEmail
  FailureQueue:
    Type: AWS::SQS::Queue
    Properties:
      MessageRetentionPeriod: 1209600
  ProdOnlyQueue:
    Type: AWS::SQS::Queue
    Condition: IsProd
  RecordFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: handlers/
      Handler: record.handler
      Layers: [!Ref Layer]
      # A SAM policy template, expanded by aws-sam-translator into the function's role.
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref CallsTable}
      Environment:
        Variables:
          CALLS_TABLE: !Ref CallsTable
          TOPIC_ARN: !Ref AlertTopic
          THRESHOLD: !Ref Threshold
          BUCKET_ARN: !GetAtt RecordingsBucket.Arn
          MODE: !If [IsProd, strict, relaxed]
          GONE: !If [IsProd, x, !Ref AWS::NoValue]
      EventInvokeConfig:
        MaximumRetryAttempts: 1
        DestinationConfig:
          OnFailure:
            Type: SQS
            Destination: !GetAtt FailureQueue.Arn
      Events:
        Uploaded:
          Type: EventBridgeRule
          Properties:
            Pattern:
              source: [aws.s3]
              detail-type: [Object Created]
              detail:
                bucket: {name: [!Ref RecordingsBucket]}
                object: {key: [{prefix: recordings/}]}
  FlakyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: handlers/
      Handler: flaky.handler
      Timeout: 2
      # Lambda sends its on-failure records with this role (FlakyInvokeConfig below).
      Policies:
        - SQSSendMessagePolicy: {QueueName: !GetAtt FailureQueue.QueueName}
  FlakyInvokeConfig:
    Type: AWS::Lambda::EventInvokeConfig
    Properties:
      FunctionName: !Ref FlakyFunction
      Qualifier: $LATEST
      MaximumRetryAttempts: 2
      DestinationConfig:
        OnFailure:
          Destination: !GetAtt FailureQueue.Arn
  JobsRule:
    Type: AWS::Events::Rule
    Properties:
      EventPattern:
        source: [aws.transcribe]
        detail-type: [Transcribe Job State Change]
        detail:
          TranscriptionJobName: [{prefix: !Sub "churn-${Stage}-"}]
      Targets:
        - Id: flaky
          Arn: !GetAtt FlakyFunction.Arn
Outputs:
  Bucket:
    Value: !Ref RecordingsBucket
  Email:
    Condition: HasEmail
    Value: !Ref AlertEmail
"""

RECORD_HANDLER = """
import os

import boto3

import layer_helper

table = boto3.resource("dynamodb").Table(os.environ["CALLS_TABLE"])


def handler(event, context):
    print("record handler got", event["detail-type"])
    key = event["detail"]["object"]["key"]
    table.put_item(Item={"job_name": key, "customer_id": "c1", "stage": os.environ["STAGE"],
                         "marker": layer_helper.MARKER, "etag": event["detail"]["object"].get("etag", "-"),
                         "reason": event["detail"]["reason"]})
    if "poison" in key:
        raise RuntimeError("poison recording")
    return {"stored": key, "remaining_ms": context.get_remaining_time_in_millis() > 0}
"""

FLAKY_HANDLER = """
import json
import os
import time
from pathlib import Path

COUNTER = Path(os.environ.get("FLAKY_COUNTER", Path(__file__).with_name("flaky-counter")))


def handler(event, context):
    detail = event.get("detail", {})
    calls = int(COUNTER.read_text()) + 1 if COUNTER.exists() else 1
    COUNTER.write_text(str(calls))
    if detail.get("sleep"):
        time.sleep(detail["sleep"])
    if calls <= detail.get("fail_times", 0):
        raise ValueError(f"failure number {calls}")
    return {"calls": calls, "env_table": os.environ.get("CALLS_TABLE")}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "record.py").write_text(textwrap.dedent(RECORD_HANDLER))
    (tmp_path / "handlers" / "flaky.py").write_text(textwrap.dedent(FLAKY_HANDLER))
    (tmp_path / "layer").mkdir()
    (tmp_path / "layer" / "layer_helper.py").write_text('MARKER = "from-layer"\n')
    return tmp_path


def function_spec(code: Path, name: str = "echo", **fields: Any) -> FunctionSpec:
    """A function whose handler is ``app.handler`` in ``code``, outside any deployed stack."""
    defaults: dict[str, Any] = {
        "logical_id": f"{name.title()}Function",
        "name": name,
        "arn": f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        "code_uri": code,
        "handler": "app.handler",
        "environment": {},
        "timeout_s": 30,
        "memory_mb": 128,
    }
    return FunctionSpec(**{**defaults, **fields})
