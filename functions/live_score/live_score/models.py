"""The live function's domain types: segment events in, contact state kept, risk updates out.

The Contact Lens voice segment stream's shape (Amazon Connect admin guide, "Data model for
conversational analytics segment streams to analyze voice contacts"): every event carries
``Version, Channel, AccountId, InstanceId, ContactId, LanguageCode, EventType``; ``SEGMENTS``
events add ``Segments``, each an object with one key: ``Utterance`` (a partial, never final),
``Transcript`` (a final turn: ``Id, ParticipantRole, Content, BeginOffsetMillis,
EndOffsetMillis``), ``Categories`` or ``PostContactSummary``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

STARTED = "STARTED"
SEGMENTS = "SEGMENTS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
EVENT_TYPES = frozenset({STARTED, SEGMENTS, COMPLETED, FAILED})
CUSTOMER = "CUSTOMER"

DETAIL_TYPE = "Churn Risk Updated"
EVENT_SOURCE = "churn-alerts.live"
SCHEMA_VERSION = "1.0"


class InvalidRecordError(ValueError):
    """Not a Contact Lens segment event: permanent, reported as this record's failure."""


class EndpointUnavailableError(RuntimeError):
    """The endpoint kept throttling or failing after the bounded retries (transient)."""


class ModelRejectedError(ValueError):
    """The model container refused the record (a 4xx): retrying the same text cannot help."""


class StateConflictError(RuntimeError):
    """Another invocation changed the contact between our read and our write (transient)."""


class ContactStatus(StrEnum):
    LIVE = "LIVE"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class FinalSegment:
    """A ``Transcript`` segment: a finished turn (``Utterance`` partials never get here)."""

    id: str
    role: str
    content: str
    begin_ms: int
    end_ms: int


@dataclass(frozen=True)
class SegmentEvent:
    event_type: str
    contact_id: str
    instance_id: str
    finals: tuple[FinalSegment, ...] = ()
    partials: int = 0  # Utterance segments seen (counted, never scored)
    failure_reason: str | None = None

    @property
    def customer_finals(self) -> tuple[FinalSegment, ...]:
        return tuple(s for s in self.finals if s.role == CUSTOMER)


@dataclass
class ContactState:
    """One contact's item in the contacts table: what has been heard and the last score."""

    contact_id: str
    instance_id: str = ""
    status: ContactStatus = ContactStatus.LIVE
    customer_id: str | None = None
    customer_looked_up: bool = False
    # The customer's final turns: segment id -> (begin offset ms, text). Ids make redelivery idempotent.
    turns: dict[str, tuple[int, str]] = field(default_factory=dict)
    scored_turns: int = 0
    scores: int = 0  # endpoint answers kept (the dedupe key's sequence)
    probability: float | None = None
    risk_level: str | None = None
    model_version: str | None = None
    notified_level: str | None = None  # the level the last published update carried
    notified_scores: int = 0
    last_scored_epoch: float = 0.0
    pending: bool = False  # finished turns not yet scored (interval, or an endpoint error)
    final: bool = False
    reason: str | None = None
    version: int = 0  # optimistic lock: every write expects the version it read

    @property
    def terminal(self) -> bool:
        return self.status is not ContactStatus.LIVE


@dataclass(frozen=True)
class Outcome:
    """What one record did, for logs and metrics (ids and numbers only, never speech)."""

    contact_id: str
    result: str
    new_turns: int = 0
    scored: bool = False
    published: bool = False
    risk_level: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
