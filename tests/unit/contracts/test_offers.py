"""Offer rules: parsing every breach at once, and picking the best eligible offer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from churn_contracts.offers import (
    TOPICS,
    RulesError,
    choose_offer,
    load_rules,
    parse_rules,
    reason_topics,
)

DEFAULT_RULES = Path(__file__).resolve().parents[3] / "offers" / "default-rules.json"


def rules(*entries):
    return parse_rules({"rules": list(entries)})


def rule(offer_id, priority, **when):
    entry = {"offer_id": offer_id, "text": f"offer {offer_id}", "priority": priority}
    days = when.pop("days", None)
    if when:
        entry["when"] = when
    if days is not None:
        entry["eligibility"] = {"not_offered_within_days": days}
    return entry


def test_the_highest_priority_matching_rule_wins():
    ruleset = rules(
        rule("low", 10),
        rule("calls", 90, profile=[{"field": "CustServ Calls", "op": ">=", "value": 3}]),
        rule("price", 50, topics_any=["price"]),
    )
    assert choose_offer(ruleset, {"CustServ Calls": 4.0}, ["price"]).offer.offer_id == "calls"
    assert choose_offer(ruleset, {"CustServ Calls": 2.0}, ["price"]).offer.offer_id == "price"
    assert choose_offer(ruleset, {"CustServ Calls": 2.0}, []).offer.offer_id == "low"


def test_ties_go_to_the_rule_listed_first():
    ruleset = rules(rule("first", 5), rule("second", 5))
    assert choose_offer(ruleset, {}, []).offer.offer_id == "first"


def test_no_match_is_an_outcome_with_a_reason():
    ruleset = rules(rule("plan-a", 5, profile=[{"field": "plan", "op": "in", "value": ["A"]}]))
    decision = choose_offer(ruleset, {"plan": "B"}, ["network"])
    assert decision.offer is None and decision.document() is None
    assert "no rule matched" in decision.reason and "network" in decision.reason


def test_a_missing_profile_value_never_satisfies_a_condition():
    ruleset = rules(
        rule("not-a", 5, profile=[{"field": "plan", "op": "!=", "value": "A"}]),
        rule("few-calls", 4, profile=[{"field": "CustServ Calls", "op": "<", "value": 3}]),
    )
    assert choose_offer(ruleset, {"plan": None, "CustServ Calls": None}, []).offer is None


def test_an_offer_made_within_its_window_is_skipped_for_the_next():
    ruleset = rules(rule("big", 90, days=30), rule("small", 10, days=30))
    asked = []

    def offered_within(offer_id, days):
        asked.append((offer_id, days))
        return offer_id == "big"

    decision = choose_offer(ruleset, {}, [], offered_within)
    assert decision.offer.offer_id == "small"
    assert asked == [("big", 30.0), ("small", 30.0)]
    everything = choose_offer(ruleset, {}, [], lambda offer_id, days: True)
    assert everything.offer is None and "big, small" in everything.reason


def test_every_breach_is_reported_with_its_path():
    with pytest.raises(RulesError) as caught:
        parse_rules(
            {
                "rules": [
                    {"offer_id": "bad id!", "text": "", "priority": "high"},
                    rule("x", 1, profile=[{"field": "plan", "op": ">=", "value": "A"}]),
                    rule("y", 1, profile=[{"field": "Shoe Size", "op": "==", "value": 3}]),
                    rule("w", 1, topics_any=["weather"]),
                    rule("z", 2),
                    rule("z", 1),
                ],
                "colour": "red",
            }
        )
    problems = "\n".join(caught.value.problems)
    for expected in (
        "$: unknown keys ['colour']",
        "$.rules[0].offer_id",
        "$.rules[0].text",
        "$.rules[0].priority",
        "$.rules[1].when.profile[0].op: '>=' compares numbers",
        "$.rules[2].when.profile[0].field: 'Shoe Size' is not a profile feature",
        "$.rules[3].when.topics_any",
        "$.rules[5].offer_id: 'z' appears twice",
    ):
        assert expected in problems


def test_not_json_is_a_rules_error():
    with pytest.raises(RulesError):
        load_rules(b"{not json")


def test_the_default_rules_parse_and_carry_their_version():
    ruleset = load_rules(DEFAULT_RULES.read_bytes(), version="v-s3")
    assert ruleset.version == "v-s3"
    assert len(ruleset.rules) >= 5
    assert json.loads(DEFAULT_RULES.read_text())["version"]


def test_reason_topics_come_from_phrase_reasons_only():
    reasons = [
        {"kind": "profile", "name": "CustServ Calls", "topic": "service"},
        {"kind": "phrase", "name": "text", "topic": "network"},
        {"kind": "phrase", "name": "text", "topic": "other"},
        {"kind": "phrase", "name": "text", "topic": "network"},
        {"kind": "phrase", "name": "text", "topic": "price"},
    ]
    assert reason_topics(reasons) == ["network", "price"]
    assert "other" in TOPICS
