"""The customer's quiet window, shared with the post-call path (ScoreCallFunction's AlertWindow).

Same table, same marker: ``last_alert_job_name``, ``state`` PENDING (with ``lease_epoch``) then
DELIVERED (with ``message_id`` and ``last_alerted_epoch``), ``expires_at``. A live contact holds
the window as ``live-<ContactId>``, so the recording of the same call, scored after it ends,
finds the window held and does not alert the customer a second time (and the other way round).
Kept in step with score_call/adapters/suppression.py; tests/unit/functions/live/ checks that the
post-call AlertWindow reads a live marker as held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.calls import timestamp

PENDING = "PENDING"
DELIVERED = "DELIVERED"
_MIN_KEEP = timedelta(days=1)


def holder_name(contact_id: str) -> str:
    return f"live-{contact_id}"


@dataclass(frozen=True)
class QuietWindow:
    table: Any
    window: timedelta

    def claim(
        self, customer_id: str, contact_id: str, dedupe_key: str, now: datetime, lease_until: datetime
    ) -> str:
        """'claimed' (ours to alert, or this very update's alert went out already: the journal),
        'delivered' (this contact alerted on an earlier update) or 'held' (another call holds it)."""
        job = holder_name(contact_id)
        current = self.table.get_item(Key={"customer_id": customer_id}, ConsistentRead=True).get("Item") or {}
        if current.get("last_alert_job_name") == job and current.get("state") == DELIVERED:
            return "claimed" if current.get("dedupe_key") == dedupe_key else "delivered"
        try:
            self.table.put_item(
                Item={
                    "customer_id": customer_id,
                    "last_alert_job_name": job,
                    "state": PENDING,
                    "lease_epoch": int(lease_until.timestamp()),
                    "claimed_at": timestamp(now),
                    "expires_at": int((now + max(self.window, _MIN_KEEP)).timestamp()),
                },
                ConditionExpression=(
                    "attribute_not_exists(customer_id) "
                    "OR (last_alert_job_name = :job AND #state = :pending) "
                    "OR (#state = :pending AND lease_epoch < :now) "
                    "OR ((attribute_not_exists(#state) OR #state = :delivered) AND last_alerted_epoch <= :cutoff)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":job": job,
                    ":pending": PENDING,
                    ":delivered": DELIVERED,
                    ":now": int(now.timestamp()),
                    ":cutoff": int((now - self.window).timestamp()),
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return "held"
        return "claimed"

    def mark_delivered(
        self, customer_id: str, contact_id: str, dedupe_key: str, message_id: str, now: datetime
    ) -> None:
        self.table.put_item(
            Item={
                "customer_id": customer_id,
                "last_alert_job_name": holder_name(contact_id),
                "state": DELIVERED,
                "message_id": message_id,
                "dedupe_key": dedupe_key,
                "last_alerted_at": timestamp(now),
                "last_alerted_epoch": int(now.timestamp()),
                "expires_at": int((now + max(self.window, _MIN_KEEP)).timestamp()),
            }
        )

    def release(self, customer_id: str, contact_id: str) -> None:
        try:
            self.table.delete_item(
                Key={"customer_id": customer_id},
                ConditionExpression="last_alert_job_name = :job AND #state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":job": holder_name(contact_id), ":pending": PENDING},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
