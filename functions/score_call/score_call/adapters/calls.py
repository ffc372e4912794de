"""The calls table (DynamoDB): every step of a call's fate, on one item keyed by job name.

Every step is a conditional status transition, so concurrent and redelivered events do
each piece of work once:

- ``TRANSCRIBING -> SCORING`` takes a lease (token + expiry) before the endpoint is called;
  a lease past its expiry (the invocation died) is taken over by the next delivery;
- ``SCORING -> SCORED`` (or ``SCORING_FAILED``) only by the lease holder; a high-risk score
  claims the alert (``alert_status=PENDING`` with its own lease) in the same write;
- ``PENDING -> SENT`` after publishing. A PENDING claim past its lease is taken over.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.calls import (
    CALLS_KEY,
    OPEN_STATUS,
    OPEN_STATUS_INDEX,
    AlertStatus,
    CallItem,
    CallStatus,
    OpenStatus,
    RiskLevel,
    encode_number,
    timestamp,
)
from churn_contracts.endpoint import parse_unknown_categories

from ..alert import PreparedAlert
from ..models import ScoreRecord

_NAMES = {"#status": "status", "#key": CALLS_KEY, "#open": OPEN_STATUS}


def dynamo_value(value: Any) -> Any:
    """JSON-shaped data as DynamoDB stores it: floats become Decimals (boto3 refuses floats)."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return value
    if isinstance(value, float):
        return encode_number(value) if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): dynamo_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [dynamo_value(v) for v in value]
    return str(value)


# A profile's free-text categories are unbounded; a record past this is left off the call item
# (training then falls back to today's profile and counts it) rather than risk its 400 KB limit.
MAX_SCORED_PROFILE_BYTES = 16 * 1024


