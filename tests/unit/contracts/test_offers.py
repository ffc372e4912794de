"""Offer rules: parsing every breach at once, and picking the best eligible offer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from churn_contracts.offers import (
    MAX_DEPTH,
    TOPICS,
    RulesError,
    choose_offer,
    json_depth,
    load_rules,
    offer_topics,
    parse_rules,
    reason_topics,
)
from churn_contracts.topics import summarise

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
    # Older topic names are read as the table's (network -> coverage).
    assert "no rule matched" in decision.reason and "coverage" in decision.reason


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


def call(*sentences):
    """A call's topics from (text, [(topic, strength), ...]) pairs."""
    return summarise([t for t, _ in sentences], [labels for _, labels in sentences])


COVERAGE_CALL = call(
    ("My data is really slow.", [("coverage", 0.9)]),
    ("I'm absolutely furious about the coverage.", [("coverage", 0.7), ("service", 0.7)]),
    ("I'm cancelling everything today.", [("cancel", 0.95)]),
    ("The signal is a disaster.", [("coverage", 0.8)]),
)


def test_topic_conditions_read_counts_and_the_strongest_sentence():
    ruleset = rules(
        rule("many", 30, topics_any=[{"topic": "coverage", "min_count": 3}]),
        rule("strong-service", 20, topics_any=[{"topic": "service", "min_strength": 0.8}]),
        rule("any-service", 10, topics_any=["service"]),
    )
    assert choose_offer(ruleset, {}, COVERAGE_CALL).offer.offer_id == "many"
    fewer = call(("Slow data.", [("coverage", 0.9)]), ("Rude agents.", [("service", 0.7)]))
    decision = choose_offer(ruleset, {}, fewer)
    assert decision.offer.offer_id == "any-service"
    assert decision.matched == ["any-service"]  # 0.7 is under the 0.8 the stronger rule asks for


def test_main_complaint_is_the_complaint_with_most_sentences():
    ruleset = rules(
        rule("discount", 60, main_complaint_any=["billing"]),
        rule("booster", 60, main_complaint_any=["coverage"]),
    )
    assert COVERAGE_CALL.main_complaint() == "coverage"
    assert choose_offer(ruleset, {}, COVERAGE_CALL).offer.offer_id == "booster"
    billing = call(("You overcharged me.", [("billing", 0.9)]), ("And the fee!", [("billing", 0.8)]))
    assert choose_offer(ruleset, {}, billing).offer.offer_id == "discount"


def test_bare_topic_names_count_once_and_the_first_complaint_is_the_main_one():
    ruleset = rules(rule("booster", 60, main_complaint_any=["coverage"]))
    assert choose_offer(ruleset, {}, ["cancel", "network", "price"]).offer.offer_id == "booster"
    assert choose_offer(ruleset, {}, ["price", "network"]).offer is None


def test_addresses_defaults_to_the_topics_a_rule_names():
    ruleset = rules(
        rule("a", 1, topics_any=["competitor", {"topic": "price"}], main_complaint_any=["network"]),
        {**rule("b", 1), "offer_id": "b", "addresses": ["billing", "device"]},
        rule("c", 1),
    )
    by_id = {r.offer_id: r for r in ruleset.rules}
    assert by_id["a"].addresses == ("competitor", "billing", "coverage")
    assert by_id["b"].addresses == ("billing", "device") and by_id["c"].addresses == ()


@pytest.mark.parametrize(
    "when, expected",
    [
        ({"topics_any": [{"topic": "coverage", "min_count": 0}]}, "min_count"),
        ({"topics_any": [{"topic": "coverage", "min_strength": 1.5}]}, "min_strength"),
        ({"topics_any": [{"topic": "coverage", "colour": "red"}]}, "topics_any[0]"),
        ({"main_complaint_any": ["praise"]}, "main_complaint_any"),
    ],
)
def test_bad_topic_conditions_are_refused(when, expected):
    with pytest.raises(RulesError) as caught:
        parse_rules({"rules": [rule("x", 1, **when)]})
    assert expected in str(caught.value)


def test_a_deeply_nested_file_is_a_rules_error_not_a_recursion_error():
    deep = '{"rules": [{"offer_id": "x", "text": "t", "priority": 1, "description": ' + "[" * 100_000
    deep += "]" * 100_000 + "}]}"
    with pytest.raises(RulesError) as caught:
        load_rules(deep.encode())
    assert "nested" in str(caught.value)
    # A parsed document handed over directly is bounded too.
    document: object = {"rules": []}
    for _ in range(MAX_DEPTH + 5):
        document = {"description": document}
    with pytest.raises(RulesError):
        parse_rules(document)
    assert json_depth('{"a": "[[[[[{{{{"}') == 1  # brackets inside strings do not count


def test_offer_topics_fall_back_to_the_phrase_reasons():
    reasons = [
        {"kind": "phrase", "value": "The network is awful.", "topic": "network", "topic_similarity": 0.6}
    ]
    assert offer_topics(reasons, None).counts == {"coverage": 1}
    assert offer_topics(reasons, COVERAGE_CALL) is COVERAGE_CALL


def test_default_rules_put_a_complaint_before_tenure():
    ruleset = load_rules(DEFAULT_RULES.read_bytes())
    # The demo's C001606: 90 months, 5 service calls, furious about the coverage and cancelling.
    profile = {"Account Length": 90, "CustServ Calls": 5, "Day Mins": 181.7, "limit": "unlimited"}
    decision = choose_offer(ruleset, profile, COVERAGE_CALL)
    assert decision.offer.offer_id != "loyalty-thank-you"
    assert "coverage" in decision.offer.addresses
    # The same long-tenured customer with a billing complaint and few calls: a price offer.
    billing = call(("You overcharged me and the fee is a joke.", [("billing", 0.9)]))
    decision = choose_offer(ruleset, {**profile, "CustServ Calls": 1}, billing)
    assert "billing" in decision.offer.addresses
    # No complaint at all: tenure decides.
    assert (
        choose_offer(ruleset, {**profile, "CustServ Calls": 1}, call()).offer.offer_id == "loyalty-thank-you"
    )
