"""What the customer talked about: the one topic table and a call's topics.

Every customer sentence of a call gets zero or more topics (``churn_model.topics`` classifies
them at the endpoint); the call keeps, per topic, how many sentences had it and the strongest
sentence with its strength (0..1). The endpoint returns that as ``topics`` in its answer, the
calls table stores it with the score, the alert shows it and the offer rules match on it
(``churn_contracts.offers``).

Stdlib only: it ships to the Lambdas in ContractsLayer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Topic:
    id: str
    name: str  # in an agent's words
    complaint: bool  # something the customer is unhappy about (praise is not)


# The one table. Order is the display order when counts tie.
TOPIC_TABLE: tuple[Topic, ...] = (
    Topic("coverage", "coverage and network", True),
    Topic("billing", "bill and price", True),
    Topic("service", "customer service", True),
    Topic("device", "phone or device", True),
    Topic("competitor", "another provider", True),
    # Leaving is the risk itself, not something to fix: the offer answers the complaint behind it.
    Topic("cancel", "cancelling or the contract", False),
    Topic("plan", "plan change or upgrade", False),
    Topic("praise", "praise", False),
)
TOPIC_IDS: tuple[str, ...] = tuple(t.id for t in TOPIC_TABLE)
COMPLAINT_TOPICS: frozenset[str] = frozenset(t.id for t in TOPIC_TABLE if t.complaint)
BY_ID: dict[str, Topic] = {t.id: t for t in TOPIC_TABLE}
# Topic names of phrase reasons from models before the whole-call topics (churn_model.explain).
LEGACY_TOPICS: dict[str, str] = {
    "price": "billing",
    "billing": "billing",
    "network": "coverage",
    "service": "service",
    "competitor": "competitor",
    "contract": "cancel",
}
SCHEMA_VERSION = 1
# Bounds what one call adds to a stored item or an alert.
MAX_SENTENCE_CHARS = 300


class TopicsError(ValueError):
    """A ``topics`` document that is not the contract's shape."""


def canonical(topic: str) -> str | None:
    """A topic id of the table for ``topic`` (an id or a legacy name); None if neither."""
    if topic in BY_ID:
        return topic
    return LEGACY_TOPICS.get(topic)


def display_name(topic: str) -> str:
    found = BY_ID.get(topic)
    return found.name if found else topic


@dataclass(frozen=True)
class TopicSentence:
    """The strongest sentence of one topic: its text, strength (0..1) and index in the call."""

    text: str
    strength: float
    sentence: int

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "strength": self.strength, "sentence": self.sentence}


