"""Load customer profiles from CSV or JSON Lines into the profiles table, local or real.

    python -m churn_local.profiles data/profiles.csv               # the running local stack
    python -m churn_local.profiles profiles.jsonl --real --stack-name churn-alerts

Rows become items with ``churn_contracts.profile.record_to_item``; a row that cannot
(no customer id, a non-numeric number, bad JSON) is rejected and reported by line and
field, never by value, and nothing else stops the load.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from churn_contracts.features import (
    CALL_ID,
    CATEGORICAL,
    CUSTOMER_ID,
    LABEL,
    NUMERICAL,
    PROFILE_FEATURES,
    TEXT,
)
from churn_contracts.profile import record_to_item

from .tables import TableNotFoundError, add_table_arguments, open_table


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class LoadReport:
    written: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def read(self) -> int:
        return self.written + self.duplicates + len(self.rejected)


# Columns the profiles table stores, and those a training file carries that it leaves out.
KNOWN_COLUMNS = frozenset({CUSTOMER_ID, *PROFILE_FEATURES})
IGNORED_COLUMNS = frozenset({TEXT, LABEL, CALL_ID})


def unknown_columns(columns: Iterable[str]) -> list[str]:
    """Each column that is no profile column, with the one it probably meant (case, spaces)."""
    by_folded = {_fold(name): name for name in KNOWN_COLUMNS}
    notes = []
    for column in columns:
        if column in KNOWN_COLUMNS or column in IGNORED_COLUMNS:
            continue
        meant = by_folded.get(_fold(column)) or next(
            iter(difflib.get_close_matches(column, sorted(KNOWN_COLUMNS), n=1, cutoff=0.8)), None
        )
        notes.append(f"{column!r} (did you mean {meant!r}?)" if meant else repr(column))
    return notes


def check_columns(columns: Iterable[str], where: str, warn: Callable[[str], None]) -> None:
    """Fail on a file with no profile feature at all; warn about each column that will be ignored."""
    columns = list(columns)
    if not any(column in PROFILE_FEATURES for column in columns):
        raise ValueError(
            f"{where}: none of the columns is a profile feature (expected some of: "
            f"{', '.join(PROFILE_FEATURES)}); nothing was loaded"
        )
    unknown = unknown_columns(columns)
    if unknown:
        warn(f"{where}: ignoring unknown column(s): {', '.join(unknown)}")


def read_rows(
    path: Path, fmt: str | None = None, warn: Callable[[str], None] = lambda message: None
) -> Iterator[tuple[int, Mapping[str, Any] | Exception]]:
    """(line number, row or the error that made it unreadable) for each data row.

    The columns are checked before any row is yielded: the CSV header, or a JSON Lines file's first
    object (later objects' new unknown keys are warned about as they appear).
    """
    fmt = fmt or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    with path.open(newline="", encoding="utf-8") as handle:
        if fmt == "csv":
            reader = csv.DictReader(handle)
            if reader.fieldnames is None or CUSTOMER_ID not in reader.fieldnames:
                raise ValueError(f"{path}: the CSV header has no {CUSTOMER_ID!r} column")
            check_columns(reader.fieldnames, f"{path}", warn)
            for row in reader:
                yield reader.line_num, row
            return
        seen: set[str] | None = None
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                row = json.loads(text)
            except ValueError as exc:
                yield number, ValueError(f"not JSON ({exc.msg})")
                continue
            if not isinstance(row, dict):
                yield number, ValueError("not a JSON object")
                continue
            if seen is None:
                check_columns(row, f"{path} (line {number})", warn)
                seen = set(row)
            elif not set(row) <= seen:
                new = [key for key in row if key not in seen]
                seen.update(new)
                notes = unknown_columns(new)
                if notes:
                    warn(f"{path} (line {number}): ignoring unknown key(s): {', '.join(notes)}")
            yield number, row


def _fold(name: str) -> str:
    return "".join(name.split()).lower()


def to_item(row: Mapping[str, Any]) -> dict[str, Any]:
    """The profile item for a row; raises ValueError naming the field at fault."""
    customer_id = row.get(CUSTOMER_ID)
    if customer_id is None or str(customer_id).strip() == "":
        raise ValueError(f"no {CUSTOMER_ID}")
    for name in NUMERICAL:
        value = row.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, bool):
            raise ValueError(f"{name!r} is not a number")
        try:
            float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name!r} is not a number") from None
    for name in CATEGORICAL:
        value = row.get(name)
        if value is not None and not isinstance(value, (str, int, float)):
            raise ValueError(f"{name!r} is not a text value")
    return record_to_item(str(customer_id).strip(), row)


def load_profiles(
    rows: Iterable[tuple[int, Mapping[str, Any] | Exception]],
    table: Any,
    progress: Callable[[int], None] = lambda n: None,
) -> LoadReport:
    """Batch-write the rows' items (25 per request, retried by boto3's batch writer)."""
    report = LoadReport()
    seen: Counter[str] = Counter()
    with table.batch_writer(overwrite_by_pkeys=[CUSTOMER_ID]) as batch:
        for line, row in rows:
            try:
                if isinstance(row, Exception):
                    raise row
                item = to_item(row)
            except ValueError as exc:
                report.rejected.append(Rejection(line, str(exc)))
            else:
                seen[item[CUSTOMER_ID]] += 1
                if seen[item[CUSTOMER_ID]] > 1:
                    report.duplicates += 1  # the later row wins, as a re-load would
                else:
                    report.written += 1
                batch.put_item(Item=item)
            progress(1)
    return report


def print_report(report: LoadReport, where: str, out: Any = None, max_lines: int = 20) -> None:
    out = out or sys.stdout
    print(f"profiles: {report.written} written to {where}", file=out)
    if report.duplicates:
        print(f"profiles: {report.duplicates} repeated customer ids (the later row kept)", file=out)
    if report.rejected:
        print(f"profiles: {len(report.rejected)} rows rejected:", file=out)
        for rejection in report.rejected[:max_lines]:
            print(f"  line {rejection.line}: {rejection.reason}", file=out)
        if len(report.rejected) > max_lines:
            print(f"  ... and {len(report.rejected) - max_lines} more", file=out)


def _progress_bar(total: int | None) -> tuple[Callable[[int], None], Callable[[], None]]:
    try:
        from tqdm import tqdm
    except ImportError:  # the model extra brings tqdm; without it, a plain counter
        counter = Counter[str]()

        def tick(n: int) -> None:
            counter["rows"] += n
            if counter["rows"] % 1000 == 0:
                print(f"  {counter['rows']} rows", file=sys.stderr)

        return tick, lambda: None
    bar = tqdm(total=total, unit="row", desc="profiles", file=sys.stderr)
    return bar.update, bar.close


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_local.profiles", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("file", type=Path, help="CSV with a header, or JSON Lines (.jsonl)")
    parser.add_argument("--format", choices=["csv", "jsonl"], help="default: from the file name")
    add_table_arguments(parser)
    args = parser.parse_args(argv)
    if args.real and boto3.session.Session(region_name=args.region).get_credentials() is None:
        print(f"profiles: {_aws_error_line(NoCredentialsError())}", file=sys.stderr)
        return 2  # before reading the file, not after a progress bar
    try:
        table, where = open_table(args, "profiles")
    except TableNotFoundError as exc:
        print(f"profiles: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"profiles: {_aws_error_line(exc)}", file=sys.stderr)
        return 2
    with args.file.open("rb") as handle:
        total = sum(1 for _ in handle) - (
            1 if (args.format or args.file.suffix.lower().lstrip(".")) == "csv" else 0
        )
    tick, close = _progress_bar(total)
    warn = lambda message: print(f"profiles: warning: {message}", file=sys.stderr)  # noqa: E731
    try:
        report = load_profiles(read_rows(args.file, args.format, warn), table, tick)
    except ValueError as exc:
        close()
        print(f"profiles: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        close()
        print(f"profiles: {_aws_error_line(exc)}", file=sys.stderr)
        return 2
    close()
    print_report(report, where)
    return 1 if report.rejected else 0


def _aws_error_line(exc: BaseException) -> str:
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE, or run `aws configure` (or `aws sso login`)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region, or set AWS_REGION"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"AWS error {error.get('Code', '')}: {error.get('Message', '')}"
    return f"AWS error: {exc}"


if __name__ == "__main__":
    sys.exit(main())
