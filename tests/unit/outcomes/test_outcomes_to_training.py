"""CRM import, and the training data built from the stack: an outcome recorded by the API, by an
email link and by an import reaches the data once; the horizon's rules; the split by time."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from churn_contracts.conversation import Conversation, Role, Turn
from churn_contracts.outcomes import Outcome, make_link_token
from churn_contracts.profile import record_to_item
from churn_contracts.transcribe import build_transcript
from churn_ops import outcomes as outcomes_cli
from churn_ops import training_from_stack as from_stack
from churn_ops.export_latest_calls import Sources
from outcomes_api.adapters import KmsMacSigner

from tests.unit.outcomes.conftest import REGION, table_definition
from tests.unit.outcomes.test_outcomes_api import call as api

BUCKET = "churn-test-recordings"
CALLS, PROFILES = "churn-test-calls", "churn-test-profiles"
TODAY = datetime.now(UTC).date()


@pytest.fixture
def stack(aws: dict[str, Any]) -> dict[str, Any]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(**table_definition("CallsTable", CALLS))
    dynamodb.create_table(**table_definition("ProfilesTable", PROFILES))
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=BUCKET)
    resource = boto3.resource("dynamodb", region_name=REGION)
    sources = Sources(profiles=resource.Table(PROFILES), calls=resource.Table(CALLS), s3=s3)
    return {**aws, "sources": sources, "outcomes": resource.Table(aws["table"])}


def said(words: str) -> list[Turn]:
    return [Turn(Role.AGENT, "How can I help?", 0.0), Turn(Role.CUSTOMER, words, 2.0)]


def add_call(
    stack: dict[str, Any], customer: str, job: str, day: date, words: str, status: str = "ALERTED"
) -> None:
    sources: Sources = stack["sources"]
    key = f"transcripts/{job}.json"
    sources.s3.put_object(
        Bucket=BUCKET, Key=key, Body=json.dumps(build_transcript(said(words), mode="channels"))
    )
    sources.calls.put_item(
        Item={
            "job_name": job,
            "customer_id": customer,
            "status": status,
            "created_at": f"{day.isoformat()}T10:00:00Z",
            "scored_at": f"{day.isoformat()}T10:05:00Z",
            "probability": Decimal("0.7"),
            "transcript_uri": f"s3://{BUCKET}/{key}",
        }
    )
    sources.profiles.put_item(Item=record_to_item(customer, {"plan": "A", "Day Mins": 100.0}))


def build(
    stack: dict[str, Any], tmp_path: Path, **kw: Any
) -> tuple[from_stack.Report, list[dict], list[dict]]:
    report = from_stack.build(stack["sources"], stack["outcomes"], tmp_path / "data", **kw)
    read = lambda name: [json.loads(x) for x in (tmp_path / "data" / name).read_text().splitlines()]  # noqa: E731
    return report, read("train.jsonl"), read("test.jsonl")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_outcome_by_api_link_and_import_reaches_the_training_data_once(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    add_call(stack, "C-1", "job-1", TODAY, "I am leaving for another provider.")
    add_call(stack, "C-2", "job-2", TODAY, "Thanks, all good.")
    # The same churn, three ways: the API, the alert email's "lost" link, and the CRM export.
    assert (
        api(
            "POST",
            "/v1/customers/C-1/outcomes",
            {"outcome": "churned", "date": TODAY.isoformat(), "call_id": "job-1"},
        )[0]
        == 201
    )
    token = make_link_token(
        KmsMacSigner(stack["kms"], stack["key"]), "C-1", "job-1", "lost", datetime.now(UTC)
    )
    assert api("POST", f"/v1/outcome-links/{token}")[0] == 200
    crm = write(
        tmp_path / "crm.csv",
        f"customer_id,outcome,date,call_id,note\nC-1,churned,{TODAY.isoformat()},job-1,ported out\n"
        f"C-2,stayed,{TODAY.isoformat()},,renewed\n",
    )
    report = outcomes_cli.import_file(crm, outcomes_cli.OutcomesTable(stack["outcomes"]))
    assert (report.created, report.already_recorded, report.errors) == (1, 1, [])
    # ... and one item for it in the table.
    items = stack["outcomes"].scan()["Items"]
    assert sorted(
        (i["customer_id"], i["outcome"], i["source"]) for i in items if i["sk"].startswith("outcome#")
    ) == [
        ("C-1", "churned", "api"),
        ("C-2", "stayed", "import"),
    ]
    built, train, test = build(
        stack, tmp_path, horizon_days=90, test_fraction=0.0, today=TODAY + timedelta(days=91)
    )
    rows = train + test
    assert [
        (r["customer_id"], r["call_id"], r["y"]) for r in sorted(rows, key=lambda r: r["customer_id"])
    ] == [
        ("C-1", "job-1", 1),
        ("C-2", "job-2", 0),
    ]
    assert rows[0]["text"] == Conversation(tuple(said("I am leaving for another provider."))).customer_text
    assert built.rows == 2 and built.profile_today == 2


def test_reimporting_changes_nothing_and_bad_rows_name_their_line(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    future = (TODAY + timedelta(days=30)).isoformat()
    crm = write(
        tmp_path / "crm.csv",
        "customer_id,outcome,date,note\n"
        f'C-1,saved,{TODAY},"a note\nover two lines"\n'  # a quoted newline: the next row is line 4
        f"C-2,happy,{TODAY},\n"
        f"C-3,churned,{future},\n"
        f"C 4,churned,{TODAY},\n"
        f"C-5,churned,{TODAY},x,extra\n"
        f"C-6,stayed,{TODAY},\n",
    )
    table = outcomes_cli.OutcomesTable(stack["outcomes"])
    first = outcomes_cli.import_file(crm, table)
    assert (first.rows, first.created) == (6, 2)
    assert [(line, name) for line, _, name in first.errors] == [
        (4, "outcome"),
        (5, "date"),
        (6, "customer_id"),
        (7, None),
    ]
    again = outcomes_cli.import_file(crm, table)
    assert (again.created, again.already_recorded, len(again.errors)) == (0, 2, 4)
    assert len(stack["outcomes"].scan()["Items"]) == 2

    lines = write(
        tmp_path / "crm.jsonl",
        json.dumps({"customer_id": "C-1", "outcome": "saved", "date": TODAY.isoformat()})  # the CSV's C-1
        + "\n\n{not json\n"
        + json.dumps(["a list"])
        + "\n"
        + json.dumps(
            {"customer_id": "C-7", "outcome": "contacted", "date": TODAY.isoformat(), "offer_id": "o-1"}
        )
        + "\n",
    )
    report = outcomes_cli.import_file(lines, table)
    assert (report.created, report.already_recorded) == (1, 1)
    assert [(line, msg) for line, msg, _ in report.errors] == [
        (3, "not valid JSON"),
        (4, "not a JSON object"),
    ]


def test_the_cli_exits_1_on_bad_rows_and_2_without_a_table(
    stack: dict[str, Any], tmp_path: Path, capsys
) -> None:
    crm = write(tmp_path / "crm.csv", f"customer_id,outcome,date\nC-1,saved,{TODAY}\nC-2,nope,{TODAY}\n")
    assert outcomes_cli.main(["import", str(crm), "--table", stack["table"]]) == 1
    out = capsys.readouterr().out
    assert "line 3: outcome must be one of" in out and "2 rows: 1 recorded" in out
    assert outcomes_cli.main(["import", str(crm), "--table", stack["table"], "--dry-run"]) == 1
    assert outcomes_cli.main(["import", str(tmp_path / "none.csv"), "--table", "t"]) == 2
    assert outcomes_cli.main(["import", str(write(tmp_path / "x.txt", "")), "--table", "t"]) == 2
    assert outcomes_cli.main(["import", str(write(tmp_path / "h.csv", "id,outcome\n")), "--table", "t"]) == 2


def o(kind: str, day: date) -> Outcome:
    return Outcome("C", kind, day, source="api")


D = date(2026, 1, 10)
H = timedelta(days=90)


@pytest.mark.parametrize(
    ("outcomes", "today", "expected"),
    [
        (
            [o("churned", D + timedelta(days=30))],
            D + timedelta(days=31),
            1,
        ),  # decided before the horizon ends
        ([o("churned", D + timedelta(days=120))], D + timedelta(days=200), 0),  # left, but past the horizon
        ([o("saved", D + timedelta(days=5))], D + timedelta(days=91), 0),
        ([o("saved", D + timedelta(days=5))], D + timedelta(days=60), None),  # horizon not over
        (
            [o("stayed", D - timedelta(days=5))],
            D + timedelta(days=100),
            None,
        ),  # before the call: says nothing
        ([o("contacted", D), o("offer_declined", D)], D + timedelta(days=100), None),
        (
            [o("saved", D + timedelta(days=2)), o("churned", D + timedelta(days=40))],
            D + timedelta(days=100),
            1,
        ),
        ([], D + timedelta(days=100), None),
    ],
)
def test_the_horizon_rules(outcomes: list[Outcome], today: date, expected: int | None) -> None:
    assert from_stack.label(D, outcomes, H, today)[0] == expected


def test_older_calls_train_newer_test_and_undecided_are_counted(
    stack: dict[str, Any], tmp_path: Path
) -> None:
    start = TODAY - timedelta(days=300)
    for i in range(10):
        day = start + timedelta(days=20 * i)
        add_call(stack, f"C-{i}", f"job-{i}", day, "words")
        kind = "churned" if i % 2 else "stayed"
        stack["outcomes"].put_item(
            Item=Outcome(f"C-{i}", kind, day + timedelta(days=1), source="import").to_item(datetime.now(UTC))
        )
    add_call(stack, "C-new", "job-new", TODAY - timedelta(days=3), "words")  # no outcome, horizon not over
    report, train, test = build(stack, tmp_path, horizon_days=90, test_fraction=0.2, today=TODAY)
    # Calls 0-9 are decided only where the horizon is over or they churned (odd ones) within it.
    assert report.calls == 11
    decided = [r["call_id"] for r in train + test]
    assert "job-new" not in decided and report.undecided["horizon not over"] >= 1
    days = {f"job-{i}": start + timedelta(days=20 * i) for i in range(10)}
    assert max(days[r["call_id"]] for r in train) <= min(days[r["call_id"]] for r in test)
    assert len(test) == round(len(decided) * 0.2)
    assert sum(sum(c.values()) for c in report.by_month.values()) == report.rows == len(decided)
    assert "month      y=0   y=1" in report.lines()


def test_training_data_from_stack_through_the_cli(stack: dict[str, Any], tmp_path: Path, capsys) -> None:
    from churn_ops.training_data import main as training_data

    add_call(stack, "C-1", "job-1", TODAY - timedelta(days=10), "I am off.")
    stack["outcomes"].put_item(Item=Outcome("C-1", "churned", TODAY, source="api").to_item(datetime.now(UTC)))
    args = ["--from-stack", "--out", str(tmp_path / "d"), "--test-fraction", "0"]
    tables = ["--calls-table", CALLS, "--profiles-table", PROFILES, "--outcomes-table", stack["table"]]
    assert training_data([*args, *tables, "--region", REGION]) == 0
    out = capsys.readouterr().out
    assert "1 scored calls -> 1 labelled rows" in out and "train: 1 rows (y=0 0, y=1 1)" in out
    assert training_data([*args, "--test-fraction", "1.5", *tables]) == 2


def test_a_row_uses_the_profile_as_scored_not_todays(stack: dict[str, Any], tmp_path: Path) -> None:
    from churn_contracts.profile import item_to_record
    from score_call.adapters.calls import bounded_profile

    add_call(stack, "C-7", "job-7", TODAY, "I am leaving for another provider.")
    # What the score function wrote with the score (its own adapter), then the profile moved on.
    scored = item_to_record(record_to_item("C-7", {"plan": "B", "Day Mins": 250.5, "CustServ Calls": 4}))
    stack["sources"].calls.update_item(
        Key={"job_name": "job-7"},
        UpdateExpression="SET scored_profile = :p",
        ExpressionAttributeValues={":p": bounded_profile(scored)},
    )
    stack["sources"].profiles.put_item(Item=record_to_item("C-7", {"plan": "A", "Day Mins": 100.0}))
    api("POST", "/v1/customers/C-7/outcomes", {"outcome": "churned", "date": TODAY.isoformat()})
    built, train, test = build(
        stack, tmp_path, horizon_days=90, test_fraction=0.0, today=TODAY + timedelta(days=91)
    )
    (row,) = train + test
    assert (row["plan"], row["Day Mins"], row["CustServ Calls"]) == ("B", 250.5, 4.0)
    assert built.profile_today == 0
