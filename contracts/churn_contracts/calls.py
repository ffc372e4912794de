"""The calls table: one item per call, keyed by the transcription job name.

The start function creates the item; every later step updates it, so each
call's fate is visible in one place. :class:`CallItem` is the one decoder of
an item, and :func:`timestamp` the one way to write its times (both Lambdas
and the local tools use them, so ``updated_at`` has one precision everywhere).

While a call is in flight (``TRANSCRIBING``, ``SCORING``, or ``SCORED`` with an
alert ``PENDING``) its item carries ``open_status``; a terminal step removes it.
The ``by-open-status`` index (``open_status``, ``updated_at``) is therefore
sparse: it holds only calls that still need something, which is what the
reconciler reads instead of scanning the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

# The risk rule lives in churn_contracts.risk; both names stay importable from here.
from churn_contracts.risk import RiskLevel, risk_level  # noqa: F401

CALLS_KEY = "job_name"
OPEN_STATUS = "open_status"
OPEN_STATUS_INDEX = "by-open-status"


class CallStatus(StrEnum):
    TRANSCRIBING = "TRANSCRIBING"
    TRANSCRIPTION_FAILED = "TRANSCRIPTION_FAILED"
    SCORING = "SCORING"
    SCORED = "SCORED"
    ALERTED = "ALERTED"
    SCORING_FAILED = "SCORING_FAILED"


TERMINAL_STATUSES = frozenset(
    {CallStatus.TRANSCRIPTION_FAILED, CallStatus.SCORING_FAILED, CallStatus.ALERTED}
)


class AlertStatus(StrEnum):
    PENDING = "PENDING"  # claimed by an invocation that is publishing (or died doing so)
    SENT = "SENT"
    SUPPRESSED = "SUPPRESSED"  # another call of the customer alerted inside the quiet window


class OpenStatus(StrEnum):
    """What a call in flight waits for; the reconciler's index key."""

    TRANSCRIBING = "TRANSCRIBING"
    SCORING = "SCORING"
    ALERT_PENDING = "ALERT_PENDING"


def timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``: sortable as a string, one precision everywhere."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: Any) -> datetime | None:
    """A stored time (any ISO-8601 precision, ``Z`` or offset); ``None`` if absent or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, float)):
        return None
    return float(value)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class CallItem:
    """A call item as the code reads it (DynamoDB numbers -> float, times -> datetime)."""

    job_name: str
    status: str | None = None
    customer_id: str | None = None
    call_id: str | None = None
    recording_uri: str | None = None
    recording_bucket: str | None = None
    recording_key: str | None = None
    recording_version: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    lease_until: datetime | None = None
    lease_token: str | None = None
    probability: float | None = None
    risk_level: str | None = None
    missing_features: list[str] = field(default_factory=list)
    profile_found: bool | None = None
    model_version: str | None = None
    transcript_uri: str | None = None
    scored_at: datetime | None = None
    excerpt: str | None = None
    alert_status: str | None = None
    alerted_at: datetime | None = None
    alert_lease_until: datetime | None = None
    alert_message_id: str | None = None
    alert_suppressed: bool = False
    suppressed_by: str | None = None
    failure_reason: str | None = None
    open_status: str | None = None
    # Issue 22: stored with the score. The whole call's topics (churn_contracts.topics JSON), the
    # reasons in words, and at high risk the complete alert as published (``alert``: kind,
    # dedupe_key, subject, message, attributes, offer_id), written with the alert claim.
    topics: Mapping[str, Any] | None = None
    reasons: list[Mapping[str, Any]] = field(default_factory=list)
    alert_dedupe_key: str | None = None
    follow_up_message_id: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> CallItem:
        missing = item.get("missing_features")
        alert = item.get("alert")
        return cls(
            job_name=str(item.get(CALLS_KEY, "")),
            status=_str(item.get("status")),
            customer_id=_str(item.get("customer_id")),
            call_id=_str(item.get("call_id")),
            recording_uri=_str(item.get("recording_uri")),
            recording_bucket=_str(item.get("recording_bucket")),
            recording_key=_str(item.get("recording_key")),
            recording_version=_str(item.get("recording_version")),
            created_at=parse_timestamp(item.get("created_at")),
            updated_at=parse_timestamp(item.get("updated_at")),
            lease_until=parse_timestamp(item.get("lease_until")),
            lease_token=_str(item.get("lease_token")),
            probability=_float(item.get("probability")),
            risk_level=_str(item.get("risk_level")),
            missing_features=[str(m) for m in missing] if isinstance(missing, (list, tuple, set)) else [],
            profile_found=item.get("profile_found") if isinstance(item.get("profile_found"), bool) else None,
            model_version=_str(item.get("model_version")),
            transcript_uri=_str(item.get("transcript_uri")),
            scored_at=parse_timestamp(item.get("scored_at")),
            excerpt=_str(item.get("excerpt")),
            alert_status=_str(item.get("alert_status")),
            alerted_at=parse_timestamp(item.get("alerted_at")),
            alert_lease_until=parse_timestamp(item.get("alert_lease_until")),
            alert_message_id=_str(item.get("alert_message_id")),
            alert_suppressed=bool(item.get("alert_suppressed", False)),
            suppressed_by=_str(item.get("suppressed_by")),
            failure_reason=_str(item.get("failure_reason")),
            open_status=_str(item.get(OPEN_STATUS)),
            topics=item["topics"] if isinstance(item.get("topics"), Mapping) else None,
            reasons=[r for r in item.get("reasons") or [] if isinstance(r, Mapping)]
            if isinstance(item.get("reasons"), list)
            else [],
            alert_dedupe_key=_str(alert.get("dedupe_key")) if isinstance(alert, Mapping) else None,
            follow_up_message_id=_str(item.get("follow_up_message_id")),
            raw=dict(item),
        )

    @property
    def terminal(self) -> bool:
        """Nothing left to do for this call, whatever event arrives."""
        if self.status in TERMINAL_STATUSES or self.alert_status == AlertStatus.SENT:
            return True
        return self.status == CallStatus.SCORED and (
            self.risk_level != RiskLevel.HIGH
            or self.alert_status == AlertStatus.SUPPRESSED
            or self.alert_suppressed
        )


def encode_number(value: float, places: int = 6) -> Decimal:
    """A float as DynamoDB stores it (boto3 refuses floats)."""
    return Decimal(str(round(float(value), places)))
