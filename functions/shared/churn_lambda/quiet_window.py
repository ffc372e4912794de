"""The customer's quiet window: one marker item per customer in the customer-alerts table,
written the same way by the post-call path (score_call's AlertWindow) and the live path
(live_score's QuietWindow), so either one's alert holds the window against the other.

The marker: ``last_alert_job_name`` (the holder), ``state`` PENDING (with ``lease_epoch``) while
an alert is being sent, then DELIVERED (with ``message_id`` and ``last_alerted_epoch``), and
``expires_at`` for DynamoDB TTL. Conditional writes keep a claim atomic: two high-risk calls of
one customer scored at once still alert once. What a marker *means* for a caller (the journal,
a follow-up) stays in each function.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.calls import timestamp

PENDING = "PENDING"
DELIVERED = "DELIVERED"
# The marker outlives a zero-length window by a day, so it can still serve as the journal.
MIN_KEEP = timedelta(days=1)


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def read_marker(table: Any, customer_id: str) -> dict[str, Any]:
    return table.get_item(Key={"customer_id": customer_id}, ConsistentRead=True).get("Item") or {}


def expires_at(window: timedelta, now: datetime) -> int:
    return int((now + max(window, MIN_KEEP)).timestamp())


def try_claim(
    table: Any, customer_id: str, holder: str, window: timedelta, now: datetime, lease_until: datetime
) -> bool:
    """Write a PENDING claim for ``holder``; False where the marker says another holds the window
    (a live lease, or a delivery inside the window). Re-claiming one's own pending claim succeeds."""
    try:
        table.put_item(
            Item={
                "customer_id": customer_id,
                "last_alert_job_name": holder,
                "state": PENDING,
                "lease_epoch": int(lease_until.timestamp()),
                "claimed_at": timestamp(now),
                "expires_at": expires_at(window, now),
            },
            ConditionExpression=(
                "attribute_not_exists(customer_id) "
                "OR (last_alert_job_name = :job AND #state = :pending) "
                "OR (#state = :pending AND lease_epoch < :now) "
                "OR ((attribute_not_exists(#state) OR #state = :delivered) AND last_alerted_epoch <= :cutoff)"
            ),
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":job": holder,
                ":pending": PENDING,
                ":delivered": DELIVERED,
                ":now": int(now.timestamp()),
                ":cutoff": int((now - window).timestamp()),
            },
        )
    except ClientError as exc:
        if not conditional_failed(exc):
            raise
        return False
    return True


def mark_delivered(
    table: Any, customer_id: str, holder: str, message_id: str, window: timedelta, now: datetime, **extra: Any
) -> None:
    """The alert went out: the marker holds the window and records the message (``extra``: more
    journal attributes, e.g. the live path's ``dedupe_key``)."""
    table.put_item(
        Item={
            "customer_id": customer_id,
            "last_alert_job_name": holder,
            "state": DELIVERED,
            "message_id": message_id,
            **extra,
            "last_alerted_at": timestamp(now),
            "last_alerted_epoch": int(now.timestamp()),
            "expires_at": expires_at(window, now),
        }
    )


def release(table: Any, customer_id: str, holder: str) -> None:
    """Give the window back after a failed publish (only the holder's own pending claim)."""
    try:
        table.delete_item(
            Key={"customer_id": customer_id},
            ConditionExpression="last_alert_job_name = :job AND #state = :pending",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":job": holder, ":pending": PENDING},
        )
    except ClientError as exc:
        if not conditional_failed(exc):
            raise
