"""Opt-in alerts from a bulk rescore, on moto: the pipeline's quiet window, once per run, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from churn_ops import batch_alerts
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
THRESHOLDS = {"medium": 0.12, "high": 0.42}


@pytest.fixture
def stack() -> Any:
    from churn_local.spec import read_stack

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        names = {}
        for table in read_stack(ROOT / "template.yaml", region=REGION).tables:
            dynamodb.create_table(**table.create_args)
            names[table.logical_id] = table.name
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName="retention")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
        resource = boto3.resource("dynamodb", region_name=REGION)
        yield {
            "calls": resource.Table(names["CallsTable"]),
            "profiles": resource.Table(names["ProfilesTable"]),
            "alerts": resource.Table(names["CustomerAlertsTable"]),
            "sns": sns,
            "topic": topic,
            "queue": queue,
            "sqs": sqs,
        }


def targets(stack: dict, topic: str | None = None) -> batch_alerts.Targets:
    return batch_alerts.Targets(
        calls=stack["calls"],
        profiles=stack["profiles"],
        window=batch_alerts.AlertWindow(stack["alerts"], timedelta(days=7)),
        publisher=batch_alerts.AlertPublisher(stack["sns"], topic or stack["topic"]),
        thresholds=THRESHOLDS,
    )


def received(stack: dict) -> list[dict]:
    messages = (
        stack["sqs"].receive_message(QueueUrl=stack["queue"], MaxNumberOfMessages=10).get("Messages", [])
    )
    return [json.loads(m["Body"]) for m in messages]


def line(customer: str, p: float, **extra: Any) -> dict:
    return {
        "customer_id": customer,
        "call_id": f"k-{customer}",
        "job_name": f"job-{customer}",
        "probability": p,
        "model_version": "m2",
        **extra,
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_only_the_newly_high_are_candidates(tmp_path: Path) -> None:
    previous = write(tmp_path / "old.jsonl", [line("A", 0.1), line("B", 0.5), line("C", 0.3)])
    scores = write(tmp_path / "new.jsonl", [line("A", 0.6), line("B", 0.7), line("C", 0.2), line("N", 0.9)])
    found = {c.customer_id: c.previous for c in batch_alerts.newly_high(scores, previous, 0.42)}
    assert found == {"A": 0.1, "N": None}  # B was already high; C is not high


def test_alerts_go_through_the_quiet_window_once_per_run(stack: dict, tmp_path: Path) -> None:
    stack["profiles"].put_item(Item={"customer_id": "A", "plan": "B"})
    # D's call was alerted by the pipeline two days ago: its window is held.
    stack["alerts"].put_item(
        Item={
            "customer_id": "D",
            "last_alert_job_name": "job-D-old",
            "state": "DELIVERED",
            "message_id": "m-old",
            "last_alerted_epoch": int((NOW - timedelta(days=2)).timestamp()),
            "expires_at": int((NOW + timedelta(days=5)).timestamp()),
        }
    )
    stack["calls"].put_item(Item={"job_name": "job-E", "customer_id": "E", "status": "ALERTED"})
    scores = write(tmp_path / "new.jsonl", [line("A", 0.8), line("D", 0.9), line("E", 0.7), line("L", 0.05)])
    candidates = list(batch_alerts.newly_high(scores, None, 0.42))

    report = batch_alerts.send_alerts(scores, candidates, targets(stack), now=NOW)
    assert (len(report.sent), report.suppressed, report.already_alerted_by_pipeline) == (1, 1, 1)
    messages = received(stack)
    assert len(messages) == 1
    document = json.loads(messages[0]["default"]) if "default" in messages[0] else messages[0]
    assert document["customer_id"] == "A" and document["risk_level"] == "high"
    assert document["excerpt"] is None  # bulk alerts carry no transcript text

    # The same run again (a re-run after a crash): the journal says it went out; nothing is re-sent.
    again = batch_alerts.send_alerts(scores, candidates, targets(stack), now=NOW + timedelta(minutes=1))
    assert (len(again.sent), again.already_sent) == (0, 1)
    assert received(stack) == []


def test_a_failed_publish_gives_the_window_back_and_the_next_run_sends(stack: dict, tmp_path: Path) -> None:
    scores = write(tmp_path / "new.jsonl", [line("A", 0.8)])
    candidates = list(batch_alerts.newly_high(scores, None, 0.42))
    broken = targets(stack, topic=stack["topic"] + "-deleted")
    report = batch_alerts.send_alerts(scores, candidates, broken, now=NOW)
    assert report.failed == 1 and report.sent == []
    assert "Item" not in stack["alerts"].get_item(Key={"customer_id": "A"})  # released, not held

    retry = batch_alerts.send_alerts(scores, candidates, targets(stack), now=NOW + timedelta(minutes=1))
    assert len(retry.sent) == 1 and len(received(stack)) == 1


def test_without_the_opt_in_nothing_is_sent(stack: dict, tmp_path: Path, capsys) -> None:
    scores = write(tmp_path / "new.jsonl", [line("A", 0.8)])
    assert batch_alerts.main([str(scores)]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["customer_id"] == "A" and "nothing sent" in captured.err
    assert received(stack) == []
