"""The alerts a stack sent, as the retention team received them: local stack or real.

    .venv/bin/python -m churn_local.alerts                 # the 10 latest, subject and message
    .venv/bin/python -m churn_local.alerts --json          # the published message bodies, one per line
    .venv/bin/python -m churn_local.alerts --real --stack-name churn-alerts

Every alert is composed once and stored on its call item with the claim (``alert``: subject,
message, dedupe key), and every sender publishes exactly those bytes; an item whose
``alert_status`` is ``SENT`` carries the SNS message id it went out with. So reading the calls
table shows what a plain local stack sent without any subscription (SNS keeps nothing).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from churn_contracts.calls import AlertStatus, CallItem, timestamp

from .calls import scan_calls
from .tables import TableNotFoundError, add_table_arguments, open_table


def sent_alerts(items: Iterable[Mapping[str, Any]], limit: int) -> list[tuple[CallItem, Mapping[str, Any]]]:
    """Calls whose alert was published, with the stored alert, newest first."""
    sent = []
    for item in items:
        call = CallItem.from_item(item)
        alert = item.get("alert")
        if call.alert_status == AlertStatus.SENT.value and isinstance(alert, Mapping):
            sent.append((call, alert))
    sent.sort(key=lambda pair: timestamp(pair[0].alerted_at) if pair[0].alerted_at else "", reverse=True)
    return sent[:limit]


def render(call: CallItem, alert: Mapping[str, Any]) -> str:
    when = timestamp(call.alerted_at) if call.alerted_at else "-"
    head = f"--- {when}  call_id {call.job_name}  customer {call.customer_id}  SNS {call.alert_message_id}"
    message = str(alert.get("message", ""))
    with contextlib.suppress(ValueError):  # the alert's JSON body, indented for reading
        message = json.dumps(json.loads(message), indent=2, ensure_ascii=False)
    return "\n".join([head, f"Subject: {alert.get('subject', '')}", "", message, ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_local.alerts", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="the published message bodies, one JSON per line")
    add_table_arguments(parser)
    args = parser.parse_args(argv)
    try:
        table, where = open_table(args, "calls")
    except TableNotFoundError as exc:
        print(f"alerts: {exc}", file=sys.stderr)
        return 2
    alerts = sent_alerts(scan_calls(table), args.limit)
    if args.json:
        for _, alert in alerts:
            message = alert.get("message", "")
            print(message if str(message).startswith("{") else json.dumps({"message": message}))
        return 0
    print(f"alerts sent, from {where}: {len(alerts)} shown, newest first\n")
    print("\n".join(render(call, alert) for call, alert in alerts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
