"""The offer answers the customer's complaint: default rules on the served topics, labelled calls."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.slow

HERE = Path(__file__).resolve().parents[3] / "model" / "evaluation" / "topics"
sys.path.insert(0, str(HERE))

import bench_offer_fit  # noqa: E402
from churn_contracts.offers import load_rules  # noqa: E402


@pytest.fixture(scope="module")
def outcomes():
    rules = load_rules(bench_offer_fit.DEFAULT_RULES.read_bytes())
    topics_of = bench_offer_fit.served_topics()
    return {
        name: bench_offer_fit.evaluate(bench_offer_fit.load_calls(path), rules, topics_of)
        for name, path in bench_offer_fit.SETS.items()
    }


def test_the_demo_calls_get_an_offer_for_their_complaint(outcomes):
    demo = outcomes["demo calls"]
    assert [o.id for o in demo] == ["C001606", "C001965"]
    assert all(o.fits for o in demo), demo
    assert all(o.offer_id not in ("loyalty-thank-you", "heavy-user-bonus") for o in demo)


def test_outside_chats_mostly_get_an_offer_for_their_complaint(outcomes, capsys):
    chats = [o for name, found in outcomes.items() if name != "demo calls" for o in found]
    fit = sum(o.fits for o in chats) / len(chats)
    with capsys.disabled():
        print(f"\noffer fits the complaint on {len(chats)} outside chats: {fit:.1%}")
    # Measured 45 / 51 = 88.2 % (issue 22's goal is 90 %): a floor against regressions.
    assert len(chats) == 51 and fit >= 0.85
