"""Sentiment pairs: does the model score the unhappy call above the happy one?

    python model/benchmarks/bench_sentiment_pairs.py --model-dir artifacts/model
    python model/benchmarks/bench_sentiment_pairs.py --model-dir artifacts/model --pairs grammar

For each pair (same profile, a positive and a negative call) the negative call must score
strictly higher; a tie is a failure. Goal >= 95 %. ``--pairs freeform`` (default) is the
hand-written set in styles the generator never writes (model/evaluation/); ``grammar`` the 44
grammar-side pairs; or a path to a pairs file. The seed's two examples are always scored too.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts/model"))
    parser.add_argument("--pairs", default="freeform", help="freeform, grammar, or a .jsonl path")
    parser.add_argument("--verbose", action="store_true", help="print every failing pair")
    args = parser.parse_args()

    from churn_model import checks
    from churn_model.artifact import load_model
    from churn_model.data import load_sentiment_pairs

    model = load_model(args.model_dir)
    if args.pairs == "grammar":
        result = checks.check_pairs(model.predict_proba, load_sentiment_pairs())
    else:
        path = checks.FREEFORM_PATH if args.pairs == "freeform" else Path(args.pairs)
        result = checks.check_freeform(model.predict_proba, path)
    seed = checks.check_seed_pair(model.predict_proba)
    print(
        f"model {model.model_version}: negative call scored higher in {result.passed}/{result.total} pairs "
        f"= {result.share:.1%} (ties {result.ties}, counted as failures; goal >= 95 %)"
    )
    print(f"mean score: positive calls {result.mean_positive:.3f}, negative calls {result.mean_negative:.3f}")
    if len(result.by_style) > 1:
        print("by style: " + ", ".join(f"{s} {a}/{b}" for s, (a, b) in result.by_style.items()))
    print(
        f"seed's pair: unhappy {seed.negative:.3f} vs happy {seed.positive:.3f}: {'PASS' if seed.ok else 'FAIL'}"
    )
    if args.verbose and result.failures:
        print("failing pairs: " + ", ".join(result.failures))


if __name__ == "__main__":
    main()