@dataclass(frozen=True)
class CallTopics:
    """Per topic: how many customer sentences had it and the strongest one; per complaint, how
    many sentences it led (was that sentence's strongest complaint)."""

    sentences: int = 0  # customer sentences read
    counts: dict[str, int] = field(default_factory=dict)
    strongest: dict[str, TopicSentence] = field(default_factory=dict)
    method: str = ""  # which classifier, for the record
    # Empty in documents from before it (schema 1 without "leads"): the main complaint then
    # falls back to the counts.
    leads: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.counts)

    def count(self, topic: str) -> int:
        return self.counts.get(topic, 0)

    def strength(self, topic: str) -> float:
        found = self.strongest.get(topic)
        return found.strength if found else 0.0

    def ranked(self) -> list[str]:
        """Topics present, most sentences first, then the stronger, then the table's order."""
        return sorted(self.counts, key=lambda t: (-self.counts[t], -self.strength(t), _order(t)))

    def complaints(self) -> list[str]:
        return [t for t in self.ranked() if t in COMPLAINT_TOPICS]

    def main_complaint(self) -> str | None:
        """The complaint most sentences led with, then the stronger, then the table's order.

        A sentence votes once, for its strongest complaint: "terrible customer service" heard as
        service and, more weakly, as coverage is one service sentence, not one of each.
        """
        if self.leads:
            return min(self.leads, key=lambda t: (-self.leads[t], -self.strength(t), _order(t)))
        found = self.complaints()
        return found[0] if found else None

    def to_dict(self) -> dict[str, Any]:
        ranked = self.ranked()
        return {
            "schema_version": SCHEMA_VERSION,
            "method": self.method,
            "sentences": self.sentences,
            "counts": {t: self.counts[t] for t in ranked},
            "strongest": {t: self.strongest[t].to_dict() for t in ranked if t in self.strongest},
            "leads": {t: self.leads[t] for t in ranked if t in self.leads},
        }

    @classmethod
    def from_dict(cls, data: Any) -> CallTopics:
        """Parse a stored or returned document; unknown topics are dropped (a newer table),
        anything else off the shape raises :class:`TopicsError`."""
        if not isinstance(data, Mapping):
            raise TopicsError("'topics' is not an object")
        sentences = _count(data.get("sentences", 0), "'topics.sentences'")
        raw_counts = data.get("counts", {})
        raw_strongest = data.get("strongest", {})
        if not isinstance(raw_counts, Mapping) or not isinstance(raw_strongest, Mapping):
            raise TopicsError("'topics.counts' and 'topics.strongest' must be objects")
        counts: dict[str, int] = {}
        for topic, value in raw_counts.items():
            n = _count(value, f"'topics.counts.{topic}'")
            if topic in BY_ID and n > 0:
                counts[topic] = n
        strongest: dict[str, TopicSentence] = {}
        for topic, value in raw_strongest.items():
            if topic not in counts:
                continue
            if not isinstance(value, Mapping) or not isinstance(value.get("text"), str):
                raise TopicsError(f"'topics.strongest.{topic}' needs a 'text'")
            strength = value.get("strength")
            if isinstance(strength, bool) or not isinstance(strength, (int, float)):
                raise TopicsError(f"'topics.strongest.{topic}.strength' is not a number")
            if not math.isfinite(strength) or not 0.0 <= strength <= 1.0:
                raise TopicsError(f"'topics.strongest.{topic}.strength' is outside [0, 1]")
            index = _count(value.get("sentence", 0), f"'topics.strongest.{topic}.sentence'")
            strongest[topic] = TopicSentence(value["text"][:MAX_SENTENCE_CHARS], float(strength), index)
        raw_leads = data.get("leads", {})
        if not isinstance(raw_leads, Mapping):
            raise TopicsError("'topics.leads' must be an object")
        leads: dict[str, int] = {}
        for topic, value in raw_leads.items():
            n = _count(value, f"'topics.leads.{topic}'")
            if topic in COMPLAINT_TOPICS and topic in counts and n > 0:
                leads[topic] = min(n, counts[topic])
        method = data.get("method", "")
        return cls(sentences, counts, strongest, str(method) if method else "", leads)


def summarise(
    sentences: Sequence[str],
    labels: Sequence[Iterable[tuple[str, float]]],
    *,
    method: str = "",
) -> CallTopics:
    """The call's topics from each sentence's ``(topic, strength)`` labels, in call order.

    The strongest sentence of a topic is the first with the highest strength; a sentence leads
    with its strongest complaint (the first listed on a tie).
    """
    if len(sentences) != len(labels):
        raise ValueError("one label list per sentence")
    counts: dict[str, int] = {}
    strongest: dict[str, TopicSentence] = {}
    leads: dict[str, int] = {}
    for index, (text, found) in enumerate(zip(sentences, labels, strict=True)):
        lead: tuple[str, float] | None = None
        for topic, strength in dict(found).items():
            topic_id = canonical(topic)
            if topic_id is None:
                continue
            counts[topic_id] = counts.get(topic_id, 0) + 1
            strength = round(min(max(float(strength), 0.0), 1.0), 4)
            best = strongest.get(topic_id)
            if best is None or strength > best.strength:
                strongest[topic_id] = TopicSentence(text[:MAX_SENTENCE_CHARS], strength, index)
            if topic_id in COMPLAINT_TOPICS and (lead is None or strength > lead[1]):
                lead = (topic_id, strength)
        if lead is not None:
            leads[lead[0]] = leads.get(lead[0], 0) + 1
    return CallTopics(len(sentences), counts, strongest, method, leads)


def from_reasons(reasons: Iterable[Mapping[str, Any]]) -> CallTopics:
    """Topics from phrase reasons only: what an endpoint without whole-call topics gives."""
    sentences: list[str] = []
    labels: list[list[tuple[str, float]]] = []
    for reason in reasons:
        if reason.get("kind") != "phrase" or not isinstance(reason.get("value"), str):
            continue
        topic = canonical(str(reason.get("topic")))
        similarity = reason.get("topic_similarity")
        strength = (
            similarity if isinstance(similarity, (int, float)) and not isinstance(similarity, bool) else 0.0
        )
        sentences.append(reason["value"])
        labels.append([(topic, strength)] if topic else [])
    return summarise(sentences, labels, method="phrase-reasons")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TopicsError(f"{what} is not a count")
    return value


def _order(topic: str) -> int:
    return TOPIC_IDS.index(topic) if topic in BY_ID else len(TOPIC_IDS)
