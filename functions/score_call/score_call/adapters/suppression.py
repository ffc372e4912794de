"""The per-customer alert window: one marker item per customer in the customer-alerts table.

``PutItem`` with a condition is atomic, so two high-risk calls of one customer scored at
the same moment still produce one alert. The marker expires (TTL) when its window ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from .calls import iso


@dataclass(frozen=True)
class Claim:
    granted: bool
    holder_job_name: str | None = None


@dataclass(frozen=True)
class AlertWindow:
    table: Any  # a boto3 DynamoDB Table resource
    window: timedelta

    def claim(self, customer_id: str, job_name: str, now: datetime) -> Claim:
        """Record this call as the customer's latest alert, unless another call alerted inside the window.

        Claiming again for the same call succeeds, so a retried invocation is not suppressed by itself.
        """
        if self.window <= timedelta(0):
            return Claim(True)
        epoch = int(now.timestamp())
        cutoff = int((now - self.window).timestamp())
        try:
            self.table.put_item(
                Item={
                    "customer_id": customer_id,
                    "last_alert_job_name": job_name,
                    "last_alerted_at": iso(now),
                    "last_alerted_epoch": epoch,
                    "expires_at": int((now + self.window).timestamp()),
                },
                ConditionExpression=(
                    "attribute_not_exists(customer_id) OR last_alerted_epoch <= :cutoff "
                    "OR last_alert_job_name = :job"
                ),
                ExpressionAttributeValues={":cutoff": cutoff, ":job": job_name},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            current = (
                self.table.get_item(Key={"customer_id": customer_id}, ConsistentRead=True).get("Item") or {}
            )
            return Claim(False, current.get("last_alert_job_name"))
        return Claim(True)
