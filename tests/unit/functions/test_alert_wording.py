"""Issue 22 §2: reasons in an agent's words, from the names table's display names, units and groups."""

from __future__ import annotations

from churn_contracts.features import DISPLAY, PROFILE_FEATURES
from score_call.wording import word_reasons


def _profile(name, value, reference, effect):
    return {"kind": "profile", "name": name, "value": value, "reference": reference, "effect": effect}


def _phrase(value, effect, topic="contract"):
    return {"kind": "phrase", "name": "text", "value": value, "effect": effect, "topic": topic}


def test_every_profile_feature_has_a_display_row():
    assert set(DISPLAY) == set(PROFILE_FEATURES)
    assert DISPLAY["Day Mins"].group == DISPLAY["Day Charge"].group == "day"
    assert {DISPLAY[n].name for n in ("Intl Mins", "Intl Charge", "Intl Calls")} == {"international usage"}


def test_one_fact_is_one_reason_worth_its_largest_member():
    reasons = word_reasons(
        [_profile("Day Charge", 52.3, 30.6, 0.06), _profile("Day Mins", 307.6, 179.8, 0.08)]
    )
    (day,) = reasons
    assert day["text"] == "Heavy daytime use: 307.6 minutes, typical 179.8 minutes"
    assert day["effect"] == 0.08 and day["features"] == ["Day Mins", "Day Charge"]


def test_plain_words_with_the_typical_value_and_low_values_read_as_low():
    reasons = word_reasons(
        [_profile("CustServ Calls", 5.0, 1.0, 0.2), _profile("Night Mins", 45.0, 100.0, 0.13)]
    )
    assert [r["text"] for r in reasons] == [
        "Calls customer service often: 5 calls, typical 1",
        "Light night use: 45 minutes, typical 100 minutes",
    ]
    money = word_reasons([_profile("Intl Charge", 4.1, 2.76, 0.05)])
    assert money[0]["text"] == "Heavy international use: $4.10, typical $2.76"


def test_a_reason_worth_less_than_three_points_is_dropped_but_the_customers_words_stay():
    reasons = word_reasons(
        [
            _profile("CustServ Calls", 5.0, 1.0, 0.30),
            _profile("Account Length", 4.0, 100.0, 0.20),
            _profile("Intl Calls", 9.0, 4.0, 0.10),
            _profile("VMail Message", 0.0, 8.0, 0.02),  # 2 points: dropped
            _phrase("I'm cancelling everything today.", 0.015),  # outweighed and small, yet kept
        ]
    )
    assert [r["group"] for r in reasons] == ["service-calls", "tenure", "international", "said"]
    assert reasons[-1]["text"] == (
        "Said \u201cI'm cancelling everything today.\u201d (about cancelling or the contract)"
    )


def test_the_strongest_topic_sentence_stands_in_when_the_endpoint_listed_none():
    strongest = {"text": "You overcharged me again.", "topic": "billing", "strength": 0.7}
    reasons = word_reasons([_profile("CustServ Calls", 4.0, 1.0, 0.2)], strongest_sentence=strongest)
    assert reasons[-1]["text"] == "Said \u201cYou overcharged me again.\u201d (about bill and price)"
    assert reasons[-1]["method"] == "strongest-topic-sentence"
    hidden = word_reasons([], strongest_sentence=strongest, excerpts=False)
    assert hidden[0]["value"] is None and hidden[0]["text"] == "Said something (about bill and price)"
