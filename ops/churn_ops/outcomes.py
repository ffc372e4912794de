"""Outcomes from a CRM export into the stack's outcomes table.

    python -m churn_ops.outcomes import FILE                          # the local stack
    python -m churn_ops.outcomes import FILE --stack-name churn-alerts [--region R]
    python -m churn_ops.outcomes import FILE --table T [--endpoint-url URL] [--dry-run]

FILE is CSV (a header row: customer_id, outcome, date, and optionally call_id, offer_id, by, note)
or JSON Lines (``.jsonl``/``.ndjson``: one object a line, the same fields). Every row is checked
with the same rules as ``POST /v1/customers/{customer_id}/outcomes`` (churn_contracts.outcomes);
a bad row is reported with its line number and skipped, the good rows are imported. The same
outcome imported twice, or already recorded through the API or an email link, is one record
(the dedupe key), so re-running an import changes nothing. Exit status 1 when any row was bad.
stdlib + boto3 only.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from churn_contracts.outcomes import OutcomeError, parse_outcome

LOCAL_STATE = Path(".local-stack") / "state.json"
MAX_ERRORS_SHOWN = 50


class ImportFailed(RuntimeError):
    """The import cannot start: no file, an unknown format, no table."""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    already_recorded: int = 0
    errors: list[tuple[int, str, str | None]] = field(default_factory=list)  # (line, message, field)

    def lines(self) -> list[str]:
        shown = [
            f"line {line}: {message}" + (f" ({name})" if name else "") for line, message, name in self.errors
        ]
        if len(shown) > MAX_ERRORS_SHOWN:
            shown = [*shown[:MAX_ERRORS_SHOWN], f"... and {len(shown) - MAX_ERRORS_SHOWN} more"]
        return [
            *shown,
            f"{self.rows} rows: {self.created} recorded, {self.already_recorded} already recorded, "
            f"{len(self.errors)} refused",
        ]


def read_rows(path: Path) -> Iterator[tuple[int, Mapping[str, Any] | str]]:
    """(line number, fields) per row; a row that cannot be read at all yields its error text."""
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except (ValueError, RecursionError):
                    yield number, "not valid JSON"
                    continue
                yield number, value if isinstance(value, dict) else "not a JSON object"
    elif suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"customer_id", "outcome", "date"} - set(reader.fieldnames or ())
            if missing:
                raise ImportFailed(f"{path}: the header has no {', '.join(sorted(missing))} column")
            start = reader.line_num + 1
            for row in reader:
                if None in row:
                    yield start, "more values than the header has columns"
                else:
                    # An empty cell is an absent value, as a CRM writes it.
                    yield start, {k: v for k, v in row.items() if k is not None and v not in (None, "")}
                start = reader.line_num + 1
    else:
        raise ImportFailed(f"{path}: use .csv or .jsonl (JSON Lines)")


class OutcomesTable:
    """The outcomes table: a conditional put per outcome, as the API writes it."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def put(self, item: dict[str, Any]) -> bool:
        try:
            self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(customer_id)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def import_file(path: Path, table: OutcomesTable | None, now: datetime | None = None) -> ImportReport:
    """Import every good row; ``table`` None checks only (a dry run)."""
    now = now or datetime.now(UTC)
    report = ImportReport()
    for line, fields in read_rows(path):
        report.rows += 1
        if isinstance(fields, str):
            report.errors.append((line, fields, None))
            continue
        try:
            values = dict(fields)
            outcome = parse_outcome(values.pop("customer_id", None), values, "import", today=now.date())
        except OutcomeError as exc:
            report.errors.append((line, exc.message, exc.field))
            continue
        if table is None:
            continue
        if table.put(outcome.to_item(now)):
            report.created += 1
        else:
            report.already_recorded += 1
    return report


def _local_state(state_file: Path) -> tuple[str, str, Mapping[str, str]]:
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        raise ImportFailed(
            f"no local stack state at {state_file}: start one with `python -m churn_local.stack up`"
        ) from None
    return state["endpoints"]["aws"], state["endpoints"]["region"], state.get("outputs") or {}


def table_from_args(args: argparse.Namespace) -> tuple[Any, str]:
    endpoint, region, extra = args.endpoint_url, args.region, {}
    outputs: Mapping[str, str] = {}
    if args.stack_name:
        from churn_ops.stack import StackError, stack_outputs

        session = boto3.session.Session(region_name=region)
        try:
            outputs = stack_outputs(session.client("cloudformation", endpoint_url=endpoint), args.stack_name)
        except StackError as exc:
            raise ImportFailed(str(exc)) from None
    elif not args.table and endpoint is None:
        endpoint, region, outputs = _local_state(Path(args.state_file))
        extra = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    name = args.table or outputs.get("OutcomesTableName")
    if not name:
        raise ImportFailed("cannot tell the outcomes table: pass --stack-name or --table")
    session = boto3.session.Session(region_name=region, **extra)
    return session.resource("dynamodb", endpoint_url=endpoint).Table(name), name


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_ops.outcomes", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    imp = commands.add_parser("import", help="import a CRM export (CSV or JSON Lines)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--stack-name", help="a deployed stack: the table comes from its outputs")
    imp.add_argument("--table", help="the outcomes table's name")
    imp.add_argument("--region", default=None)
    imp.add_argument("--endpoint-url", default=None, help="another endpoint (e.g. a moto server)")
    imp.add_argument("--state-file", default=str(LOCAL_STATE), help="the local stack's state (default)")
    imp.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    args = parser.parse_args(argv)
    try:
        if not args.file.is_file():
            raise ImportFailed(f"{args.file}: no such file")
        table = None if args.dry_run else OutcomesTable(table_from_args(args)[0])
        report = import_file(args.file, table)
    except ImportFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ClientError as exc:
        print(f"error: {exc.response['Error'].get('Message', exc)}", file=sys.stderr)
        return 2
    for line in report.lines():
        print(line)
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
