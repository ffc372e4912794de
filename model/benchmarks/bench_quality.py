"""Test AUC per feature set and classifier, against the generator's oracle.

    python model/benchmarks/bench_quality.py --rows 6000 --test-fraction 0.25

Texts are embedded once (int8 on CPU) into the embedding cache, so every
classifier after the first reuses them. Prints one line per (feature set,
classifier): test ROC AUC, the oracle AUC of that feature set and the ratio.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from _common import generated_data, timer

# name -> (classifier, n_estimators, class_weight, extra params)
VARIANTS: dict[str, tuple[str, int, str | None, dict[str, Any]]] = {
    "rf": ("rf", 100, None, {}),
    "rf-leaf5": ("rf", 300, "balanced_subsample", {"min_samples_leaf": 5}),
    "hgb": ("hgb", 200, None, {"learning_rate": 0.05}),
    "hgb-100": ("hgb", 100, None, {"learning_rate": 0.1}),
    "hgb-shallow": ("hgb", 300, None, {"learning_rate": 0.05, "max_depth": 3, "min_samples_leaf": 40}),
    "hgb-balanced": ("hgb", 200, "balanced", {"learning_rate": 0.05}),
    "logreg": ("logreg", 100, None, {"c": 0.1}),
    "logreg-c0.01": ("logreg", 100, None, {"c": 0.01}),
    "logreg-c0.03": ("logreg", 100, None, {"c": 0.03}),
    "additive": (
        "additive",
        300,
        None,
        {"learning_rate": 0.05, "max_depth": 3, "min_samples_leaf": 40, "c": 0.01},
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--test-fraction", type=float, default=0.25)
    parser.add_argument("--data", type=Path, default=None, help="default artifacts/bench-data-<rows>")
    parser.add_argument("--embedding-cache", type=Path, default=Path("artifacts/embedding-cache"))
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {', '.join(VARIANTS)}")
    parser.add_argument("--feature-sets", default="profile,text,both")
    parser.add_argument("--precision", choices=("fp32", "bf16", "int8"), default=None, help="default: auto")
    parser.add_argument("--text-granularity", choices=("text", "sentence"), default="text")
    parser.add_argument(
        "--text-features", default="intent", help="of intent, axes, embedding (default intent)"
    )
    parser.add_argument(
        "--calibration",
        choices=("none", "sigmoid", "isotonic"),
        default="none",
        help="none: AUC only, fastest",
    )
    args = parser.parse_args()

    from churn_contracts.endpoint import FeatureSpec
    from churn_model import dataio
    from churn_model.encoder import DEFAULT_TEXT_FEATURES
    from churn_model.evaluate import oracle_auc
    from churn_model.train import TrainConfig, fit_pipeline, score
    from sklearn.metrics import roc_auc_score

    data = args.data or Path(f"artifacts/bench-data-{args.rows}")
    oracle = generated_data(data, args.rows, test_fraction=args.test_fraction)
    full = FeatureSpec()
    train, y_train = dataio.load(data / "train.jsonl", full, label_name="y")
    test, y_test = dataio.load(data / "test.jsonl", full, label_name="y", name="test")
    print(f"{len(train)} train / {len(test)} test rows; churn {y_train.mean():.3f} / {y_test.mean():.3f}")

    specs = {
        "profile": FeatureSpec(full.numerical, full.categorical, ()),
        "text": FeatureSpec((), (), full.text),
        "both": full,
    }
    results = []
    runs = [
        (feature_set, name, text_features)
        for feature_set in args.feature_sets.split(",")
        for name in args.variants.split(",")
        for text_features in (args.text_features.split(",") if specs[feature_set].text else ["-"])
    ]
    for feature_set, name, text_features in runs:
        reference = oracle_auc(oracle, feature_set)
        classifier, n_estimators, class_weight, params = VARIANTS[name]
        config = TrainConfig(
            spec=specs[feature_set],
            classifier=classifier,
            n_estimators=n_estimators,
            class_weight=class_weight,
            classifier_params=params,
            seed=0,
            embedding_cache=str(args.embedding_cache),
            precision=args.precision,
            text_granularity=args.text_granularity,
            text_features=text_features if text_features != "-" else DEFAULT_TEXT_FEATURES,
            calibration=args.calibration,
            progress=False,
        )
        with timer() as took:
            pipeline, _, _ = fit_pipeline(train, y_train, config)
            p = score(pipeline, test, specs[feature_set])
        auc = roc_auc_score(y_test, p)
        ratio = auc / reference if reference else float("nan")
        label = name if text_features == "-" else f"{name}/{text_features}"
        results.append((feature_set, label, auc, reference, ratio))
        print(
            f"{feature_set:8s} {label:23s} test AUC {auc:.4f}  oracle {reference:.4f}  "
            f"ratio {ratio:.4f}  ({took['s']:.1f} s)",
            flush=True,
        )
    best = max((r for r in results if r[0] == "both"), key=lambda r: r[2], default=None)
    if best:
        print(f"best for both: {best[1]} (AUC {best[2]:.4f}, {best[4]:.4f} x oracle; goal >= 0.98)")
    _ = np


if __name__ == "__main__":
    main()
