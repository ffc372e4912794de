"""Reasons in an agent's words: the endpoint's explanation grouped and worded from the names table.

The endpoint explains feature by feature (``churn_model.explain``: reference replacement for the
profile, leave one sentence out for the text). An agent reads facts, not columns: daytime minutes
and daytime charge are one "daytime usage", so a group is one reason, worth its largest member's
effect (the members move together, so adding them would count one fact twice). A reason worth
less than ``MIN_POINTS`` points is dropped; the customer's strongest sentence is always kept,
even when profile reasons outweigh it. The endpoint's output is not changed: this is the
function's reading of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from churn_contracts.features import display

# A reason moving the risk by less than this many points (of 100) is noise to an agent.
MIN_POINTS = 3.0
# Shown: the strongest groups, then the customer's strongest sentence if it is not among them.
MAX_REASONS = 3
# Bounds a reason's words whatever the endpoint or the profile sent.
MAX_VALUE_CHARS = 300
MAX_TEXT_CHARS = 300


def points(effect: Any) -> float:
    try:
        return 100.0 * float(effect)
    except (TypeError, ValueError):
        return 0.0


def word_reasons(
    reasons: Sequence[Mapping[str, Any]],
    *,
    strongest_sentence: Mapping[str, Any] | None = None,
    excerpts: bool = True,
    limit: int = MAX_REASONS,
) -> list[dict[str, Any]]:
    """The alert's reasons, largest first: each the 1.1 fields plus ``text``, ``group``, ``features``.

    ``strongest_sentence`` (``{"text", "topic", "strength"}``, from the call's topics) stands in
    for the customer's words when no phrase reason came back from the endpoint.
    """
    groups: dict[str, list[Mapping[str, Any]]] = {}
    phrases: list[Mapping[str, Any]] = []
    for reason in reasons:
        if reason.get("kind") == "phrase":
            phrases.append(reason)
        elif reason.get("kind") == "profile":
            groups.setdefault(display(str(reason.get("name"))).group, []).append(reason)
    worded = [_profile_group(members) for members in groups.values()]
    worded += [_phrase(p, excerpts) for p in phrases]
    worded.sort(key=lambda r: -r["effect"])
    kept = [r for r in worded if points(r["effect"]) >= MIN_POINTS][:limit]

    sentence = max((r for r in worded if r["kind"] == "phrase"), key=lambda r: r["effect"], default=None)
    if sentence is None and strongest_sentence and strongest_sentence.get("text"):
        sentence = _sentence_from_topics(strongest_sentence, excerpts)
    if sentence is not None and sentence not in kept:
        kept.append(sentence)
    return kept


def _profile_group(members: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    ordered = sorted(members, key=lambda r: -points(r.get("effect")))
    lead = ordered[0]
    name = str(lead.get("name"))
    row = display(name)
    value, typical = lead.get("value"), lead.get("reference")
    low = _less(value, typical)
    subject = (row.low_phrase if low else row.phrase) or row.name.capitalize()
    facts = _amount(value, row.unit, row.noun)
    if typical is not None and _number(typical) is not None:
        facts += f", typical {_amount(typical, row.unit, '')}"
    text = f"{subject}: {facts}" if value is not None else subject
    return {
        "kind": "profile",
        "name": name,
        "value": _bounded(value),
        "reference": _bounded(typical),
        "effect": float(lead.get("effect") or 0.0),
        "method": lead.get("method"),
        "group": row.group,
        "features": [str(r.get("name")) for r in ordered],
        "text": text[:MAX_TEXT_CHARS],
    }


def _phrase(reason: Mapping[str, Any], excerpts: bool) -> dict[str, Any]:
    value = reason.get("value") if excerpts else None
    value = str(value)[:MAX_VALUE_CHARS] if isinstance(value, str) else None
    topic = reason.get("topic")
    return {
        "kind": "phrase",
        "name": "text",
        "value": value,
        "effect": float(reason.get("effect") or 0.0),
        "method": reason.get("method"),
        "topic": topic,
        "group": "said",
        "features": ["text"],
        "text": _said(value, topic),
    }


def _sentence_from_topics(sentence: Mapping[str, Any], excerpts: bool) -> dict[str, Any]:
    value = str(sentence["text"])[:MAX_VALUE_CHARS] if excerpts else None
    return {
        "kind": "phrase",
        "name": "text",
        "value": value,
        "effect": 0.0,  # not measured: the endpoint did not list it among the top reasons
        "method": "strongest-topic-sentence",
        "topic": sentence.get("topic"),
        "group": "said",
        "features": ["text"],
        "text": _said(value, sentence.get("topic")),
    }


def _said(value: str | None, topic: Any) -> str:
    from churn_contracts.topics import canonical, display_name

    about = ""
    topic_id = canonical(str(topic)) if topic else None
    if topic_id:
        about = f" (about {display_name(topic_id)})"
    if value:
        return f"Said \u201c{value}\u201d{about}"
    return f"Said something{about}" if about else "Something they said"


def _less(value: Any, typical: Any) -> bool:
    v, t = _number(value), _number(typical)
    return v is not None and t is not None and v < t


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _amount(value: Any, unit: str, noun: str) -> str:
    number = _number(value)
    if number is None:
        return str(value)[:80] if value is not None else "unknown"
    shown = (
        f"{number:,.2f}" if unit == "$" else (str(int(number)) if number.is_integer() else f"{number:,.1f}")
    )
    if unit == "$":
        return f"${shown}"
    words = noun or unit
    return f"{shown} {words}".strip()


def _bounded(value: Any) -> Any:
    return value[:MAX_VALUE_CHARS] if isinstance(value, str) else value
