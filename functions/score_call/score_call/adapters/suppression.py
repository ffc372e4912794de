"""The per-customer quiet window: one marker item per customer in the customer-alerts table.

The marker is claimed (``state=PENDING``, with a lease) before publishing and marked
``DELIVERED`` with the SNS message id after; a failed publish deletes the claim. So the
window holds only for alerts that went out, and the delivered marker doubles as the journal
that tells a later delivery "this call's alert was already sent". Conditional writes keep it
atomic: two high-risk calls of one customer scored at once still alert once. The writes are
churn_lambda.quiet_window's (the live path's too); what a marker means for a call is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from churn_lambda import quiet_window as marker
from churn_lambda.quiet_window import DELIVERED, PENDING

from ..models import WindowClaim

__all__ = ["DELIVERED", "PENDING", "AlertWindow"]


@dataclass(frozen=True)
class AlertWindow:
    table: Any  # a boto3 DynamoDB Table resource
    window: timedelta

    def claim(self, customer_id: str, job_name: str, now: datetime, lease_until: datetime) -> WindowClaim:
        """Claim the window for this call's alert, unless another call's delivered alert holds it."""
        seen = self._judge(marker.read_marker(self.table, customer_id), job_name, now)
        if seen is not None:
            return seen
        if not marker.try_claim(self.table, customer_id, job_name, self.window, now, lease_until):
            return self._judge(marker.read_marker(self.table, customer_id), job_name, now) or WindowClaim(
                False, busy=True
            )
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
        marker.release(self.table, customer_id, job_name)

    def mark_delivered(self, customer_id: str, job_name: str, message_id: str, now: datetime) -> None:
        marker.mark_delivered(self.table, customer_id, job_name, message_id, self.window, now)
