"""The model checks: the free-form pairs file, the seed's pair, and how pairs are counted."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from churn_contracts.features import PROFILE_FEATURES, TEXT
from churn_model import checks

STYLES = {
    "terse",
    "long-winded",
    "polite-but-leaving",
    "sarcastic",
    "non-native",
    "price-only",
    "agent-praise-cancel",
}


def test_the_freeform_set_has_120_pairs_in_every_style_and_no_generator_text():
    lines = [json.loads(x) for x in checks.FREEFORM_PATH.read_text().splitlines() if x.strip()]
    assert len(lines) >= 120
    styles = Counter(line["style"] for line in lines)
    assert set(styles) == STYLES and min(styles.values()) >= 15
    assert len({line["id"] for line in lines}) == len(lines)
    pairs = checks.load_freeform_pairs()
    assert all(set(PROFILE_FEATURES) <= set(p.profile) for p in pairs)
    # Written apart from the grammar: no free-form text is a grammar template.
    from churn_model.data import grammar

    templates = {
        t.lower() for v in vars(grammar).values() if isinstance(v, tuple) for t in v if isinstance(t, str)
    }
    assert not any(p.positive.lower() in templates or p.negative.lower() in templates for p in pairs)


def test_the_seed_pair_is_verbatim():
    assert checks.SEED_NEGATIVE.startswith("I have been using your service for 6 months")
    assert checks.SEED_POSITIVE.endswith("I am quite happy with your service")


def words_scorer(records):
    """A stand-in model that reads two words: enough to check the counting, not a model of ours."""
    return [0.9 if "cancel" in r[TEXT].lower() else 0.1 for r in records]


def test_pairs_count_strict_wins_and_ties_fail():
    result = checks.check_freeform(words_scorer)
    negatives_with_cancel = sum(
        "cancel" in p.negative.lower() and "cancel" not in p.positive.lower()
        for p in checks.load_freeform_pairs()
    )
    assert result.passed == negatives_with_cancel
    assert result.ties > 0 and result.passed + result.ties <= result.total
    assert sum(b for _, b in result.by_style.values()) == result.total
    assert not result.ok
    seed = checks.check_seed_pair(words_scorer)
    assert (seed.positive, seed.negative) == (0.1, 0.1) and not seed.ok  # a tie fails
    as_json = checks.to_json({"seed_pair": seed, "freeform": result})
    assert as_json["passed"] is False and as_json["freeform"]["share"] == result.share
    block = checks.format_check({"seed_pair": seed, "freeform": result}, test_auc=0.8, oracle_auc=0.84)
    assert "seed's pair" in block and f"{result.passed}/{result.total}" in block and "FAIL" in block


@pytest.mark.slow
def test_the_command_line_prints_the_model_check_and_stores_it(tmp_path, capsys):
    """make train / the demo: the check block is printed and lands in metrics.json for the demo."""
    from churn_model.data.generate import write_dataset
    from churn_model.train import main

    write_dataset(tmp_path / "data", rows=240, test_fraction=0.25, seed=3)
    code = main(
        [
            "--train",
            str(tmp_path / "data" / "train.jsonl"),
            "--test",
            str(tmp_path / "data" / "test.jsonl"),
            "--model-dir",
            str(tmp_path / "model"),
            "--best-flags",
            "--no-progress",
            "--no-plots",
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "model check" in out and "seed's pair" in out and "free-form pairs" in out
    stored = json.loads((tmp_path / "model" / "metrics.json").read_text())["checks"]
    assert (
        stored["freeform"]["total"] >= 120
        and 0 <= stored["freeform"]["passed"] <= stored["freeform"]["total"]
    )
    assert {"positive", "negative", "ok"} <= set(stored["seed_pair"]) and isinstance(stored["passed"], bool)
