"""The domain: one segment event -> the contact's running text, a rate-limited re-score, an update.

Plain functions over their collaborators (contacts, profiles, scorer, events, quiet window,
directory), so tests pass moto-backed adapters.

At least once, in any order: a final ``Transcript`` segment is kept by its id, so a redelivered
record adds nothing and scores nothing; the text is rendered from the kept turns in time order
(``churn_contracts.conversation``, the renderer the post-call path and training use), so a late
segment lands where it was said. ``Utterance`` partials are never scored. Every write expects
the version it read. An update is published after the score is stored and remembered only once
EventBridge took it, so a crash in between republishes the same detail and dedupe key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from churn_contracts.calls import timestamp
from churn_contracts.conversation import Conversation, Role, Turn
from churn_contracts.endpoint import ResponseError, Score, request_record
from churn_contracts.profile import item_to_record
from churn_contracts.risk import RiskLevel
from churn_lambda.logs import safe_reason

from .config import Settings
from .models import (
    COMPLETED,
    FAILED,
    SCHEMA_VERSION,
    SEGMENTS,
    ContactState,
    ContactStatus,
    EndpointUnavailableError,
    ModelRejectedError,
    Outcome,
    SegmentEvent,
)

log = logging.getLogger(__name__)

# A contact item stays far below DynamoDB's 400 KB: past this much kept text, new turns keep only
# their id (the endpoint reads at most 50,000 characters anyway, head and end of the call).
MAX_KEPT_CHARS = 150_000
FAILED_REASON = "Contact Lens reported the analysis session FAILED"


class Contacts(Protocol):
    def get(self, contact_id: str, now: datetime) -> ContactState | None: ...
    def save(self, state: ContactState, now: datetime) -> None: ...


class Profiles(Protocol):
    def get(self, customer_id: str) -> dict[str, Any] | None: ...


class Scorer(Protocol):
    def score(self, record: Mapping[str, Any]) -> Score: ...


class Events(Protocol):
    def publish(self, detail: Mapping[str, Any]) -> str: ...


class Window(Protocol):
    def claim(
        self, customer_id: str, contact_id: str, dedupe_key: str, now: datetime, lease_until: datetime
    ) -> str: ...
    def mark_delivered(
        self, customer_id: str, contact_id: str, dedupe_key: str, message_id: str, now: datetime
    ) -> None: ...
    def release(self, customer_id: str, contact_id: str) -> None: ...


class Directory(Protocol):
    def customer_id(self, instance_id: str, contact_id: str) -> str | None: ...


@dataclass(frozen=True)
class Collaborators:
    contacts: Contacts
    profiles: Profiles
    scorer: Scorer
    events: Events
    window: Window | None = None
    directory: Directory | None = None
    clock: Callable[[], float] = time.perf_counter


def customer_text(state: ContactState) -> str:
    """The customer's final turns in time order, through the one shared renderer."""
    turns = tuple(Turn(Role.CUSTOMER, text, begin / 1000.0) for begin, text in state.turns.values())
    return Conversation(turns).customer_text


def handle_event(
    event: SegmentEvent, settings: Settings, deps: Collaborators, *, now: Callable[[], datetime]
) -> Outcome:
    moment = now()
    state = deps.contacts.get(event.contact_id, moment)
    fresh = state is None
    if state is None:
        state = ContactState(contact_id=event.contact_id, instance_id=event.instance_id)
    changed = fresh

    if state.status is ContactStatus.FAILED or (state.final and event.event_type in {COMPLETED, FAILED}):
        # A redelivered end, or anything after a failed session: only an unsent update is owed.
        published = _notify(state, settings, deps, moment)
        return Outcome(event.contact_id, "duplicate", published=published, risk_level=state.risk_level)

    if not state.customer_looked_up and not state.customer_id:
        changed |= _look_up_customer(state, event, deps)

    new_turns = _add_turns(state, event) if event.event_type == SEGMENTS else 0
    # Customer finals we already had: a redelivered record (partials and agent turns change nothing).
    redelivered = bool(event.customer_finals) and new_turns == 0
    changed |= new_turns > 0
    outcome_reason: str | None = None
    scored = False
    ending = event.event_type == COMPLETED or (state.final and new_turns > 0)

    if event.event_type == FAILED:
        state.status, state.final = ContactStatus.FAILED, True
        state.reason = safe_reason(event.failure_reason or FAILED_REASON)
        changed = True
    else:
        due = state.pending and (
            ending or moment.timestamp() - state.last_scored_epoch >= settings.rescore_interval_seconds
        )
        if ending and state.turns and state.scores == 0:
            due = True
        if due:
            scored, outcome_reason = _score(state, settings, deps, moment, final=ending)
            changed = True
        if event.event_type == COMPLETED:
            state.status, state.final = ContactStatus.COMPLETED, True
            if not state.turns:
                state.reason = outcome_reason = "no customer speech"
            changed = True

    if changed:
        deps.contacts.save(state, moment)
    published = _notify(state, settings, deps, moment)
    result = event.event_type.lower() if changed else "duplicate" if redelivered else "no-change"
    return Outcome(
        event.contact_id,
        result,
        new_turns=new_turns,
        scored=scored,
        published=published,
        risk_level=state.risk_level,
        reason=outcome_reason or (state.reason if state.final else None),
        details={"partials": event.partials, "customer_turns": len(state.turns)},
    )


