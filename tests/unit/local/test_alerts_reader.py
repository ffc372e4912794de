"""``python -m churn_local.alerts``: the alerts a plain local stack sent, read back (issue 24 s5)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from churn_local import alerts
from churn_local.aws import LocalAws, client


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _alert(customer: str) -> dict:
    body = {"schema_version": "1.2", "customer_id": customer, "risk_level": "high"}
    return {
        "kind": "alert",
        "dedupe_key": f"alert:{customer}",
        "subject": f"Churn risk: {customer}",
        "message": json.dumps(body),
        "attributes": "{}",
        "offer_id": "none",
    }


def test_only_published_alerts_are_shown_newest_first_with_their_bytes(local_aws: LocalAws, capsys) -> None:
    ddb = client("dynamodb", local_aws.url, "us-east-1")
    ddb.create_table(
        TableName="alerts-read",
        KeySchema=[{"AttributeName": "job_name", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_name", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    import boto3

    table = boto3.resource(
        "dynamodb",
        endpoint_url=local_aws.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).Table("alerts-read")
    table.put_item(
        Item={
            "job_name": "j-old",
            "customer_id": "C-1",
            "status": "ALERTED",
            "alert_status": "SENT",
            "alert_message_id": "m-1",
            "alerted_at": "2026-12-01T10:00:00.000Z",
            "alert": _alert("C-1"),
        }
    )
    table.put_item(
        Item={
            "job_name": "j-new",
            "customer_id": "C-2",
            "status": "ALERTED",
            "alert_status": "SENT",
            "alert_message_id": "m-2",
            "alerted_at": "2026-12-01T11:00:00.000Z",
            "alert": _alert("C-2"),
        }
    )
    # Claimed but not (yet) published, and scored without an alert: not sent, not shown.
    table.put_item(
        Item={
            "job_name": "j-pending",
            "customer_id": "C-3",
            "status": "SCORED",
            "alert_status": "PENDING",
            "alert": _alert("C-3"),
        }
    )
    table.put_item(Item={"job_name": "j-low", "customer_id": "C-4", "status": "SCORED", "risk_level": "low"})

    assert alerts.main(["--endpoint-url", local_aws.url, "--table", "alerts-read"]) == 0
    out = capsys.readouterr().out
    assert "2 shown" in out and out.index("call_id j-new") < out.index("call_id j-old")
    assert "Subject: Churn risk: C-2" in out and "C-3" not in out and "C-4" not in out

    assert alerts.main(["--json", "--endpoint-url", local_aws.url, "--table", "alerts-read"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["customer_id"] for line in lines] == ["C-2", "C-1"]
