"""Training data from what happened: each scored call joined with the customer's outcome.

    python -m churn_ops.training_data --from-stack --out data-stack            # the local stack
    python -m churn_ops.training_data --from-stack --out D --stack-name churn-alerts [--region R]
        [--horizon-days 90] [--test-fraction 0.2] [--as-of YYYY-MM-DD]

Every call the stack scored (SCORED or ALERTED) is one row: the customer text rebuilt from the
stored (redacted) transcript with the shared renderer (exactly what the score function sent the
endpoint), the profile the score used where the call item stores it (``scored_profile``), else
the profile as it is today (counted), and a label from the outcomes table:

- 1 when the customer ``churned`` within the horizon after the call (default 90 days);
- 0 when the horizon is over and the customer was still there: a ``saved`` or ``stayed`` outcome
  after the call, or a ``churned`` only past the horizon;
- otherwise undecided (no outcome yet, or the horizon not over): left out and counted.

Outcomes are read from the table, where the same outcome recorded by the API, an email link and
an import is one item, and each call is one row: an outcome reaches the data once. The rows are
written in the seed's training format (JSON Lines: ids, the profile's features, ``text``, ``y``),
split by time: older calls train, the newest ``--test-fraction`` test. Counts per label and per
month are printed. stdlib + boto3 only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from boto3.dynamodb.conditions import Attr
from churn_contracts.calls import CallStatus, parse_timestamp
from churn_contracts.features import CALL_ID, CATEGORICAL, CUSTOMER_ID, LABEL, NUMERICAL, TEXT
from churn_contracts.outcomes import OUTCOME_PREFIX, Outcome
from churn_contracts.profile import item_to_record
from churn_contracts.transcribe import DEFAULT_CUSTOMER_CHANNEL, DEFAULT_CUSTOMER_SPEAKER

from churn_ops.export_latest_calls import ExportError, Sources, customer_text, sources_from_args

DEFAULT_HORIZON_DAYS = 90
DEFAULT_TEST_FRACTION = 0.2
SCORED = (CallStatus.SCORED.value, CallStatus.ALERTED.value)
# The call item's copy of the profile the score used (written by the score function).
SCORED_PROFILE = "scored_profile"


def label(
    call_day: date, outcomes: Iterable[Outcome], horizon: timedelta, today: date
) -> tuple[int | None, str]:
    """(label, why) for a call on ``call_day`` given the customer's outcomes."""
    after = [o for o in outcomes if o.date >= call_day]
    end = call_day + horizon
    if any(o.outcome == "churned" and o.date <= end for o in after):
        return 1, "churned within the horizon"
    if today < end:
        return None, "horizon not over"
    if any(o.outcome in {"saved", "stayed"} for o in after):
        return 0, "still there past the horizon"
    if any(o.outcome == "churned" for o in after):
        return 0, "churned only past the horizon"
    return None, "no outcome after the call"


@dataclass
class Report:
    calls: int = 0
    rows: int = 0
    undecided: Counter[str] = field(default_factory=Counter)
    left_out: Counter[str] = field(default_factory=Counter)
    profile_today: int = 0
    by_month: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    split: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    def lines(self) -> list[str]:
        out = [f"{self.calls} scored calls -> {self.rows} labelled rows"]
        for why, count in sorted(self.undecided.items()):
            out.append(f"  undecided, left out: {count} ({why})")
        for why, count in sorted(self.left_out.items()):
            out.append(f"  left out: {count} ({why})")
        if self.profile_today:
            out.append(
                f"  {self.profile_today} rows with today's profile (the call item had no {SCORED_PROFILE})"
            )
        out.append("month      y=0   y=1")
        for month in sorted(self.by_month):
            counts = self.by_month[month]
            out.append(f"{month}  {counts[0]:5d} {counts[1]:5d}")
        for name in ("train", "test"):
            counts = self.split[name]
            out.append(f"{name}: {counts[0] + counts[1]} rows (y=0 {counts[0]}, y=1 {counts[1]})")
        return out


