"""Retention offers: the rules document the retention team owns, and picking one offer.

The document (JSON, schema in ``offers/rules.schema.json``) lists rules. A rule matches a scored
call when every profile condition holds and its topic conditions hold for the whole call's topics
(``churn_contracts.topics.CallTopics``: per topic, how many customer sentences and the strongest
sentence's strength):

- ``topics_any``: at least one of these topics is in the call; an entry is a topic id, or
  ``{"topic", "min_count", "min_strength"}`` to ask for at least that many sentences and a
  strongest sentence at least that strong (0..1);
- ``main_complaint_any``: the call's main complaint (the complaint most sentences led with, each
  sentence leading with its strongest complaint; then the strongest) is one of these.

The highest-priority matching rule whose offer the customer has not had within the rule's
``not_offered_within_days`` wins; ties go to the rule listed first. No match is a valid outcome:
``offer`` is None and ``reason`` says why. A rule says which complaints its offer answers
(``addresses``; by default the topics its conditions name), for the alert and the fit figure.

Stdlib only: the score function evaluates rules, ``churn_ops.offers`` validates them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .features import CATEGORICAL, NUMERICAL
from .topics import COMPLAINT_TOPICS, TOPIC_IDS, CallTopics, canonical

# Topic names a rule may use: the table's ids, and the phrase reasons' older names (price ->
# billing, network -> coverage, contract -> cancel), so rules files written before still load.
LEGACY_REASON_TOPICS: tuple[str, ...] = (
    "price",
    "billing",
    "network",
    "service",
    "competitor",
    "contract",
    "other",
)
TOPICS: tuple[str, ...] = tuple(dict.fromkeys([*TOPIC_IDS, *LEGACY_REASON_TOPICS]))
OPERATORS: tuple[str, ...] = ("==", "!=", ">", ">=", "<", "<=", "in", "not_in")
_ORDERED = frozenset({">", ">=", "<", "<="})
MAX_RULES = 200
MAX_TEXT = 500
# The format nests four levels (document, rules, rule, when, condition, list); anything far deeper
# is refused before a recursive parser sees it (json.loads raises RecursionError around 1,000).
MAX_DEPTH = 16


class RulesError(ValueError):
    """The document breaks the rules format; ``problems`` lists every breach with its path."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any

    def holds(self, record: Mapping[str, Any]) -> bool:
        """An unknown (missing) profile value never satisfies a condition."""
        actual = record.get(self.field)
        if actual is None or (isinstance(actual, float) and math.isnan(actual)):
            return False
        if self.field in NUMERICAL:
            try:
                actual = float(actual)
            except (TypeError, ValueError):
                return False
        else:
            actual = str(actual)
        op, value = self.op, self.value
        if op == "in":
            return actual in value
        if op == "not_in":
            return actual not in value
        if op == "==":
            return actual == value
        if op == "!=":
            return actual != value
        if op == ">":
            return actual > value
        if op == ">=":
            return actual >= value
        if op == "<":
            return actual < value
        return actual <= value

    def describe(self) -> str:
        return f"{self.field} {self.op} {self.value}"


@dataclass(frozen=True)
class TopicCondition:
    """The call has ``topic`` in at least ``min_count`` sentences, the strongest at ``min_strength``."""

    topic: str
    min_count: int = 1
    min_strength: float = 0.0

    def holds(self, facts: TopicFacts) -> bool:
        return facts.count(self.topic) >= self.min_count and facts.strength(self.topic) >= self.min_strength

    def describe(self) -> str:
        extra = []
        if self.min_count > 1:
            extra.append(f"{self.min_count}+ sentences")
        if self.min_strength > 0:
            extra.append(f"strength >= {self.min_strength:g}")
        return self.topic + (f" ({', '.join(extra)})" if extra else "")