def bounded_profile(features: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The scored features as stored (numbers as Decimals), or None when absent or too large."""
    if not features:
        return None
    if len(json.dumps(features, default=str).encode()) > MAX_SCORED_PROFILE_BYTES:
        return None
    return dynamo_value(features)


def bounded_unknown(unknown: Mapping[str, str] | None) -> dict[str, str] | None:
    """The score's unknown categories as stored: the contract's bounds again (whoever built the
    record), and no empty column name (DynamoDB refuses an empty map key)."""
    bounded = parse_unknown_categories(unknown)
    return {name: value for name, value in bounded.items() if name} if bounded else None


def conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class CallsRepository:
    table: Any  # a boto3 DynamoDB Table resource
    retention_days: int = 365

    def get(self, job_name: str) -> CallItem | None:
        item = self.table.get_item(Key={CALLS_KEY: job_name}, ConsistentRead=True).get("Item")
        return None if item is None else CallItem.from_item(item)

    def _expires(self, now: datetime) -> int:
        return int((now + timedelta(days=self.retention_days)).timestamp())

    def _update(self, job_name: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        names = {k: v for k, v in _NAMES.items() if k in expression or k in condition}
        try:
            self.table.update_item(
                Key={CALLS_KEY: job_name},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if conditional_failed(exc):
                return False
            raise
        return True

    def mark_transcription_failed(self, job_name: str, reason: str, now: datetime) -> bool:
        """Only a call still waiting for its transcript: a stray FAILED never overwrites a result."""
        return self._update(
            job_name,
            "SET #status = :failed, failure_reason = :reason, updated_at = :now REMOVE #open",
            "attribute_exists(#key) AND #status = :transcribing",
            {
                ":failed": CallStatus.TRANSCRIPTION_FAILED.value,
                ":transcribing": CallStatus.TRANSCRIBING.value,
                ":reason": reason[:500],
                ":now": timestamp(now),
            },
        )

    def begin_scoring(self, job_name: str, token: str, now: datetime, lease_until: datetime) -> bool:
        """``TRANSCRIBING -> SCORING`` with a lease, or take over a lapsed lease. ``False``: held."""
        return self._update(
            job_name,
            "SET #status = :scoring, lease_token = :token, lease_until = :until, updated_at = :now, "
            "#open = :open_scoring",
            "attribute_exists(#key) AND (#status = :transcribing OR (#status = :scoring AND "
            "(attribute_not_exists(lease_until) OR lease_until < :now)))",
            {
                ":scoring": CallStatus.SCORING.value,
                ":transcribing": CallStatus.TRANSCRIBING.value,
                ":open_scoring": OpenStatus.SCORING.value,
                ":token": token,
                ":until": timestamp(lease_until),
                ":now": timestamp(now),
            },
        )

    def release_scoring(self, job_name: str, token: str) -> None:
        """Give the lease back after a failure, so Lambda's retry can score at once."""
        self._update(
            job_name,
            "REMOVE lease_until",
            "#status = :scoring AND lease_token = :token",
            {":scoring": CallStatus.SCORING.value, ":token": token},
        )

    def mark_scoring_failed(self, job_name: str, token: str, reason: str, now: datetime) -> bool:
        return self._update(
            job_name,
            "SET #status = :failed, failure_reason = :reason, updated_at = :now "
            "REMOVE #open, lease_until, lease_token",
            "#status = :scoring AND lease_token = :token",
            {
                ":failed": CallStatus.SCORING_FAILED.value,
                ":scoring": CallStatus.SCORING.value,
                ":token": token,
                ":reason": reason[:500],
                ":now": timestamp(now),
            },
        )

    def record_score(
        self, job_name: str, token: str, score: ScoreRecord, alert_lease_until: datetime | None
    ) -> bool:
        """``SCORING -> SCORED`` by the lease holder; with ``alert_lease_until`` it also claims the alert."""
        values: dict[str, Any] = {
            ":status": CallStatus.SCORED.value,
            ":scoring": CallStatus.SCORING.value,
            ":token": token,
            ":p": encode_number(score.probability),
            ":level": score.risk_level,
            ":medium": encode_number(score.medium_threshold),
            ":high": encode_number(score.high_threshold),
            ":missing": list(score.missing_features),
            ":found": score.profile_found,
            ":version": score.model_version,
            ":transcript": score.transcript_uri,
            ":scored": timestamp(score.scored_at),
            ":latency": encode_number(score.latency_ms, 1),
            ":expires": self._expires(score.scored_at),
        }
        assignments = [
            "#status = :status",
            "probability = :p",
            "risk_level = :level",
            "medium_threshold = :medium",
            "high_threshold = :high",
            "missing_features = :missing",
            "profile_found = :found",
            "model_version = :version",
            "transcript_uri = :transcript",
            "scored_at = :scored",
            "updated_at = :scored",
            "scoring_latency_ms = :latency",
            "expires_at = :expires",
        ]
        removals = ["failure_reason", "lease_until", "lease_token"]
        if score.excerpt is not None:
            values[":excerpt"] = score.excerpt
            assignments.append("excerpt = :excerpt")
        else:
            removals.append("excerpt")
        if score.text_truncated:
            values[":true"] = True
            assignments.append("text_truncated = :true")
        if score.topics is not None:
            values[":topics"] = dynamo_value(score.topics)
            assignments.append("topics = :topics")
        if score.reasons:
            values[":reasons"] = dynamo_value(score.reasons)
            assignments.append("reasons = :reasons")
        profile = bounded_profile(score.scored_profile)
        if profile is not None:
            values[":profile"] = profile
            assignments.append("scored_profile = :profile")
        unknown = bounded_unknown(score.unknown_categories)
        if unknown:
            values[":unknown"] = unknown
            assignments.append("unknown_categories = :unknown")
        else:
            removals.append("unknown_categories")
        if score.alert is not None:
            # The complete alert rides with the claim: every later sender publishes these bytes.
            values[":alert"] = score.alert.to_item()
            assignments.append("alert = :alert")
        if alert_lease_until is not None:
            values.update(
                {
                    ":pending": AlertStatus.PENDING.value,
                    ":alert_until": timestamp(alert_lease_until),
                    ":open_alert": OpenStatus.ALERT_PENDING.value,
                }
            )
            assignments += [
                "alert_status = :pending",
                "alert_token = :token",
                "alert_lease_until = :alert_until",
                "#open = :open_alert",
            ]
        else:
            removals.append("#open")
        return self._update(
            job_name,
            "SET " + ", ".join(assignments) + " REMOVE " + ", ".join(removals),
            "#status = :scoring AND lease_token = :token",
            values,
        )

    def claim_alert(self, job_name: str, token: str, now: datetime, lease_until: datetime) -> bool:
        """Take over a high-risk call's alert whose claim lapsed (or was never made)."""
        return self._update(
            job_name,
            "SET alert_status = :pending, alert_token = :token, alert_lease_until = :until, "
            "updated_at = :now, #open = :open_alert",
            "#status = :scored AND risk_level = :high AND (attribute_not_exists(alert_status) OR "
            "(alert_status = :pending AND (attribute_not_exists(alert_lease_until) OR alert_lease_until < :now)))",
            {
                ":scored": CallStatus.SCORED.value,
                ":high": RiskLevel.HIGH.value,
                ":pending": AlertStatus.PENDING.value,
                ":open_alert": OpenStatus.ALERT_PENDING.value,
                ":token": token,
                ":until": timestamp(lease_until),
                ":now": timestamp(now),
            },
        )

    def store_alert(self, job_name: str, token: str, alert: PreparedAlert) -> bool:
        """Keep the alert with the claim (a call scored before alerts were stored), once."""
        return self._update(
            job_name,
            "SET alert = :alert",
            "alert_status = :pending AND alert_token = :token AND attribute_not_exists(alert)",
            {":alert": alert.to_item(), ":pending": AlertStatus.PENDING.value, ":token": token},
        )

    def release_alert(self, job_name: str, token: str) -> None:
        """Give the alert claim back after a failed publish, so the retry can send it at once."""
        self._update(
            job_name,
            "REMOVE alert_lease_until",
            "alert_status = :pending AND alert_token = :token",
            {":pending": AlertStatus.PENDING.value, ":token": token},
        )

    def mark_suppressed(
        self,
        job_name: str,
        token: str,
        by_job: str | None,
        now: datetime,
        follow_up_message_id: str | None = None,
    ) -> bool:
        """No alert of its own (the window is held); with a message id, a follow-up went out."""
        values = {
            ":suppressed": AlertStatus.SUPPRESSED.value,
            ":pending": AlertStatus.PENDING.value,
            ":token": token,
            ":true": True,
            ":by": by_job or "unknown",
            ":now": timestamp(now),
        }
        extra = ""
        if follow_up_message_id:
            values[":follow_up"] = follow_up_message_id
            extra = ", follow_up_message_id = :follow_up"
        return self._update(
            job_name,
            "SET alert_status = :suppressed, alert_suppressed = :true, suppressed_by = :by, "
            f"updated_at = :now{extra} REMOVE #open, alert_lease_until, alert_token",
            "alert_status = :pending AND alert_token = :token",
            values,
        )

    def mark_alerted(self, job_name: str, message_id: str, now: datetime) -> bool:
        """The alert went out: a fact, written whoever holds the claim now."""
        return self._update(
            job_name,
            "SET #status = :alerted, alert_status = :sent, alert_message_id = :id, alerted_at = :now, "
            "updated_at = :now REMOVE #open, alert_lease_until, alert_token",
            "attribute_exists(#key) AND #status <> :alerted",
            {
                ":alerted": CallStatus.ALERTED.value,
                ":sent": AlertStatus.SENT.value,
                ":id": message_id,
                ":now": timestamp(now),
            },
        )

    def touch(self, job_name: str, now: datetime) -> None:
        """Record that the reconciler looked at a call still in flight (moves it down the index)."""
        self._update(job_name, "SET updated_at = :now", "attribute_exists(#open)", {":now": timestamp(now)})

    def in_flight(self, open_status: str, updated_before: datetime, limit: int) -> list[str]:
        """Job names of calls in flight with this status, not updated since ``updated_before``.

        A query of the sparse ``by-open-status`` index, oldest first: never a scan.
        """
        names: list[str] = []
        kwargs: dict[str, Any] = {
            "IndexName": OPEN_STATUS_INDEX,
            "KeyConditionExpression": "#open = :open AND updated_at < :before",
            "ExpressionAttributeNames": {"#open": OPEN_STATUS},
            "ExpressionAttributeValues": {":open": open_status, ":before": timestamp(updated_before)},
        }
        while len(names) < limit:
            page = self.table.query(Limit=min(100, limit - len(names)), **kwargs)
            names.extend(str(item[CALLS_KEY]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return names[:limit]