def outcomes_by_customer(table: Any) -> dict[str, list[Outcome]]:
    found: dict[str, list[Outcome]] = defaultdict(list)
    request: dict[str, Any] = {"FilterExpression": Attr("sk").begins_with(OUTCOME_PREFIX)}
    while True:
        page = table.scan(**request)
        for item in page.get("Items", []):
            outcome = Outcome.from_item(item)
            found[outcome.customer_id].append(outcome)
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def scored_calls(calls: Any) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {"FilterExpression": Attr("status").is_in(list(SCORED))}
    while True:
        page = calls.scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def build_rows(
    sources: Sources, outcomes_table: Any, horizon: timedelta, today: date, report: Report
) -> list[tuple[datetime, dict[str, Any]]]:
    outcomes = outcomes_by_customer(outcomes_table)
    rows: list[tuple[datetime, dict[str, Any]]] = []
    profiles: dict[str, dict[str, Any] | None] = {}
    for item in scored_calls(sources.calls):
        report.calls += 1
        customer = item.get(CUSTOMER_ID)
        scored_at = parse_timestamp(item.get("scored_at")) or parse_timestamp(item.get("created_at"))
        if not customer or scored_at is None or not item.get("transcript_uri"):
            report.left_out["no customer, time or transcript on the call item"] += 1
            continue
        y, why = label(scored_at.date(), outcomes.get(str(customer), ()), horizon, today)
        if y is None:
            report.undecided[why] += 1
            continue
        text = customer_text(sources, str(item["transcript_uri"]))
        if text is None:
            report.left_out["transcript unavailable"] += 1
            continue
        stored = item.get(SCORED_PROFILE)
        if isinstance(stored, Mapping):
            profile = item_to_record(stored)
        else:
            if customer not in profiles:
                found = sources.profiles.get_item(Key={CUSTOMER_ID: customer}).get("Item")
                profiles[customer] = item_to_record(found) if found else None
            if profiles[customer] is None:
                report.left_out["no profile"] += 1
                continue
            profile = profiles[customer]
            report.profile_today += 1
        row = {CUSTOMER_ID: str(customer), CALL_ID: str(item["job_name"]), **profile, TEXT: text, LABEL: y}
        rows.append((scored_at, row))
        report.by_month[scored_at.strftime("%Y-%m")][y] += 1
    report.rows = len(rows)
    return rows


def split_by_time(
    rows: list[tuple[datetime, dict[str, Any]]], test_fraction: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Older calls train, the newest ``test_fraction`` test (ties broken by call id, so stable)."""
    ordered = [row for _, row in sorted(rows, key=lambda pair: (pair[0], pair[1][CALL_ID]))]
    n_test = round(len(ordered) * test_fraction)
    return ordered[: len(ordered) - n_test], ordered[len(ordered) - n_test :]


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    columns = (CUSTOMER_ID, CALL_ID, *NUMERICAL, *CATEGORICAL, TEXT, LABEL)
    partial = path.with_suffix(path.suffix + ".tmp")
    with partial.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps({name: row.get(name) for name in columns}) + "\n")
    partial.replace(path)


def build(
    sources: Sources,
    outcomes_table: Any,
    out: Path,
    *,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    today: date | None = None,
) -> Report:
    report = Report()
    rows = build_rows(
        sources, outcomes_table, timedelta(days=horizon_days), today or datetime.now(UTC).date(), report
    )
    train, test = split_by_time(rows, test_fraction)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "test.jsonl", test)
    for name, part in (("train", train), ("test", test)):
        report.split[name].update(row[LABEL] for row in part)
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_ops.training_data --from-stack",
        description="Training data from the stack: each scored call labelled with what happened.",
    )
    p.add_argument("--out", type=Path, required=True, help="folder for train.jsonl and test.jsonl")
    p.add_argument("--horizon-days", type=int, default=DEFAULT_HORIZON_DAYS)
    p.add_argument("--test-fraction", type=float, default=DEFAULT_TEST_FRACTION)
    p.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="today, for the horizon (default: today)"
    )
    p.add_argument("--stack-name", help="a deployed stack: the tables come from its outputs")
    p.add_argument("--region", default=None)
    p.add_argument("--endpoint-url", default=None)
    p.add_argument("--profiles-table", default=None)
    p.add_argument("--calls-table", default=None)
    p.add_argument("--outcomes-table", default=None)
    p.add_argument("--state-file", default=str(Path(".local-stack") / "state.json"))
    p.add_argument("--customer-channel", default=DEFAULT_CUSTOMER_CHANNEL)
    p.add_argument("--customer-speaker", default=DEFAULT_CUSTOMER_SPEAKER)
    return p


def _outcomes_table(args: argparse.Namespace, sources: Sources) -> Any:
    name = args.outcomes_table
    if name is None:
        from churn_ops.outcomes import ImportFailed, table_from_args

        try:
            return table_from_args(argparse.Namespace(**{**vars(args), "table": None}))[0]
        except ImportFailed as exc:
            raise ExportError(str(exc)) from None
    return _resource_like(sources, name)


def _resource_like(sources: Sources, name: str) -> Any:
    """The outcomes table through the same connection as the calls table."""
    import boto3

    client = sources.calls.meta.client
    session = boto3.session.Session(region_name=client.meta.region_name)
    return session.resource("dynamodb", endpoint_url=client.meta.endpoint_url).Table(name)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not 0 <= args.test_fraction < 1 or args.horizon_days < 1:
        print("error: --test-fraction must be in [0, 1) and --horizon-days at least 1", file=sys.stderr)
        return 2
    try:
        sources, where = sources_from_args(args)
        outcomes = _outcomes_table(args, sources)
        report = build(
            sources,
            outcomes,
            args.out,
            horizon_days=args.horizon_days,
            test_fraction=args.test_fraction,
            today=args.as_of,
        )
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"from {where}")
    for line in report.lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