@dataclass(frozen=True)
class TopicFacts:
    """What rules read about a call's topics: counts, strengths and the main complaint."""

    counts: Mapping[str, int]
    strengths: Mapping[str, float]
    main_complaint: str | None

    def count(self, topic: str) -> int:
        return self.counts.get(topic, 0)

    def strength(self, topic: str) -> float:
        return self.strengths.get(topic, 0.0)

    def present(self) -> list[str]:
        return [t for t in self.counts if self.counts[t] > 0]

    @classmethod
    def of(cls, topics: CallTopics | Iterable[str] | None) -> TopicFacts:
        """From the whole call's topics, or from bare topic names (count 1, full strength; the
        first complaint named is the main one), e.g. an example customer or an old model's reasons."""
        if topics is None:
            return cls({}, {}, None)
        if isinstance(topics, CallTopics):
            strengths = {t: topics.strength(t) for t in topics.counts}
            return cls(dict(topics.counts), strengths, topics.main_complaint())
        names = [n for n in (canonical(str(t)) for t in topics) if n is not None]
        unique = list(dict.fromkeys(names))
        main = next((t for t in unique if t in COMPLAINT_TOPICS), None)
        return cls(dict.fromkeys(unique, 1), dict.fromkeys(unique, 1.0), main)


@dataclass(frozen=True)
class Rule:
    offer_id: str
    text: str
    priority: int
    profile: tuple[Condition, ...] = ()
    topics_any: tuple[TopicCondition, ...] = ()
    not_offered_within_days: float = 0.0
    main_complaint_any: frozenset[str] = frozenset()
    addresses: tuple[str, ...] = ()  # the complaints this offer answers

    def matches(self, record: Mapping[str, Any], topics: TopicFacts | Iterable[str]) -> bool:
        facts = topics if isinstance(topics, TopicFacts) else TopicFacts.of(topics)
        if self.topics_any and not any(c.holds(facts) for c in self.topics_any):
            return False
        if self.main_complaint_any and facts.main_complaint not in self.main_complaint_any:
            return False
        return all(c.holds(record) for c in self.profile)


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    version: str = ""

    def ordered(self) -> list[Rule]:
        """Highest priority first; the file's order breaks ties."""
        return sorted(self.rules, key=lambda r: -r.priority)


@dataclass(frozen=True)
class Decision:
    """The chosen offer (None when none applies) and why, in words for the agent and the logs."""

    offer: Rule | None
    reason: str
    matched: list[str] = field(default_factory=list)  # offer ids that matched, best first

    def document(self) -> dict[str, Any] | None:
        if self.offer is None:
            return None
        return {"offer_id": self.offer.offer_id, "text": self.offer.text, "priority": self.offer.priority}


