"""The customer's quiet window, shared with the post-call path (ScoreCallFunction's AlertWindow).

Same table, same marker: ``last_alert_job_name``, ``state`` PENDING (with ``lease_epoch``) then
DELIVERED (with ``message_id`` and ``last_alerted_epoch``), ``expires_at``. A live contact holds
the window as ``live-<ContactId>``, so the recording of the same call, scored after it ends,
finds the window held and does not alert the customer a second time (and the other way round).
The writes are churn_lambda.quiet_window's, the post-call path's too; tests/unit/functions/live/ checks that the
post-call AlertWindow reads a live marker as held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from churn_lambda import quiet_window as marker
from churn_lambda.quiet_window import DELIVERED, PENDING

__all__ = ["DELIVERED", "PENDING", "QuietWindow", "holder_name"]


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
        current = marker.read_marker(self.table, customer_id)
        if current.get("last_alert_job_name") == job and current.get("state") == DELIVERED:
            return "claimed" if current.get("dedupe_key") == dedupe_key else "delivered"
        if not marker.try_claim(self.table, customer_id, job, self.window, now, lease_until):
            return "held"
        return "claimed"

    def mark_delivered(
        self, customer_id: str, contact_id: str, dedupe_key: str, message_id: str, now: datetime
    ) -> None:
        marker.mark_delivered(
            self.table,
            customer_id,
            holder_name(contact_id),
            message_id,
            self.window,
            now,
            dedupe_key=dedupe_key,
        )

    def release(self, customer_id: str, contact_id: str) -> None:
        marker.release(self.table, customer_id, holder_name(contact_id))
