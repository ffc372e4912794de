"""Retention offers: the rules document the retention team owns, and picking one offer.

The document (JSON, schema in ``offers/rules.schema.json``) lists rules. A rule matches a scored
call when every profile condition holds and its topic condition holds for the topics of the
call's phrase reasons. The highest-priority matching rule whose offer the customer has not had
within the rule's ``not_offered_within_days`` wins; ties go to the rule listed first. No match is
a valid outcome: ``offer`` is None and ``reason`` says why.

Stdlib only: the score function evaluates rules, ``churn_ops.offers`` validates them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .features import CATEGORICAL, NUMERICAL

# What a phrase reason can be about (churn_model.explain embeds one description set per topic).
TOPICS: tuple[str, ...] = ("price", "billing", "network", "service", "competitor", "contract", "other")
OPERATORS: tuple[str, ...] = ("==", "!=", ">", ">=", "<", "<=", "in", "not_in")
_ORDERED = frozenset({">", ">=", "<", "<="})
MAX_RULES = 200
MAX_TEXT = 500


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
class Rule:
    offer_id: str
    text: str
    priority: int
    profile: tuple[Condition, ...] = ()
    topics_any: frozenset[str] = frozenset()
    not_offered_within_days: float = 0.0

    def matches(self, record: Mapping[str, Any], topics: Iterable[str]) -> bool:
        if self.topics_any and not self.topics_any & set(topics):
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
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RulesError([f"$: not JSON ({exc})"]) from None
    return parse_rules(document, version=version)


def parse_rules(document: Any, *, version: str = "") -> RuleSet:
    """Check the document (every problem at once) and build the rule set."""
    problems: list[str] = []
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
    unknown = set(raw) - {"offer_id", "text", "priority", "when", "eligibility", "description"}
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
    topics: frozenset[str] = frozenset()
    if not isinstance(when, Mapping):
        problems.append(f"{where}.when: must be an object")
    else:
        unknown = set(when) - {"profile", "topics_any"}
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
        if not isinstance(raw_topics, list) or any(t not in TOPICS for t in raw_topics):
            problems.append(f"{where}.when.topics_any: a list of topics from {list(TOPICS)}")
        else:
            topics = frozenset(raw_topics)
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
    return Rule(str(offer_id), str(text).strip(), int(priority), tuple(conditions), topics, days)


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
    topics: Iterable[str],
    offered_within: Callable[[str, float], bool] = lambda offer_id, days: False,
) -> Decision:
    """The highest-priority matching rule the customer is eligible for.

    ``offered_within(offer_id, days)`` says whether this customer had that offer in the last
    ``days`` days (only asked for rules that match and set a window).
    """
    topics = set(topics)
    matched = [r for r in rules.ordered() if r.matches(record, topics)]
    if not matched:
        about = ", ".join(sorted(topics)) or "no phrase topics"
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
        parts.append("topic in " + ", ".join(sorted(rule.topics_any)))
    return f"rule {rule.offer_id} (priority {rule.priority}): " + ("; ".join(parts) or "always")


def reason_topics(reasons: Iterable[Mapping[str, Any]]) -> list[str]:
    """The topics of the phrase reasons, in reason order, without repeats or ``other``."""
    found: list[str] = []
    for reason in reasons:
        topic = reason.get("topic")
        if reason.get("kind") == "phrase" and topic in TOPICS and topic != "other" and topic not in found:
            found.append(topic)
    return found
