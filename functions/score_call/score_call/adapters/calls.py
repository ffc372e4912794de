"""The calls table (DynamoDB): every step of a call's fate, on one item keyed by job name.

Alerting is made idempotent here: the alert is claimed with a conditional write
(``attribute_not_exists(alerted_at)``) before it is published, so a redelivered or
concurrent completion event can never send a second one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.calls import CALLS_KEY, CallStatus

ALERT_PENDING = "PENDING"
ALERT_SENT = "SENT"


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _decimal(value: float) -> Decimal:
    return Decimal(str(round(float(value), 6)))


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


@dataclass(frozen=True)
class CallRecord:
    job_name: str
    customer_id: str | None
    call_id: str | None
    recording_uri: str | None
    status: str | None
    risk_level: str | None = None
    alert_suppressed: bool = False
    alert_status: str | None = None

    @property
    def finished(self) -> bool:
        """Scored and nothing left to send: a redelivered event has nothing to do."""
        if self.status == CallStatus.ALERTED or self.alert_status == ALERT_SENT:
            return True
        return self.status == CallStatus.SCORED and (self.risk_level != "high" or self.alert_suppressed)


@dataclass(frozen=True)
class ScoreRecord:
    probability: float
    risk_level: str
    medium_threshold: float
    high_threshold: float
    missing_features: list[str]
    profile_found: bool
    model_version: str
    transcript_uri: str
    scored_at: datetime
    latency_ms: float
    excerpt: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallsRepository:
    table: Any  # a boto3 DynamoDB Table resource
    retention_days: int = 365

    def get(self, job_name: str) -> CallRecord | None:
        item = self.table.get_item(Key={CALLS_KEY: job_name}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return CallRecord(
            job_name=job_name,
            customer_id=item.get("customer_id"),
            call_id=item.get("call_id"),
            recording_uri=item.get("recording_uri"),
            status=item.get("status"),
            risk_level=item.get("risk_level"),
            alert_suppressed=bool(item.get("alert_suppressed", False)),
            alert_status=item.get("alert_status"),
        )

    def _expires(self, now: datetime) -> int:
        return int((now + timedelta(days=self.retention_days)).timestamp())

    def mark_transcription_failed(self, job_name: str, reason: str, now: datetime) -> None:
        # An upsert: the failure is recorded even if the start function's item is missing.
        self.table.update_item(
            Key={CALLS_KEY: job_name},
            UpdateExpression=(
                "SET #status = :status, failure_reason = :reason, updated_at = :now, "
                "expires_at = if_not_exists(expires_at, :expires)"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": CallStatus.TRANSCRIPTION_FAILED.value,
                ":reason": reason[:500],
                ":now": iso(now),
                ":expires": self._expires(now),
            },
        )

    def mark_scoring_failed(self, job_name: str, reason: str, now: datetime) -> bool:
        try:
            self.table.update_item(
                Key={CALLS_KEY: job_name},
                UpdateExpression="SET #status = :status, failure_reason = :reason, updated_at = :now",
                ConditionExpression="attribute_exists(#key) AND attribute_not_exists(alerted_at)",
                ExpressionAttributeNames={"#status": "status", "#key": CALLS_KEY},
                ExpressionAttributeValues={
                    ":status": CallStatus.SCORING_FAILED.value,
                    ":reason": reason[:500],
                    ":now": iso(now),
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def record_score(self, job_name: str, score: ScoreRecord) -> bool:
        """Store the score (status SCORED); ``False`` if an alert was already claimed for this call."""
        values: dict[str, Any] = {
            ":status": CallStatus.SCORED.value,
            ":p": _decimal(score.probability),
            ":level": score.risk_level,
            ":medium": _decimal(score.medium_threshold),
            ":high": _decimal(score.high_threshold),
            ":missing": list(score.missing_features),
            ":found": score.profile_found,
            ":version": score.model_version,
            ":transcript": score.transcript_uri,
            ":scored": iso(score.scored_at),
            ":latency": _decimal(score.latency_ms),
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
        removals = ["failure_reason"]
        if score.excerpt is not None:
            values[":excerpt"] = score.excerpt
            assignments.append("excerpt = :excerpt")
        else:
            removals.append("excerpt")
        try:
            self.table.update_item(
                Key={CALLS_KEY: job_name},
                UpdateExpression="SET " + ", ".join(assignments) + " REMOVE " + ", ".join(removals),
                ConditionExpression="attribute_exists(#key) AND attribute_not_exists(alerted_at)",
                ExpressionAttributeNames={"#status": "status", "#key": CALLS_KEY},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def mark_suppressed(self, job_name: str, by_job: str | None, now: datetime) -> None:
        values: dict[str, Any] = {":true": True, ":now": iso(now), ":by": by_job or "unknown"}
        self.table.update_item(
            Key={CALLS_KEY: job_name},
            UpdateExpression="SET alert_suppressed = :true, suppressed_by = :by, updated_at = :now",
            ExpressionAttributeValues=values,
        )

    def claim_alert(self, job_name: str, now: datetime, stale_before: datetime) -> bool:
        """Take the right to publish this call's alert. ``False``: already sent or being sent.

        A claim left PENDING by an invocation that died before publishing becomes
        claimable again once older than ``stale_before``.
        """
        try:
            self.table.update_item(
                Key={CALLS_KEY: job_name},
                UpdateExpression="SET alerted_at = :now, alert_status = :pending, updated_at = :now",
                ConditionExpression=(
                    "attribute_not_exists(alerted_at) OR (alert_status = :pending AND alerted_at < :stale)"
                ),
                ExpressionAttributeValues={
                    ":now": iso(now),
                    ":pending": ALERT_PENDING,
                    ":stale": iso(stale_before),
                },
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def release_alert(self, job_name: str, claimed_at: datetime) -> None:
        """Give the claim back after a failed publish, so the retry can send the alert."""
        try:
            self.table.update_item(
                Key={CALLS_KEY: job_name},
                UpdateExpression="REMOVE alerted_at, alert_status",
                ConditionExpression="alerted_at = :claimed AND alert_status = :pending",
                ExpressionAttributeValues={":claimed": iso(claimed_at), ":pending": ALERT_PENDING},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    def mark_alerted(self, job_name: str, message_id: str, now: datetime) -> None:
        self.table.update_item(
            Key={CALLS_KEY: job_name},
            UpdateExpression=(
                "SET #status = :status, alert_status = :sent, alert_message_id = :id, updated_at = :now"
            ),
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":status": CallStatus.ALERTED.value,
                ":sent": ALERT_SENT,
                ":id": message_id,
                ":now": iso(now),
            },
        )
