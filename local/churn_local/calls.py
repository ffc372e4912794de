"""List recent calls with their status, or the alerts sent, from the calls table, local or real.

python -m churn_local.calls                 # the 20 most recent calls, local stack
python -m churn_local.calls --alerts        # calls that raised an alert
python -m churn_local.calls --real --stack-name churn-alerts --limit 50
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from churn_contracts.calls import CallItem, CallStatus, timestamp

from .tables import TableNotFoundError, add_table_arguments, open_table

# call_id is the scoring API's id (GET /v1/calls/{call_id}), the call item's job name; recording
# is the <call_id> of the uploaded key recordings/<customer_id>/<call_id>.<ext>.
COLUMNS = ("updated_at", "customer_id", "recording", "status", "risk_level", "probability", "call_id", "note")


def scan_calls(table: Any, max_items: int = 10_000) -> list[dict[str, Any]]:
    """Every call item (a scan: the calls table has no time index; ops tables stay small)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {}
    while len(items) < max_items:
        page = table.scan(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return items


_EPOCH = datetime.min.replace(tzinfo=UTC)


def _when(call: CallItem, alerts_only: bool) -> datetime:
    """Times are decoded by the contract, so any stored precision sorts correctly."""
    return (call.alerted_at if alerts_only else call.updated_at) or call.created_at or _EPOCH


def recent(
    items: Iterable[Mapping[str, Any]], limit: int, alerts_only: bool = False
) -> list[Mapping[str, Any]]:
    decoded = [(CallItem.from_item(i), i) for i in items]
    chosen = [
        (call, item)
        for call, item in decoded
        if not alerts_only or call.alerted_at or call.status == CallStatus.ALERTED
    ]
    chosen.sort(key=lambda pair: _when(pair[0], alerts_only), reverse=True)
    return [item for _, item in chosen[:limit]]


def note(item: Mapping[str, Any]) -> str:
    """Why the call is where it is: a failure reason, a suppressed alert, a missing profile."""
    parts = []
    for key in ("failure_reason", "scoring_failure_reason", "reason", "suppressed_reason"):
        if item.get(key):
            parts.append(str(item[key]))
    if item.get("alert_suppressed") or item.get("suppressed_by"):
        parts.append("alert suppressed")
    if item.get("profile_missing") or item.get("missing_profile"):
        parts.append("no profile")
    return "; ".join(parts)[:60]


def row(item: Mapping[str, Any]) -> list[str]:
    call = CallItem.from_item(item)
    when = call.alerted_at or call.updated_at or call.created_at
    values = {
        "updated_at": timestamp(when) if when else "-",
        "customer_id": call.customer_id or "-",
        "recording": call.call_id or "-",
        "call_id": call.job_name or "-",
        "status": call.status or "-",
        "risk_level": call.risk_level or "-",
        "probability": f"{call.probability:.3f}" if call.probability is not None else "-",
        "note": note(item),
    }
    return [values[c] for c in COLUMNS]


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = (
        [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
        if rows
        else [len(h) for h in headers]
    )
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_local.calls", description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", action="store_true", help="only calls that raised an alert")
    parser.add_argument("--limit", type=int, default=20)
    add_table_arguments(parser)
    args = parser.parse_args(argv)
    try:
        table, where = open_table(args, "calls")
    except TableNotFoundError as exc:
        print(f"calls: {exc}", file=sys.stderr)
        return 2
    items = recent(scan_calls(table), args.limit, alerts_only=args.alerts)
    print(
        f"{'alerts' if args.alerts else 'recent calls'} in {where}: {len(items)} shown "
        "(call_id: the scoring API's id, GET /v1/calls/{call_id}; recording: the uploaded file's name)"
    )
    print(format_table(COLUMNS, [row(i) for i in items]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