def _look_up_customer(state: ContactState, event: SegmentEvent, deps: Collaborators) -> bool:
    """The customer behind the contact, asked once; without it the call is scored on its text alone."""
    state.customer_looked_up = True
    if deps.directory is None:
        return True
    try:
        state.customer_id = deps.directory.customer_id(
            event.instance_id or state.instance_id, state.contact_id
        )
    except Exception as exc:  # enrichment degrades: the score goes on without the profile
        log.warning("Customer lookup failed", extra={"error": type(exc).__name__})
        state.customer_id = None
    return True


def _add_turns(state: ContactState, event: SegmentEvent) -> int:
    kept = sum(len(text) for _, text in state.turns.values())
    added = 0
    for segment in event.customer_finals:
        if segment.id in state.turns:
            continue  # redelivered: already heard
        text = " ".join(segment.content.split())
        if kept + len(text) > MAX_KEPT_CHARS:
            text = ""
        kept += len(text)
        state.turns[segment.id] = (segment.begin_ms, text)
        added += 1
    if added:
        state.pending = True
    return added


def _score(
    state: ContactState, settings: Settings, deps: Collaborators, moment: datetime, *, final: bool
) -> tuple[bool, str | None]:
    """Score the text so far. Mid-call, an endpoint outage keeps the last score and the turns
    pending (the next turn or the end retries); at the end it raises, so the record is retried."""
    profile = deps.profiles.get(state.customer_id) if state.customer_id else None
    record = request_record(item_to_record(profile or {}), customer_text(state) or None)
    try:
        score = deps.scorer.score(record)
    except EndpointUnavailableError:
        if final:
            raise
        return False, "endpoint unavailable: last score kept"
    except (ModelRejectedError, ResponseError) as exc:
        # The same text would be refused again: not pending; the next turn changes the text.
        state.pending = False
        state.reason = safe_reason(str(exc))
        return False, state.reason
    state.probability = float(score.probability)
    state.risk_level = settings.thresholds.level(score.probability).value
    state.model_version = score.model_version
    state.scores += 1
    state.scored_turns = len(state.turns)
    state.last_scored_epoch = moment.timestamp()
    state.pending = False
    state.reason = None
    return True, None


def update_detail(state: ContactState, alert: bool) -> dict[str, Any]:
    """The ``Churn Risk Updated`` detail: ids, numbers and the level; never what was said."""
    return {
        "schema_version": SCHEMA_VERSION,
        "dedupe_key": f"{state.contact_id}:{state.scores}",
        "contact_id": state.contact_id,
        "instance_id": state.instance_id,
        "customer_id": state.customer_id,
        "risk_level": state.risk_level,
        "previous_level": state.notified_level,
        "probability": None if state.probability is None else round(state.probability, 4),
        "model_version": state.model_version,
        "customer_turns": state.scored_turns,
        "scored_at": timestamp(datetime.fromtimestamp(state.last_scored_epoch, UTC)),
        "final": state.final and state.status is ContactStatus.COMPLETED,
        "alert": alert,
    }


def _notify(state: ContactState, settings: Settings, deps: Collaborators, moment: datetime) -> bool:
    if state.risk_level is None or state.risk_level == state.notified_level:
        return False
    dedupe_key = f"{state.contact_id}:{state.scores}"
    quiet = None
    if state.risk_level == RiskLevel.HIGH.value and state.customer_id and deps.window is not None:
        quiet = deps.window.claim(
            state.customer_id, state.contact_id, dedupe_key, moment, moment + timedelta(seconds=60)
        )
    detail = update_detail(state, alert=quiet == "claimed")
    try:
        event_id = deps.events.publish(detail)
    except Exception:
        if quiet == "claimed":
            deps.window.release(state.customer_id, state.contact_id)  # type: ignore[union-attr]
        raise
    if quiet == "claimed":
        deps.window.mark_delivered(state.customer_id, state.contact_id, dedupe_key, event_id, moment)  # type: ignore[union-attr,arg-type]
    state.notified_level = state.risk_level
    state.notified_scores = state.scores
    deps.contacts.save(state, moment)
    return True
