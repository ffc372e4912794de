"""Issue 21: the alert on the stack's EventBridge bus ("Churn Risk Detected"), in moto with a
rule whose target is an SQS queue (as a CRM's API destination would receive it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from churn_lambda.retry import Backoff
from score_call.adapters.alerts import EVENT_DETAIL_TYPE, EVENT_SOURCE, AlertEvents
from score_call.config import load_settings
from score_call.events import parse_job_state_change
from score_call.models import Result
from score_call.service import handle_job_state_change

from tests.unit.functions.conftest import REGION
from tests.unit.functions.score_support import (
    ANGRY,
    CannedRuntime,
    add_profile,
    collaborators,
    completion,
    env_values,
    transcribed_call,
)

T0 = datetime(2026, 11, 28, 14, 11, 3, tzinfo=UTC)
BUS = "churn-test-alerts"


@pytest.fixture
def bus(aws) -> dict[str, Any]:
    """The stack's bus and one rule (the README's pattern) with an SQS target."""
    events = boto3.client("events", region_name=REGION)
    events.create_event_bus(Name=BUS)
    queue_url = aws.sqs.create_queue(QueueName="crm-cases")["QueueUrl"]
    queue_arn = aws.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="crm-cases",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]}),
    )
    events.put_targets(Rule="crm-cases", EventBusName=BUS, Targets=[{"Id": "crm", "Arn": queue_arn}])
    return {"events": events, "queue_url": queue_url}


def _received(aws, queue_url: str) -> list[dict[str, Any]]:
    got = []
    while batch := aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            got.append(json.loads(message["Body"]))
            aws.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return got


def _deps(aws, events: Any, **change: Any):
    deps = collaborators(aws, CannedRuntime())
    return type(deps)(**{**deps.__dict__, "events": events, **change})


def _run(aws, deps, name: str, at: datetime = T0):
    settings = load_settings(env_values(aws.topic_arn))
    return handle_job_state_change(parse_job_state_change(completion(name)), settings, deps, now=lambda: at)


def test_the_alert_goes_on_the_bus_with_the_sns_documents_content(aws, bus):
    add_profile(aws, "C-1")
    name = transcribed_call(aws, "C-1", "call-1", ANGRY)
    outcome = _run(aws, _deps(aws, AlertEvents(bus["events"], BUS)), name)
    assert outcome.result is Result.ALERTED and outcome.event_put is True
    (sns,) = [json.loads(e["Message"]) for e in aws.alerts()]
    (event,) = _received(aws, bus["queue_url"])
    assert (event["source"], event["detail-type"]) == (EVENT_SOURCE, EVENT_DETAIL_TYPE)
    assert event["detail"] == sns
    assert event["detail"]["dedupe_key"] == f"{name}/alert"


def test_a_retry_after_a_bookkeeping_fault_puts_an_identical_event(aws, bus):
    """SNS accepted and the event went, then the call item write failed: the takeover finishes the
    bookkeeping and puts the event again, identical (consumers dedupe on dedupe_key)."""
    add_profile(aws, "C-2")
    name = transcribed_call(aws, "C-2", "call-2", ANGRY)
    deps = _deps(aws, AlertEvents(bus["events"], BUS), sleep=lambda s: None)

    class Failing:
        def __init__(self, real: Any) -> None:
            self.real = real

        def __getattr__(self, attr: str) -> Any:
            return getattr(self.real, attr)

        def mark_alerted(self, *args: Any) -> bool:
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    broken = type(deps)(
        **{
            **deps.__dict__,
            "calls": Failing(deps.calls),
            "bookkeeping": Backoff(attempts=2, base_s=0, cap_s=0),
        }
    )
    with pytest.raises(ClientError):
        _run(aws, broken, name)
    later = T0 + timedelta(seconds=load_settings(env_values(aws.topic_arn)).lease_seconds + 1)
    outcome = _run(aws, deps, name, later)
    assert outcome.result is Result.ALERTED and outcome.event_put is True
    assert len(aws.alerts()) == 1  # the journal said SNS had it: not published twice
    first, second = _received(aws, bus["queue_url"])
    assert first["detail"] == second["detail"] and first["detail"]["dedupe_key"] == f"{name}/alert"


def test_a_bus_that_refuses_never_stops_the_sns_alert(aws, bus):
    add_profile(aws, "C-3")
    name = transcribed_call(aws, "C-3", "call-3", ANGRY)
    outcome = _run(aws, _deps(aws, AlertEvents(bus["events"], "no-such-bus")), name)
    assert outcome.result is Result.ALERTED and outcome.event_put is False
    assert len(aws.alerts()) == 1
    assert aws.call(name)["alert_status"] == "SENT" or aws.call(name).get("alerted_at")
    assert _received(aws, bus["queue_url"]) == []
