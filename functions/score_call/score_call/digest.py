"""AlertDigestFunction: once a day, one message with the day's new high-risk customers.

The quiet-window table holds one marker per alerted customer with the time its alert went out
(``CustomerAlertsTable``: a customer's first alert inside the window, never the follow-ups), so
the day's new customers are the markers delivered that day. That table is small (the customers
alerted in the last window, its items expire) and is read once a day, so it is scanned; the
calls table is only read by key. Each customer's line comes from the alert stored on the call
item (the bytes that went out), ranked by value at risk (a year's monthly value times the
probability), then by probability where the profile has no charges.

Published to the alert topic with ``type=churn-risk-digest`` and ``dedupe_key=digest/<day>``,
once a day: a journal item in the same table (``customer_id = "#digest/<day>"``, never a
customer's) is claimed before publishing and given back if the publish fails, so a retried or
repeated run (the local stack fires schedules every few seconds) sends nothing twice. A day
without new high-risk customers sends no digest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from .alert import NO_OFFER, SCHEMA_VERSION, PreparedAlert, money, subject_line
from .observability import logger, metrics, tracer

DIGEST_TYPE = "churn-risk-digest"
MAX_LINES = 200  # a digest is a reading list, not an export; the rest are counted


@dataclass(frozen=True)
class DigestEntry:
    customer_id: str
    title: str  # the alert's first line (the customer's name only where the stack allowed it)
    probability: float
    monthly_value: float | None
    value_at_risk: float | None
    why: str | None
    offer: str | None
    alerted_at: str
    link: str | None = None

    @property
    def rank_key(self) -> tuple[float, float]:
        return (-(self.value_at_risk if self.value_at_risk is not None else -1.0), -self.probability)


class Markers(Protocol):
    def delivered_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]: ...


class StoredAlerts(Protocol):
    def get(self, job_name: str) -> Mapping[str, Any] | None: ...


class DigestJournal(Protocol):
    def claim(self, day: str, now: datetime) -> bool: ...
    def release(self, day: str) -> None: ...


def entry_from_alert(marker: Mapping[str, Any], alert: Mapping[str, Any]) -> DigestEntry | None:
    """A digest line from the alert document that went out (None if it is not a 1.2 alert)."""
    headline = alert.get("headline")
    if not isinstance(headline, list) or not headline:
        return None
    value = alert.get("value") or {}
    reasons = alert.get("reasons") or []
    offer = alert.get("offer") or {}
    return DigestEntry(
        customer_id=str(alert.get("customer_id")),
        title=str(headline[0]).removeprefix("High churn risk: "),
        probability=float(alert.get("probability") or 0.0),
        monthly_value=value.get("monthly"),
        value_at_risk=value.get("at_risk"),
        why=reasons[0].get("text") if reasons and isinstance(reasons[0], Mapping) else None,
        offer=offer.get("text"),
        alerted_at=str(marker.get("last_alerted_at") or ""),
        link=(alert.get("links") or {}).get("transcript_download"),
    )


def build_digest(entries: Iterable[DigestEntry], day: str) -> PreparedAlert:
    ranked = sorted(entries, key=lambda e: e.rank_key)
    shown = ranked[:MAX_LINES]
    total = sum(e.value_at_risk or 0.0 for e in ranked)
    title = f"Churn digest {day}: {len(ranked)} new high-risk customer{'s' if len(ranked) != 1 else ''}"
    first = [title, f"Value at risk: {money(total)} a year, ranked by value x risk."]
    lines = []
    for n, e in enumerate(shown, 1):
        value = f"{money(e.value_at_risk)} a year at risk" if e.value_at_risk is not None else "value unknown"
        lines.append(f"{n}. {e.title}: {e.probability:.0%}, {value} [customer {e.customer_id}]")
        if e.why:
            lines.append(f"   Why: {e.why}")
        if e.offer:
            lines.append(f"   Offer: {e.offer}")
    if len(ranked) > len(shown):
        lines.append(f"... and {len(ranked) - len(shown)} more (see the calls table).")
    if not ranked:
        lines.append("No new high-risk customers.")
    key = f"digest/{day}"
    document = {
        "schema_version": SCHEMA_VERSION,
        "type": DIGEST_TYPE,
        "dedupe_key": key,
        "day": day,
        "customers": len(ranked),
        "value_at_risk": round(total, 2),
        "headline": first,
        "text": None,  # the email's words, filled in below (for subscribers that print it)
        "entries": [
            {
                "rank": n,
                "customer_id": e.customer_id,
                "title": e.title,
                "probability": round(e.probability, 4),
                "monthly_value": e.monthly_value,
                "value_at_risk": e.value_at_risk,
                "why": e.why,
                "offer": e.offer,
                "alerted_at": e.alerted_at,
                "transcript_download": e.link,
            }
            for n, e in enumerate(shown, 1)
        ],
    }
    email = "\n".join([*first, "", *lines])
    document["text"] = email
    chat = {
        "version": "1.0",
        "source": "custom",
        "id": key,
        "content": {
            "textType": "client-markdown",
            "title": f":calendar: {title}",
            "description": "\n".join(
                [first[1], *[line for line in lines if not line.startswith("   ")][:25]]
            ),
        },
        "metadata": {"threadId": key, "summary": title, "eventType": DIGEST_TYPE},
    }
    message = json.dumps(
        {
            "default": json.dumps(document, ensure_ascii=False, sort_keys=True),
            "email": email,
            "https": json.dumps(chat, ensure_ascii=False, sort_keys=True),
        },
        ensure_ascii=False,
        sort_keys=True,
    )
    attributes = {
        "type": {"DataType": "String", "StringValue": DIGEST_TYPE},
        "dedupe_key": {"DataType": "String", "StringValue": key},
        "risk_level": {"DataType": "String", "StringValue": "high"},
        "offer_id": {"DataType": "String", "StringValue": NO_OFFER},
    }
    return PreparedAlert(DIGEST_TYPE, key, subject_line(title), message, attributes)


def day_window(now: datetime) -> tuple[str, datetime, datetime]:
    """The UTC day before ``now`` (a run at 06:00 reports yesterday, whole)."""
    start = (now.astimezone(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.date().isoformat(), start, start + timedelta(days=1)


def daily_digest(
    markers: Markers,
    alerts: StoredAlerts,
    publish: Callable[[PreparedAlert], str],
    now: datetime,
    journal: DigestJournal | None = None,
) -> dict[str, Any]:
    day, start, end = day_window(now)
    entries, unreadable = [], 0
    for marker in markers.delivered_between(start, end):
        stored = alerts.get(str(marker.get("last_alert_job_name")))
        prepared = PreparedAlert.from_item((stored or {}).get("alert"))
        entry = entry_from_alert(marker, prepared.document()) if prepared else None
        if entry is None:
            unreadable += 1  # an alert from before 1.2: counted, not listed
            continue
        entries.append(entry)
    summary: dict[str, Any] = {
        "day": day,
        "customers": len(entries),
        "unlisted": unreadable,
        "message_id": None,
    }
    if not entries:
        return summary
    if journal is not None and not journal.claim(day, now):
        return {**summary, "already_sent": True}
    try:
        summary["message_id"] = publish(build_digest(entries, day))
    except Exception:
        if journal is not None:
            journal.release(day)
        raise
    return summary


# --- adapters and the handler -----------------------------------------------------------------------


@dataclass(frozen=True)
class AlertMarkers:
    table: Any  # the customer-alerts table (boto3 Table)

    def delivered_between(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "FilterExpression": "#state = :delivered AND last_alerted_epoch BETWEEN :start AND :end",
            "ExpressionAttributeNames": {"#state": "state"},
            "ExpressionAttributeValues": {
                ":delivered": "DELIVERED",
                ":start": int(start.timestamp()),
                ":end": int(end.timestamp()) - 1,
            },
        }
        while True:
            page = self.table.scan(**kwargs)
            found.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass(frozen=True)
class TableDigestJournal:
    """The day's digest claimed in the quiet-window table, under a key no customer has."""

    table: Any  # the customer-alerts table (boto3 Table)

    def claim(self, day: str, now: datetime) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.table.put_item(
                Item={
                    "customer_id": f"#digest/{day}",
                    "state": "DIGEST",
                    "sent_at": now.isoformat(),
                    "expires_at": int((now + timedelta(days=3)).timestamp()),
                },
                ConditionExpression="attribute_not_exists(customer_id)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, day: str) -> None:
        self.table.delete_item(Key={"customer_id": f"#digest/{day}"})


@dataclass(frozen=True)
class CallAlerts:
    table: Any  # the calls table (boto3 Table)

    def get(self, job_name: str) -> Mapping[str, Any] | None:
        return self.table.get_item(
            Key={"job_name": job_name}, ProjectionExpression="alert", ConsistentRead=True
        ).get("Item")


def scheduled_time(event: Any) -> datetime | None:
    """The schedule's own time (EventBridge's ``time``): a late or retried run reports the same day."""
    stamp = event.get("time") if isinstance(event, Mapping) else None
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    import os

    from .adapters import clients
    from .adapters.alerts import AlertPublisher

    publisher = AlertPublisher(clients.client("sns"), os.environ["ALERT_TOPIC_ARN"])
    markers = clients.table(os.environ["CUSTOMER_ALERTS_TABLE"])
    summary = daily_digest(
        AlertMarkers(markers),
        CallAlerts(clients.table(os.environ["CALLS_TABLE"])),
        publisher.publish,
        scheduled_time(event) or datetime.now(UTC),
        TableDigestJournal(markers),
    )
    metrics.add_metric(name="DigestCustomers", unit=MetricUnit.Count, value=summary["customers"])
    logger.info("Digest sent", extra={k: v for k, v in summary.items() if k != "message_id"})
    return summary
