"""Model checks on text the generator never wrote: the seed's pair and the free-form pairs.

- The seed's two examples (the original project's README): an unhappy and a happy customer, same
  profile. A model that reads the text must score the unhappy one higher.
- The free-form pairs (``model/evaluation/freeform_pairs.jsonl``, written by hand in styles the
  grammar does not produce; see the README beside it): the negative call must score strictly
  higher than the positive one; a tie is a failure. Goal: at least 95 % of pairs.

The benchmarks and the demo print :func:`format_check`; ``predict`` is any function from feature
records to P(churn) (a loaded artifact's ``predict_proba``, or a freshly fitted pipeline).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.features import TEXT

from .data.sentiment_pairs import SentimentPair, load_sentiment_pairs

Predict = Callable[[list[dict[str, Any]]], Sequence[float] | np.ndarray]

FREEFORM_PATH = Path(__file__).resolve().parents[1] / "evaluation" / "freeform_pairs.jsonl"
PAIRS_GOAL = 0.95

# The seed project's two example texts, verbatim.
SEED_NEGATIVE = "I have been using your service for 6 months and I am disappointed in your customer service."
SEED_POSITIVE = (
    "Well, I've been dealing with TelCom for three months now and I am quite happy with your service"
)
# An ordinary profile (median-like usage, one service call), so the text decides.
SEED_PROFILE: dict[str, Any] = {
    "Account Length": 100,
    "VMail Message": 0,
    "Day Mins": 180.0,
    "Day Calls": 100,
    "Day Charge": 30.6,
    "Eve Mins": 200.0,
    "Eve Calls": 100,
    "Eve Charge": 17.0,
    "Night Mins": 200.0,
    "Night Calls": 100,
    "Night Charge": 9.0,
    "Intl Mins": 10.0,
    "Intl Calls": 4,
    "Intl Charge": 2.7,
    "CustServ Calls": 1,
    "State": "OH",
    "Location": "suburban",
    "plan": "B",
    "limit": "unlimited",
}


@dataclass(frozen=True)
class PairsResult:
    passed: int
    total: int
    ties: int
    mean_positive: float
    mean_negative: float
    failures: list[str] = field(default_factory=list)
    by_style: dict[str, tuple[int, int]] = field(default_factory=dict)  # style -> (passed, total)

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def ok(self) -> bool:
        return self.share >= PAIRS_GOAL


@dataclass(frozen=True)
class SeedPairResult:
    positive: float
    negative: float

    @property
    def ok(self) -> bool:
        return self.negative > self.positive


def load_freeform_pairs(path: Path = FREEFORM_PATH) -> list[SentimentPair]:
    return load_sentiment_pairs(path)


def _styles(path: Path) -> dict[str, str]:
    import json

    styles = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            data = json.loads(line)
            styles[str(data["id"])] = str(data.get("style", "-"))
    return styles


def pair_records(
    pair: SentimentPair, profile: Mapping[str, Any] | None = None, text_column: str = TEXT
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The positive and the negative call as records: on the pair's own profile, or on ``profile``
    (the training data's typical customer), with the text in ``text_column``."""
    base = pair.profile if profile is None else profile
    return {**base, text_column: pair.positive}, {**base, text_column: pair.negative}


def check_pairs(
    predict: Predict,
    pairs: Sequence[SentimentPair],
    styles: Mapping[str, str] | None = None,
    *,
    profile: Mapping[str, Any] | None = None,
    text_column: str = TEXT,
) -> PairsResult:
    """Score every pair in one batch; a pair passes when the negative call scores strictly higher."""
    records = [record for pair in pairs for record in pair_records(pair, profile, text_column)]
    scores = np.asarray(predict(records), dtype=np.float64).reshape(-1, 2)
    wins = scores[:, 1] > scores[:, 0]
    per_style: Counter[str] = Counter()
    passed_style: Counter[str] = Counter()
    for pair, won in zip(pairs, wins, strict=True):
        style = (styles or {}).get(pair.id, "-")
        per_style[style] += 1
        passed_style[style] += int(won)
    return PairsResult(
        passed=int(wins.sum()),
        total=len(pairs),
        ties=int((scores[:, 1] == scores[:, 0]).sum()),
        mean_positive=float(scores[:, 0].mean()),
        mean_negative=float(scores[:, 1].mean()),
        failures=[pair.id for pair, won in zip(pairs, wins, strict=True) if not won],
        by_style={s: (passed_style[s], per_style[s]) for s in sorted(per_style)},
    )


def check_seed_pair(
    predict: Predict, profile: Mapping[str, Any] = SEED_PROFILE, text_column: str = TEXT
) -> SeedPairResult:
    records = [{**profile, text_column: SEED_POSITIVE}, {**profile, text_column: SEED_NEGATIVE}]
    positive, negative = (float(p) for p in np.asarray(predict(records), dtype=np.float64))
    return SeedPairResult(positive, negative)


def check_freeform(
    predict: Predict,
    path: Path = FREEFORM_PATH,
    *,
    profile: Mapping[str, Any] | None = None,
    text_column: str = TEXT,
) -> PairsResult:
    return check_pairs(
        predict, load_freeform_pairs(path), _styles(path), profile=profile, text_column=text_column
    )


def run_checks(
    predict: Predict,
    *,
    grammar_pairs: bool = True,
    profile: Mapping[str, Any] | None = None,
    text_column: str = TEXT,
) -> dict[str, Any]:
    """The seed pair, the free-form pairs and (``grammar_pairs``) the grammar-side sentiment pairs.

    ``profile``: score every text on this one customer (training uses its data's typical customer,
    so the check runs on any columns); ``None``: the seed's profile and each pair's own.
    """
    results: dict[str, Any] = {
        "seed_pair": check_seed_pair(predict, SEED_PROFILE if profile is None else profile, text_column),
        "freeform": check_freeform(predict, profile=profile, text_column=text_column),
    }
    if grammar_pairs:
        results["sentiment_pairs"] = check_pairs(
            predict, load_sentiment_pairs(), profile=profile, text_column=text_column
        )
    return results


def to_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """The results as plain JSON (for metrics.json), with ``passed`` for the two checks that gate."""
    out: dict[str, Any] = {}
    for key, value in results.items():
        out[key] = {**dataclasses.asdict(value), "ok": value.ok}
        if isinstance(value, PairsResult):
            out[key]["share"] = value.share
    out["passed"] = checks_passed(results)
    return out


def format_check(
    results: Mapping[str, Any], *, test_auc: float | None = None, oracle_auc: float | None = None
) -> str:
    """The "model check" block the demo and the benchmarks print."""
    lines = ["model check"]
    if test_auc is not None:
        against = f" (oracle {oracle_auc:.3f}, ratio {test_auc / oracle_auc:.3f})" if oracle_auc else ""
        lines.append(f"  test ROC AUC        {test_auc:.3f}{against}")
    seed: SeedPairResult = results["seed_pair"]
    lines.append(
        f"  seed's pair         negative {seed.negative:.3f} vs positive {seed.positive:.3f}: "
        + ("PASS" if seed.ok else "FAIL")
    )
    for key, label in (("freeform", "free-form pairs"), ("sentiment_pairs", "grammar-side pairs")):
        if key in results:
            r: PairsResult = results[key]
            lines.append(
                f"  {label:19s} {r.passed}/{r.total} = {r.share:.1%} (goal >= {PAIRS_GOAL:.0%}): "
                + ("PASS" if r.ok else "FAIL")
            )
    return "\n".join(lines)


def checks_passed(results: Mapping[str, Any]) -> bool:
    return bool(results["seed_pair"].ok and results["freeform"].ok)
