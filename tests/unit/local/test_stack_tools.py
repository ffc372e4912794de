"""The ops tools: profile loading (batch writes, rejected rows) and call listing, on moto."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from churn_local import calls, profiles
from churn_local.aws import LocalAws, client


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    with LocalAws() as aws:
        yield aws


def _table(aws: LocalAws, name: str, key: str) -> None:
    client("dynamodb", aws.url, "us-east-1").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def _items(aws: LocalAws, name: str) -> list[dict]:
    return client("dynamodb", aws.url, "us-east-1").scan(TableName=name)["Items"]


def test_csv_profiles_are_loaded_and_bad_rows_reported(local_aws: LocalAws, tmp_path: Path, capsys) -> None:
    _table(local_aws, "profiles-csv", "customer_id")
    rows = ["customer_id,Account Length,CustServ Calls,plan,State"]
    rows += [f"c{i},{100 + i},{i % 5},{'gold' if i % 2 else 'silver'},KS" for i in range(60)]
    rows += [",12,1,gold,KS", "c-bad,twelve,1,gold,KS", "c3,7,,gold,NY"]
    path = tmp_path / "profiles.csv"
    path.write_text("\n".join(rows) + "\n")

    code = profiles.main([str(path), "--endpoint-url", local_aws.url, "--table", "profiles-csv"])

    out = capsys.readouterr().out
    assert code == 1  # rejected rows make the exit status say so
    assert "60 written" in out and "1 repeated customer ids" in out
    assert "line 62: no customer_id" in out
    assert "line 63: 'Account Length' is not a number" in out
    assert "twelve" not in out  # values never echoed
    items = {i["customer_id"]["S"]: i for i in _items(local_aws, "profiles-csv")}
    assert len(items) == 60
    assert items["c3"]["Account Length"] == {"N": "7.0"} and items["c3"]["State"] == {"S": "NY"}
    assert "CustServ Calls" not in items["c3"]  # empty means missing, not zero


def test_jsonl_profiles_with_bad_json_and_non_objects(local_aws: LocalAws, tmp_path: Path) -> None:
    _table(local_aws, "profiles-jsonl", "customer_id")
    path = tmp_path / "profiles.jsonl"
    path.write_text(
        json.dumps({"customer_id": "a", "Day Mins": 12.5, "plan": "gold", "text": "ignored", "y": 1})
        + "\n{not json\n[1, 2]\n\n"
        + json.dumps({"customer_id": "b", "Day Mins": True})
        + "\n"
    )
    table = _resource_table(local_aws, "profiles-jsonl")

    report = profiles.load_profiles(profiles.read_rows(path), table)

    assert report.written == 1
    assert [(r.line, r.reason.split(" (")[0]) for r in report.rejected] == [
        (2, "not JSON"),
        (3, "not a JSON object"),
        (5, "'Day Mins' is not a number"),
    ]
    [item] = _items(local_aws, "profiles-jsonl")
    assert item["Day Mins"] == {"N": "12.5"} and "text" not in item


def _resource_table(aws: LocalAws, name: str):
    import boto3

    return (
        boto3.session.Session()
        .resource(
            "dynamodb",
            endpoint_url=aws.url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        .Table(name)
    )


def test_calls_listing_shows_recent_calls_and_alerts(local_aws: LocalAws, capsys) -> None:
    _table(local_aws, "calls-list", "job_name")
    table = _resource_table(local_aws, "calls-list")
    table.put_item(
        Item={
            "job_name": "j1",
            "customer_id": "c1",
            "call_id": "k1",
            "status": "TRANSCRIBING",
            "updated_at": "2026-01-01T00:00:01Z",
        }
    )
    table.put_item(
        Item={
            "job_name": "j2",
            "customer_id": "c2",
            "call_id": "k2",
            "status": "ALERTED",
            "risk_level": "high",
            "probability": Decimal("0.91"),
            "updated_at": "2026-01-01T00:00:03Z",
            "alerted_at": "2026-01-01T00:00:03Z",
        }
    )
    table.put_item(
        Item={
            "job_name": "j3",
            "customer_id": "c3",
            "call_id": "k3",
            "status": "TRANSCRIPTION_FAILED",
            "failure_reason": "bad media",
            "updated_at": "2026-01-01T00:00:02Z",
        }
    )

    assert calls.main(["--endpoint-url", local_aws.url, "--table", "calls-list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[2] for line in listing[3:]] == ["k2", "k3", "k1"]
    assert "0.910" in listing[3] and "bad media" in listing[4]

    assert calls.main(["--alerts", "--endpoint-url", local_aws.url, "--table", "calls-list"]) == 0
    alerts = capsys.readouterr().out.splitlines()
    assert len(alerts) == 4 and "ALERTED" in alerts[3]
