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
    embed = bench_offer_fit._embed()
    return {
        name: bench_offer_fit.run_set(name, rules, embed=embed)[0]
        for name, path in bench_offer_fit.SETS.items()
        if path.exists()
    }


def test_the_demo_calls_get_an_offer_for_their_complaint(outcomes):
    demo = outcomes["demo calls"]
    assert [o.id for o in demo] == ["C001606", "C001965"]
    assert all(o.fits for o in demo), demo
    assert all(o.offer_id not in ("loyalty-thank-you", "heavy-user-bonus") for o in demo)


def test_outside_chats_mostly_get_an_offer_for_their_complaint(outcomes, capsys):
    seen = [o for name in ("outside chats", "outside chats, second set") for o in outcomes[name]]
    fit = sum(o.fits for o in seen) / len(seen)
    with capsys.disabled():
        print(f"\noffer fits the complaint on {len(seen)} outside chats seen while tuning: {fit:.1%}")
    # Measured 46 / 51 = 90.2 % (README): a floor against regressions.
    assert len(seen) == 51 and fit >= 0.85


def test_fresh_blind_chats_mostly_get_an_offer_for_their_complaint(outcomes, capsys):
    # Chosen by a fixed rule and labelled before any classifier saw them; measured with the
    # served recipe refitted without their chats' labelled sentences.
    first, second = outcomes["fresh outside chats"], outcomes["fresh outside chats, second set"]
    fresh = first + second
    fit = sum(o.fits for o in fresh) / len(fresh)
    with capsys.disabled():
        print(f"\noffer fits the complaint on {len(fresh)} fresh outside chats: {fit:.1%}")
    # Measured 42 / 46 and 20 / 24 = 88.6 % (README): a floor against regressions.
    assert (len(first), len(second)) == (46, 24) and fit >= 0.85


def test_blind_refit_leaves_out_the_chats_own_sentences():
    calls = bench_offer_fit.load_calls(bench_offer_fit.SETS["fresh outside chats"])
    from churn_model.topics import training_set

    kept = {text for text, _ in training_set(leave_out_rows={c["source_row"] for c in calls})}
    assert not any(text in call["text"] for call in calls for text in kept if len(text) > 40)
    assert len(kept) < len(training_set())
