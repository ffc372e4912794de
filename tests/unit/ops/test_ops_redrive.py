"""Redriving dead-letter queues against moto (SQS, Lambda without Docker, CloudFormation)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from churn_ops import redrive
from moto import mock_aws

from tests.conftest import load_format

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture
def aws() -> Any:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield boto3.Session(region_name=REGION)


def _function(session: boto3.Session, name: str) -> str:
    role = session.client("iam").create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return event\n")
    return session.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def _recording_lambda(session: boto3.Session) -> tuple[Any, list[dict[str, Any]]]:
    """A real boto3 Lambda client, with the Invoke requests it sends written down."""
    client = session.client("lambda")
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "provide-client-params.lambda.Invoke", lambda params, **_: sent.append(dict(params))
    )
    return client, sent


def _destination_record(function_arn: str, payload: dict[str, Any]) -> str:
    # The documented shape of an asynchronous invocation record sent to an on-failure destination.
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2026-11-29T00:00:00.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-4e4a-8880-a18cdf61200e",
                "functionArn": f"{function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorMessage": "boom", "errorType": "RuntimeError"},
        }
    )


def _queue(session: boto3.Session, name: str) -> str:
    return session.client("sqs").create_queue(QueueName=name)["QueueUrl"]


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_destination_records_reinvoke_the_function_with_the_original_payload(aws: boto3.Session) -> None:
    arn = _function(aws, "StartTranscription")
    sqs = aws.client("sqs")
    dlq = _queue(aws, "start-transcription-failures")
    notification = load_format("s3-put-notification.json")
    sqs.send_message(QueueUrl=dlq, MessageBody=_destination_record(arn, notification))
    lambda_client, sent = _recording_lambda(aws)

    report = redrive.redrive(dlq, sqs=sqs, lambda_client=lambda_client, wait_s=0)

    assert report.counts() == {"sent": 1}
    assert report.outcomes[0].kind == "destination-record"
    assert sent == [{"FunctionName": arn, "InvocationType": "Event", "Payload": json.dumps(notification)}]
    assert _depth(sqs, dlq) == 0


def test_rule_dlq_events_go_to_the_rule_target(aws: boto3.Session) -> None:
    arn = _function(aws, "ScoreCall")
    sqs = aws.client("sqs")
    dlq = _queue(aws, "score-call-rule-dlq")
    event = json.dumps(load_format("eventbridge-transcribe-completed.json"))
    sqs.send_message(
        QueueUrl=dlq,
        MessageBody=event,
        MessageAttributes={
            "RULE_ARN": {
                "DataType": "String",
                "StringValue": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/transcribe-done",
            },
            "TARGET_ARN": {"DataType": "String", "StringValue": arn},
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
        },
    )
    lambda_client, sent = _recording_lambda(aws)

    report = redrive.redrive(dlq, sqs=sqs, lambda_client=lambda_client, wait_s=0)

    assert [(o.kind, o.target, o.status) for o in report.outcomes] == [("rule-dlq", arn, "sent")]
    assert sent[0]["Payload"] == event
    assert _depth(sqs, dlq) == 0


def test_dry_run_sends_nothing_and_leaves_every_message_visible(aws: boto3.Session) -> None:
    arn = _function(aws, "StartTranscription")
    sqs = aws.client("sqs")
    dlq = _queue(aws, "failures")
    for _ in range(3):
        sqs.send_message(QueueUrl=dlq, MessageBody=_destination_record(arn, {"Records": []}))
    lambda_client, sent = _recording_lambda(aws)

    report = redrive.redrive(dlq, sqs=sqs, lambda_client=lambda_client, dry_run=True, wait_s=0)

    assert report.counts() == {"would-send": 3}
    assert sent == []
    visible = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert visible["Attributes"]["ApproximateNumberOfMessages"] == "3"


def test_unknown_messages_are_kept_and_reported(aws: boto3.Session) -> None:
    sqs = aws.client("sqs")
    dlq = _queue(aws, "failures")
    sqs.send_message(QueueUrl=dlq, MessageBody='{"just": "an event"}')
    lambda_client, sent = _recording_lambda(aws)

    report = redrive.redrive(dlq, sqs=sqs, lambda_client=lambda_client, wait_s=0)

    assert report.counts() == {"skipped": 1}
    assert "--function" in report.outcomes[0].reason
    assert sent == []
    assert _depth(sqs, dlq) == 1  # nothing lost


def test_a_failed_send_keeps_the_message(aws: boto3.Session) -> None:
    sqs = aws.client("sqs")
    dlq = _queue(aws, "failures")
    sqs.send_message(QueueUrl=dlq, MessageBody="an alert")
    gone = dlq.replace("failures", "deleted-queue")

    report = redrive.redrive(dlq, sqs=sqs, lambda_client=aws.client("lambda"), to_queue=gone, wait_s=0)

    assert report.counts() == {"failed": 1}
    assert "NonExistentQueue" in report.outcomes[0].reason or "does not exist" in report.outcomes[0].reason
    assert _depth(sqs, dlq) == 1  # nothing lost


def test_move_to_queue_and_lambda_dlq_function(aws: boto3.Session) -> None:
    sqs = aws.client("sqs")
    dlq, source = _queue(aws, "alerts-dlq"), _queue(aws, "alerts")
    sqs.send_message(QueueUrl=dlq, MessageBody="kept as it is")

    report = redrive.redrive(dlq, sqs=sqs, lambda_client=aws.client("lambda"), to_queue=source, wait_s=0)

    assert report.counts() == {"sent": 1}
    moved = sqs.receive_message(QueueUrl=source)["Messages"]
    assert [m["Body"] for m in moved] == ["kept as it is"]
    resend = redrive.classify({"Body": "{}", "MessageAttributes": {}}, function="ScoreCall")
    assert (resend.kind, resend.target) == ("lambda-dlq", "ScoreCall")


def test_cli_reads_the_queue_from_the_stack_outputs(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq = _queue(aws, "failures")
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"FailuresQueueUrl": {"Value": dlq}},
    }
    aws.client("cloudformation").create_stack(StackName="churn-alerts", TemplateBody=json.dumps(template))

    assert redrive.main(["--stack", "churn-alerts", "--output", "FailuresQueueUrl", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["queue_url"] == dlq
    assert redrive.main(["--stack", "churn-alerts", "--output", "Nope"]) == 2
    assert "FailuresQueueUrl" in capsys.readouterr().err


def test_sends_are_paced_at_the_rate_and_the_report_says_so(aws: boto3.Session) -> None:
    """Issue 10 section 3: a redrive of a backlog must not become a burst."""
    arn = _function(aws, "ScoreCall")
    sqs = aws.client("sqs")
    dlq = _queue(aws, "score-call-failures")
    for index in range(6):
        sqs.send_message(QueueUrl=dlq, MessageBody=_destination_record(arn, {"n": index}))
    clock = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    pacer = redrive.Pacer(2.0, clock=lambda: clock[0], sleep=sleep)
    report = redrive.redrive(
        dlq, sqs=sqs, lambda_client=aws.client("lambda"), wait_s=0, rate=2.0, pacer=pacer
    )
    assert report.counts() == {"sent": 6}
    assert sleeps == [0.5] * 5  # the first goes at once, then one every half second
    document = report.to_dict()
    assert document["rate_per_s"] == 2.0 and "elapsed_s" in document
    assert redrive.parser().parse_args(["--queue", "q"]).rate == redrive.DEFAULT_RATE == 5.0
