"""Sentiment pairs: does the model score the unhappy call above the happy one?

    python model/benchmarks/bench_sentiment_pairs.py --model-dir artifacts/model

For each hand-written pair (same profile, a positive and a negative call) the
negative call must score strictly higher; a tie is a failure. Goal >= 95 %.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--verbose", action="store_true", help="print every failing pair")
    args = parser.parse_args()

    from churn_model.artifact import load_model
    from churn_model.data import load_sentiment_pairs

    model = load_model(args.model_dir)
    pairs = load_sentiment_pairs()
    records = [record for pair in pairs for record in pair.records()]
    scores = model.predict_proba(records).reshape(-1, 2)  # one batch for every call
    wins = scores[:, 1] > scores[:, 0]
    for pair, (positive, negative), won in zip(pairs, scores, wins, strict=True):
        if args.verbose and not won:
            print(f"  fail {pair.id}: positive {positive:.3f} >= negative {negative:.3f}")
    ties = int((scores[:, 1] == scores[:, 0]).sum())
    print(
        f"model {model.model_version}: negative call scored higher in {int(wins.sum())}/{len(pairs)} pairs "
        f"= {wins.mean():.1%} (ties {ties}, counted as failures; goal >= 95 %)"
    )
    print(f"mean score: positive calls {scores[:, 0].mean():.3f}, negative calls {scores[:, 1].mean():.3f}")


if __name__ == "__main__":
    main()
