"""The pipeline in one process on moto: upload -> start function -> transcript -> completion event ->
score function, scoring through the REAL inference handlers (a tiny trained model behind the local
SageMaker Runtime server) -> call item -> SNS -> the retention team's SQS queue."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import boto3
import pytest
from churn_contracts.conversation import Role, Turn
from churn_contracts.profile import record_to_item
from churn_contracts.transcribe import build_transcript
from moto import mock_aws

pytestmark = [pytest.mark.slow, pytest.mark.model]

REGION = "us-east-1"
BUCKET = "churn-flow-recordingsbucket"
PREFIX = "churn-flow-"
CANARY = "Zebracanary Quuxbridge"
CUSTOMER = "C-20417"
KEY = f"recordings/{CUSTOMER}/2026-11-28 call+1.wav"

TURNS = [
    Turn(Role.AGENT, "Thank you for calling, this is Sam, how can I help?", 0.0),
    Turn(Role.CUSTOMER, f"I have called four times about dropped calls and I want to cancel, {CANARY}.", 3.0),
    Turn(Role.AGENT, "I am sorry, let me look at your account.", 11.0),
    Turn(Role.CUSTOMER, "Do not bother, I am moving to another provider this week.", 14.5),
]
PROFILE = {
    "State": "OH",
    "Location": "urban",
    "plan": "gold",
    "limit": "unlimited",
    "Account Length": 128,
    "VMail Message": 0,
    "Day Mins": 265.1,
    "Day Calls": 110,
    "Day Charge": 45.07,
    "Eve Mins": 197.4,
    "Eve Calls": 99,
    "Eve Charge": 16.78,
    "Night Mins": 244.7,
    "Night Calls": 91,
    "Night Charge": 11.01,
    "Intl Mins": 10.0,
    "Intl Calls": 3,
    "Intl Charge": 2.7,
    "CustServ Calls": 4,
}


@pytest.fixture
def endpoint_url(tiny_model_dir: Path):
    from churn_model.serving.server import LocalEndpointServer

    with LocalEndpointServer(tiny_model_dir, host="127.0.0.1", port=0) as server:
        yield server.url


def _resources() -> dict:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    dynamodb = boto3.resource("dynamodb", region_name=REGION)
    tables = {}
    for name, key in (("calls", "job_name"), ("profiles", "customer_id"), ("customer-alerts", "customer_id")):
        tables[name] = dynamodb.create_table(
            TableName=f"churn-flow-{name}",
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="churn-flow-alerts")["TopicArn"]
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="retention-team")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return {"s3": s3, "tables": tables, "topic": topic, "sqs": sqs, "queue": queue}


def test_upload_to_alert_through_the_real_model(endpoint_url, monkeypatch, caplog, capsys):
    from score_call import handler as score_handler
    from start_transcription import handler as start_handler

    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_TRANSCRIBE", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoint_url,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "CALLS_TABLE": "churn-flow-calls",
        "PROFILES_TABLE": "churn-flow-profiles",
        "CUSTOMER_ALERTS_TABLE": "churn-flow-customer-alerts",
        "RECORDINGS_BUCKET": BUCKET,
        "JOB_NAME_PREFIX": PREFIX,
        "ENDPOINT_NAME": "churn-risk",
        "TRANSCRIPTION_MODE": "channels",
        # Everything is high risk here, so the real model's probability always reaches the alert.
        "MEDIUM_RISK_THRESHOLD": "0",
        "HIGH_RISK_THRESHOLD": "0",
        "ALERT_SUPPRESSION_DAYS": "7",
        # The canary below follows unredacted speech (redaction, on by default: test_alert_briefing.py).
        "PII_REDACTION": "false",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    start_handler.reset()
    score_handler.reset()

    with mock_aws():
        aws = _resources()
        monkeypatch.setenv("ALERT_TOPIC_ARN", aws["topic"])
        aws["tables"]["profiles"].put_item(Item=record_to_item(CUSTOMER, PROFILE))

        levels = {n: logging.getLogger(n).level for n in [*logging.root.manager.loggerDict, ""]}
        for name in levels:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            with caplog.at_level(logging.DEBUG):
                # 1-2. the upload, and the start function on the event moto's EventBridge would carry
                aws["s3"].put_object(Bucket=BUCKET, Key=KEY, Body=b"RIFF\x24\x00\x00\x00WAVEfmt ")
                uploaded = {
                    "version": "0",
                    "id": "0b6f7c1e-41a9-4c55-9d0e-5b8f3e2a7d10",
                    "detail-type": "Object Created",
                    "source": "aws.s3",
                    "account": "123456789012",
                    "time": "2026-11-28T14:09:44Z",
                    "region": REGION,
                    "resources": [f"arn:aws:s3:::{BUCKET}"],
                    "detail": {
                        "version": "0",
                        "bucket": {"name": BUCKET},
                        "object": {
                            "key": KEY,
                            "size": 16,
                            "etag": "x",
                            "version-id": "null",
                            "sequencer": "0067487A58D1E2F3A4",
                        },
                        "request-id": "N4B8X2R6T0V3Y7Z1",
                        "requester": "123456789012",
                        "reason": "ObjectCreated",
                    },
                }
                (job_name,) = start_handler.lambda_handler(uploaded, _Context())["started"]

                # 3. Transcribe's output where the job says (moto writes none)
                transcribe = boto3.client("transcribe", region_name=REGION)
                for _ in range(3):
                    job = transcribe.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
                uri = job["Transcript"]["TranscriptFileUri"]
                key = uri.split(f"/{BUCKET}/", 1)[1]
                document = build_transcript(TURNS, job_name=job_name, mode="channels")
                aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())

                # 4-5. the completion event, scored through the real inference handlers
                completed = {
                    "version": "0",
                    "id": "8f3b2a61-4c7d-4e2a-9b1f-0d6e5c4a3b29",
                    "detail-type": "Transcribe Job State Change",
                    "source": "aws.transcribe",
                    "account": "123456789012",
                    "time": "2026-11-28T14:11:02Z",
                    "region": REGION,
                    "resources": [],
                    "detail": {"TranscriptionJobName": job_name, "TranscriptionJobStatus": "COMPLETED"},
                }
                result = score_handler.lambda_handler(completed, _Context())
                again = score_handler.lambda_handler(completed, _Context())
        finally:
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)

        # 6. the call item: the opaque job name maps to the customer and the call
        item = aws["tables"]["calls"].get_item(Key={"job_name": job_name})["Item"]
        assert result["result"] == "alerted" and again["result"] == "duplicate"
        assert item["status"] == "ALERTED" and item["customer_id"] == CUSTOMER
        assert CUSTOMER not in job_name and "call" not in job_name.removeprefix(PREFIX)
        assert item["call_id"] == "2026-11-28 call+1" and "open_status" not in item
        assert item["model_version"] == "tiny-test-model" and item["profile_found"] is True
        assert 0.0 <= float(item["probability"]) <= 1.0 and item["missing_features"] == []

        # the same record straight to the endpoint gives the stored probability: the real model scored it
        from churn_contracts.profile import item_to_record
        from score_call.transcript import model_text

        record = {**item_to_record(PROFILE), "text": model_text(document, score_handler.settings())}
        runtime = boto3.client("sagemaker-runtime", region_name=REGION, endpoint_url=endpoint_url)
        direct = json.loads(
            runtime.invoke_endpoint(
                EndpointName="churn-risk", ContentType="application/json", Body=json.dumps(record)
            )["Body"].read()
        )
        assert round(direct["probability"], 6) == float(item["probability"])

        # 7. the retention team's queue got one message, with its attributes
        messages = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10)["Messages"]
        assert len(messages) == 1
        envelope = json.loads(messages[0]["Body"])
        alert = json.loads(envelope["Message"])
        assert alert["customer_id"] == CUSTOMER and alert["risk_level"] == "high"
        assert alert["recording"] == f"s3://{BUCKET}/{KEY}" and alert["model_version"] == "tiny-test-model"
        attributes = envelope["MessageAttributes"]
        assert attributes["risk_level"]["Value"] == "high" and attributes["plan"]["Value"] == "gold"
        assert float(attributes["probability"]["Value"]) == pytest.approx(
            float(item["probability"]), abs=1e-4
        )

    # the canary: in the stored excerpt and the alert, in no log record and no log line
    assert CANARY in item["excerpt"] and CANARY in alert["excerpt"]
    assert any(r.name.startswith("botocore") for r in caplog.records), "DEBUG logging was not active"
    leaks = [r.name for r in caplog.records if "Zebracanary" in f"{r.getMessage()} {r.__dict__}"]
    assert leaks == []
    captured = capsys.readouterr()
    assert "Zebracanary" not in captured.out and "Zebracanary" not in captured.err
    # ...nor the object key (it can hold a name or a phone number): not even botocore's DEBUG lines.
    key_leaks = [r.name for r in caplog.records if "call+1" in f"{r.getMessage()} {r.__dict__}"]
    assert key_leaks == [] and "call+1" not in captured.out and "call%2B1" not in captured.out


class _Context:
    function_name = "flow-test"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:flow-test"
    memory_limit_in_mb = 256
    aws_request_id = "9c0f4a57-3d1e-4b8b-8f6e-2a7c1d5e9b30"
    log_group_name = "/aws/lambda/flow-test"
    log_stream_name = "2026/11/28/[$LATEST]fedcba9876543210"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 120_000
