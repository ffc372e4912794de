"""The per-customer quiet window: one marker item per customer in the customer-alerts table.

The marker is claimed (``state=PENDING``, with a lease) before publishing and marked
``DELIVERED`` with the SNS message id after; a failed publish deletes the claim. So the
window holds only for alerts that went out, and the delivered marker doubles as the journal
that tells a later delivery "this call's alert was already sent". Conditional writes keep it
atomic: two high-risk calls of one customer scored at once still alert once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.calls import timestamp

from ..models import WindowClaim
from .calls import conditional_failed

PENDING = "PENDING"
DELIVERED = "DELIVERED"
# The marker outlives a zero-length window by a day, so it can still serve as the journal.
_MIN_KEEP = timedelta(days=1)


@dataclass(frozen=True)
class AlertWindow:
    table: Any  # a boto3 DynamoDB Table resource
    window: timedelta

    def _get(self, customer_id: str) -> dict[str, Any]:
        return self.table.get_item(Key={"customer_id": customer_id}, ConsistentRead=True).get("Item") or {}

    def claim(self, customer_id: str, job_name: str, now: datetime, lease_until: datetime) -> WindowClaim:
        """Claim the window for this call's alert, unless another call's delivered alert holds it."""
        current = self._get(customer_id)
        seen = self._judge(current, job_name, now)
        if seen is not None:
            return seen
        epoch = int(now.timestamp())
        keep = max(self.window, _MIN_KEEP)
        try:
            self.table.put_item(
                Item={
                    "customer_id": customer_id,
                    "last_alert_job_name": job_name,
                    "state": PENDING,
                    "lease_epoch": int(lease_until.timestamp()),
                    "claimed_at": timestamp(now),
                    "expires_at": int((now + keep).timestamp()),
                },
                ConditionExpression=(
                    "attribute_not_exists(customer_id) "
                    "OR (last_alert_job_name = :job AND #state = :pending) "
                    "OR (#state = :pending AND lease_epoch < :now) "
                    "OR ((attribute_not_exists(#state) OR #state = :delivered) AND last_alerted_epoch <= :cutoff)"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":job": job_name,
                    ":pending": PENDING,
                    ":delivered": DELIVERED,
                    ":now": epoch,
                    ":cutoff": int((now - self.window).timestamp()),
                },
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise
            return self._judge(self._get(customer_id), job_name, now) or WindowClaim(False, busy=True)
        return WindowClaim(True)

    def _judge(self, marker: dict[str, Any], job_name: str, now: datetime) -> WindowClaim | None:
        """What an existing marker means for this call; ``None``: the window is free to claim."""
        if not marker:
            return None
        holder = marker.get("last_alert_job_name")
        delivered = marker.get("state", DELIVERED) == DELIVERED
        if holder == job_name:
            return WindowClaim(True, delivered_message_id=marker.get("message_id")) if delivered else None
        if delivered:
            alerted = int(marker.get("last_alerted_epoch", 0))
            if self.window > timedelta(0) and alerted > int((now - self.window).timestamp()):
                return WindowClaim(
                    False, holder_job_name=holder, holder_alerted_at=marker.get("last_alerted_at")
                )
            return None
        if int(marker.get("lease_epoch", 0)) >= int(now.timestamp()):
            return WindowClaim(False, holder_job_name=holder, busy=True)
        return None

    def release(self, customer_id: str, job_name: str) -> None:
        """Give the window back after a failed publish (only our own pending claim)."""
        try:
            self.table.delete_item(
                Key={"customer_id": customer_id},
                ConditionExpression="last_alert_job_name = :job AND #state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={":job": job_name, ":pending": PENDING},
            )
        except ClientError as exc:
            if not conditional_failed(exc):
                raise

    def mark_delivered(self, customer_id: str, job_name: str, message_id: str, now: datetime) -> None:
        keep = max(self.window, _MIN_KEEP)
        self.table.put_item(
            Item={
                "customer_id": customer_id,
                "last_alert_job_name": job_name,
                "state": DELIVERED,
                "message_id": message_id,
                "last_alerted_at": timestamp(now),
                "last_alerted_epoch": int(now.timestamp()),
                "expires_at": int((now + keep).timestamp()),
            }
        )
