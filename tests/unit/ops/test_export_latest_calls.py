"""The bulk-scoring export against moto: the newest scored call, the shared renderer, streaming."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from churn_contracts.conversation import Conversation, Role, Turn
from churn_contracts.transcribe import build_transcript
from churn_ops import export_latest_calls as export
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
BUCKET = "churn-recordings"


def turns(words: str) -> list[Turn]:
    return [
        Turn(Role.AGENT, "Thanks for calling, how can I help?", 0.0),
        Turn(Role.CUSTOMER, f"{words}, and   the bill went up.", 2.0),
        Turn(Role.AGENT, "I see.", 6.0),
        Turn(Role.CUSTOMER, "Sort it out!", 8.0),
    ]


@pytest.fixture
def aws() -> Any:
    from churn_local.spec import read_stack

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        names = {}
        # The tables exactly as the template declares them (keys and the by-customer index).
        for table in read_stack(ROOT / "template.yaml", region=REGION).tables:
            if table.logical_id in ("ProfilesTable", "CallsTable"):
                dynamodb.create_table(**table.create_args)
                names[table.logical_id] = table.name
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        resource = boto3.resource("dynamodb", region_name=REGION)
        yield export.Sources(
            profiles=resource.Table(names["ProfilesTable"]), calls=resource.Table(names["CallsTable"]), s3=s3
        )


def add_call(
    sources: export.Sources,
    customer: str,
    call: str,
    created: str,
    status: str,
    text: str | None,
    mode: str = "channels",
) -> None:
    job = f"churn-{customer}-{call}"
    item: dict[str, Any] = {
        "job_name": job,
        "customer_id": customer,
        "call_id": call,
        "status": status,
        "created_at": created,
    }
    if text is not None:
        key = f"transcripts/{job}.json"
        sources.s3.put_object(
            Bucket=BUCKET, Key=key, Body=json.dumps(build_transcript(turns(text), mode=mode))
        )
        item["transcript_uri"] = f"s3://{BUCKET}/{key}"
        item["probability"] = Decimal("0.5")
    sources.calls.put_item(Item=item)


def customer_side(call: list[Turn]) -> str:
    return Conversation(tuple(call)).customer_text


def profile(customer: str, **values: Any) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "Account Length": Decimal(100),
        "plan": "B",
        "CustServ Calls": Decimal(4),
        **values,
    }


def test_one_record_per_customer_from_the_newest_scored_call(aws: export.Sources, tmp_path: Path) -> None:
    for customer in ("C1", "C2", "C3", "C4"):
        aws.profiles.put_item(Item=profile(customer))
    add_call(aws, "C1", "old", "2026-01-01T10:00:00.000Z", "SCORED", "I was fine back then")
    add_call(aws, "C1", "new", "2026-03-01T10:00:00.000Z", "ALERTED", "I am leaving you", mode="speakers")
    add_call(aws, "C1", "newest", "2026-03-02T10:00:00.000Z", "TRANSCRIBING", None)  # not scored yet
    add_call(aws, "C1", "failed", "2026-03-03T10:00:00.000Z", "SCORING_FAILED", None)
    add_call(aws, "C2", "only", "2026-02-01T10:00:00.000Z", "SCORED", "All good")
    add_call(aws, "C3", "gone", "2026-02-01T10:00:00.000Z", "SCORED", "Expired transcript")
    aws.s3.delete_object(Bucket=BUCKET, Key="transcripts/churn-C3-gone.json")  # lifecycle expiry
    # C4 has no call at all; C9 has a call but no profile (not a customer of the export).
    add_call(aws, "C9", "x", "2026-02-01T10:00:00.000Z", "SCORED", "Who am I")

    out = tmp_path / "customers.jsonl"
    report = export.export(aws, out)
    records = {r["customer_id"]: r for r in map(json.loads, out.read_text().splitlines())}

    assert sorted(records) == ["C1", "C2", "C3", "C4"]
    assert report.customers == 4 and report.with_call == 3 and report.without_scored_call == 1
    assert report.transcript_unavailable == 1
    c1 = records["C1"]
    assert (c1["call_id"], c1["job_name"]) == ("new", "churn-C1-new")
    # The shared renderer's text for that call, whatever the transcript's mode.
    assert c1["text"] == customer_side(turns("I am leaving you"))
    assert c1["text"] == "I am leaving you, and the bill went up. Sort it out!"
    assert c1["Account Length"] == 100.0 and c1["plan"] == "B" and c1["Day Mins"] is None
    assert records["C2"]["text"] == customer_side(turns("All good"))
    assert records["C3"]["call_id"] == "gone" and records["C3"]["text"] is None
    assert records["C4"]["call_id"] is None and records["C4"]["text"] is None
    assert not (tmp_path / "customers.jsonl.tmp").exists()


def test_export_streams_page_by_page(aws: export.Sources) -> None:
    for i in range(25):
        aws.profiles.put_item(Item=profile(f"C{i:03d}"))
    scans: list[int] = []
    original = aws.profiles.scan

    class CountingTable:
        def scan(self, **kwargs: Any) -> Any:
            scans.append(kwargs["Limit"])
            return original(**kwargs)

    sources = export.Sources(profiles=CountingTable(), calls=aws.calls, s3=aws.s3)
    records = export.export_records(sources, export.ExportReport(), page_size=10)
    first = next(records)
    assert first["customer_id"].startswith("C") and scans == [10]  # one page read, not the table
    assert len([first, *records]) == 25 and len(scans) == 3


def test_the_command_reads_tables_by_name_and_reports(aws: export.Sources, tmp_path: Path, capsys) -> None:
    aws.profiles.put_item(Item=profile("C1"))
    out = tmp_path / "o.jsonl"
    code = export.main(
        [
            "--output",
            str(out),
            "--profiles-table",
            aws.profiles.name,
            "--calls-table",
            aws.calls.name,
            "--region",
            REGION,
        ]
    )
    assert code == 0
    assert json.loads(capsys.readouterr().out)["customers"] == 1
    assert json.loads(out.read_text())["customer_id"] == "C1"


def test_without_a_local_stack_the_command_says_how_to_start_one(tmp_path: Path, capsys) -> None:
    code = export.main(["--output", str(tmp_path / "o.jsonl"), "--state-file", str(tmp_path / "none.json")])
    assert code == 2
    assert "churn_local.stack up" in capsys.readouterr().err


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("s3://b/transcripts/j.json", ("b", "transcripts/j.json")),
        ("https://s3.us-east-1.amazonaws.com/b/transcripts/j.json", ("b", "transcripts/j.json")),
    ],
)
def test_transcript_locations(uri: str, expected: tuple[str, str]) -> None:
    assert export.split_s3_uri(uri) == expected


def test_the_last_call_and_the_newest_alert_ride_along(aws: export.Sources, tmp_path: Path) -> None:
    for customer in ("C1", "C2"):
        aws.profiles.put_item(Item=profile(customer))
    add_call(aws, "C1", "alerted", "2026-03-01T10:00:00.000Z", "ALERTED", "I am leaving you")
    add_call(aws, "C1", "later", "2026-03-05T10:00:00.000Z", "SCORED", "Still here")
    add_call(aws, "C1", "older", "2026-01-01T10:00:00.000Z", "ALERTED", "Leaving")
    for job, at in (
        ("churn-C1-alerted", "2026-03-01T10:00:07.000Z"),
        ("churn-C1-older", "2026-01-01T10:00:05.000Z"),
    ):
        aws.calls.update_item(
            Key={"job_name": job},
            UpdateExpression="SET alerted_at = :a",
            ExpressionAttributeValues={":a": at},
        )
    aws.calls.update_item(
        Key={"job_name": "churn-C1-later"},
        UpdateExpression="SET scored_at = :s",
        ExpressionAttributeValues={":s": "2026-03-05T10:00:03.000Z"},
    )
    add_call(aws, "C2", "only", "2026-02-01T10:00:00.000Z", "SCORED", "All good")

    out = tmp_path / "customers.jsonl"
    export.export(aws, out)
    records = {r["customer_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    c1 = records["C1"]
    assert c1["call_id"] == "later" and c1["last_call_at"] == "2026-03-05T10:00:03.000Z"
    assert c1["alerted_at"] == "2026-03-01T10:00:07.000Z"  # the newest alert, from another call
    assert records["C2"]["alerted_at"] is None and records["C2"]["last_call_at"] == "2026-02-01T10:00:00.000Z"