def load_rules(body: bytes | str, *, version: str = "") -> RuleSet:
    """Parse a rules file; anything wrong with it (not JSON, too deep, off the format) raises
    :class:`RulesError`, never another exception."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, (bytes, bytearray)) else body
    depth = json_depth(text)
    if depth > MAX_DEPTH:
        raise RulesError([f"$: nested {depth} levels deep; a rules file nests at most {MAX_DEPTH}"])
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RulesError([f"$: not JSON ({type(exc).__name__}: {str(exc)[:200]})"]) from None
    return parse_rules(document, version=version)


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON text, outside strings; no recursion."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _value_depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed value, iteratively, stopping once past ``limit``."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (Mapping, list)):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_rules(document: Any, *, version: str = "") -> RuleSet:
    """Check the document (every problem at once) and build the rule set."""
    problems: list[str] = []
    if _value_depth(document, MAX_DEPTH) > MAX_DEPTH:
        raise RulesError([f"$: nested deeper than {MAX_DEPTH} levels"])
    if not isinstance(document, Mapping):
        raise RulesError(["$: must be an object with 'rules'"])
    unknown = set(document) - {"version", "description", "rules"}
    if unknown:
        problems.append(f"$: unknown keys {sorted(unknown)}")
    rules_doc = document.get("rules")
    if not isinstance(rules_doc, list):
        raise RulesError([*problems, "$.rules: must be a list"])
    if len(rules_doc) > MAX_RULES:
        problems.append(f"$.rules: at most {MAX_RULES} rules")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(rules_doc):
        rule = _rule(raw, f"$.rules[{i}]", problems)
        if rule is None:
            continue
        if rule.offer_id in seen:
            problems.append(f"$.rules[{i}].offer_id: {rule.offer_id!r} appears twice")
        seen.add(rule.offer_id)
        rules.append(rule)
    if problems:
        raise RulesError(problems)
    stated = document.get("version")
    return RuleSet(tuple(rules), version or (str(stated) if stated is not None else ""))


def _rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object")
        return None
    before = len(problems)
    unknown = set(raw) - {"offer_id", "text", "priority", "when", "eligibility", "description", "addresses"}
    if unknown:
        problems.append(f"{where}: unknown keys {sorted(unknown)}")
    offer_id = raw.get("offer_id")
    if not isinstance(offer_id, str) or not offer_id or len(offer_id) > 64 or not _id_chars(offer_id):
        problems.append(f"{where}.offer_id: 1-64 characters of letters, digits, '-', '_' or '.'")
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        problems.append(f"{where}.text: a non-empty text of at most {MAX_TEXT} characters")
    priority = raw.get("priority")
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(f"{where}.priority: an integer (higher wins)")
    when = raw.get("when", {})
    conditions: list[Condition] = []
    topics: list[TopicCondition] = []
    main: frozenset[str] = frozenset()
    if not isinstance(when, Mapping):
        problems.append(f"{where}.when: must be an object")
    else:
        unknown = set(when) - {"profile", "topics_any", "main_complaint_any"}
        if unknown:
            problems.append(f"{where}.when: unknown keys {sorted(unknown)}")
        profile = when.get("profile", [])
        if not isinstance(profile, list):
            problems.append(f"{where}.when.profile: must be a list of conditions")
        else:
            for j, c in enumerate(profile):
                condition = _condition(c, f"{where}.when.profile[{j}]", problems)
                if condition is not None:
                    conditions.append(condition)
        raw_topics = when.get("topics_any", [])
        if not isinstance(raw_topics, list):
            problems.append(f"{where}.when.topics_any: a list of topics from {list(TOPICS)}")
        else:
            for j, entry in enumerate(raw_topics):
                condition = _topic_condition(entry, f"{where}.when.topics_any[{j}]", problems)
                if condition is not None:
                    topics.append(condition)
        raw_main = when.get("main_complaint_any", [])
        if not isinstance(raw_main, list) or any(canonical(str(t)) not in COMPLAINT_TOPICS for t in raw_main):
            problems.append(
                f"{where}.when.main_complaint_any: a list of complaint topics from {sorted(COMPLAINT_TOPICS)}"
            )
        else:
            main = frozenset(str(canonical(str(t))) for t in raw_main)
    raw_addresses = raw.get("addresses")
    addresses: tuple[str, ...] = ()
    if raw_addresses is not None:
        if not isinstance(raw_addresses, list) or any(canonical(str(t)) is None for t in raw_addresses):
            problems.append(f"{where}.addresses: a list of topics from {list(TOPIC_IDS)}")
        else:
            addresses = tuple(dict.fromkeys(str(canonical(str(t))) for t in raw_addresses))
    days = 0.0
    eligibility = raw.get("eligibility", {})
    if not isinstance(eligibility, Mapping) or set(eligibility) - {"not_offered_within_days"}:
        problems.append(f"{where}.eligibility: an object with 'not_offered_within_days' only")
    else:
        value = eligibility.get("not_offered_within_days", 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 3650:
            problems.append(f"{where}.eligibility.not_offered_within_days: a number of days, 0-3650")
        else:
            days = float(value)
    if len(problems) > before:
        return None
    if raw_addresses is None:  # by default, what its topic conditions name
        addresses = tuple(dict.fromkeys([*(c.topic for c in topics), *sorted(main)]))
    return Rule(
        str(offer_id),
        str(text).strip(),
        int(priority),
        tuple(conditions),
        tuple(topics),
        days,
        main,
        addresses,
    )


def _topic_condition(raw: Any, where: str, problems: list[str]) -> TopicCondition | None:
    if isinstance(raw, str):
        raw = {"topic": raw}
    if (
        not isinstance(raw, Mapping)
        or "topic" not in raw
        or set(raw) - {"topic", "min_count", "min_strength"}
    ):
        problems.append(
            f"{where}: a topic, or an object with 'topic' and optional 'min_count', 'min_strength'"
        )
        return None
    if raw["topic"] == "other":  # a phrase reason's "no topic": never in a call's topics
        return TopicCondition("other", 1, 2.0)
    topic = canonical(str(raw["topic"])) if isinstance(raw["topic"], str) else None
    if topic is None:
        problems.append(f"{where}: a topic from {list(TOPICS)}, not {raw['topic']!r}")
        return None
    count = raw.get("min_count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 1000:
        problems.append(f"{where}.min_count: an integer from 1 to 1000")
        return None
    strength = raw.get("min_strength", 0.0)
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
        problems.append(f"{where}.min_strength: a number from 0 to 1")
        return None
    return TopicCondition(topic, count, float(strength))


def _condition(raw: Any, where: str, problems: list[str]) -> Condition | None:
    if not isinstance(raw, Mapping) or set(raw) != {"field", "op", "value"}:
        problems.append(f"{where}: an object with exactly 'field', 'op' and 'value'")
        return None
    name, op, value = raw["field"], raw["op"], raw["value"]
    if name not in NUMERICAL and name not in CATEGORICAL:
        problems.append(f"{where}.field: {name!r} is not a profile feature")
        return None
    if op not in OPERATORS:
        problems.append(f"{where}.op: one of {list(OPERATORS)}")
        return None
    numeric = name in NUMERICAL
    if op in _ORDERED and not numeric:
        problems.append(f"{where}.op: {op!r} compares numbers; {name!r} is categorical")
        return None

    def fits(v: Any) -> bool:
        if numeric:
            return not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        return isinstance(v, str)

    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value or not all(fits(v) for v in value):
            kind = "numbers" if numeric else "strings"
            problems.append(f"{where}.value: a non-empty list of {kind}")
            return None
        value = frozenset(float(v) if numeric else v for v in value)
    elif not fits(value):
        problems.append(f"{where}.value: a {'number' if numeric else 'string'} for {name!r}")
        return None
    elif numeric:
        value = float(value)
    return Condition(name, op, value)


def _id_chars(text: str) -> bool:
    return all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in text)


def choose_offer(
    rules: RuleSet,
    record: Mapping[str, Any],
    topics: CallTopics | Iterable[str] | None,
    offered_within: Callable[[str, float], bool] = lambda offer_id, days: False,
) -> Decision:
    """The highest-priority matching rule the customer is eligible for.

    ``topics``: the whole call's (:class:`CallTopics`; what rules are written for), or bare topic
    names (an old model's phrase reasons, ``reason_topics``). ``offered_within(offer_id, days)``
    says whether this customer had that offer in the last ``days`` days (only asked for rules
    that match and set a window).
    """
    facts = TopicFacts.of(topics)
    matched = [r for r in rules.ordered() if r.matches(record, facts)]
    if not matched:
        about = ", ".join(facts.present()) or "no topics"
        return Decision(None, f"no rule matched this profile and {about}")
    skipped = []
    for rule in matched:
        if rule.not_offered_within_days and offered_within(rule.offer_id, rule.not_offered_within_days):
            skipped.append(rule.offer_id)
            continue
        return Decision(rule, _why(rule), [r.offer_id for r in matched])
    return Decision(
        None,
        f"every matching offer was made in its window: {', '.join(skipped)}",
        [r.offer_id for r in matched],
    )


def _why(rule: Rule) -> str:
    parts = [c.describe() for c in rule.profile]
    if rule.topics_any:
        parts.append("topic in " + ", ".join(c.describe() for c in rule.topics_any))
    if rule.main_complaint_any:
        parts.append("main complaint " + " or ".join(sorted(rule.main_complaint_any)))
    return f"rule {rule.offer_id} (priority {rule.priority}): " + ("; ".join(parts) or "always")


def offer_topics(reasons: Iterable[Mapping[str, Any]], topics: CallTopics | None) -> CallTopics:
    """What offer rules see: the whole call's topics, or, from a model without them (older
    artifacts), the phrase reasons' topics."""
    if topics is not None:
        return topics
    from .topics import from_reasons

    return from_reasons(reasons)


def reason_topics(reasons: Iterable[Mapping[str, Any]]) -> list[str]:
    """The topics of the phrase reasons, in reason order, without repeats or ``other``."""
    found: list[str] = []
    for reason in reasons:
        topic = reason.get("topic")
        if reason.get("kind") == "phrase" and topic in TOPICS and topic != "other" and topic not in found:
            found.append(topic)
    return found
