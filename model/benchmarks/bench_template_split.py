"""Evidence for the defaults: same-template vs template-disjoint test AUC, Brier, and the checks.

    python model/benchmarks/bench_template_split.py --rows 4000 \
        --granularities text,sentence --calibrations none,isotonic,sigmoid
    python model/benchmarks/bench_template_split.py --rows 4000 \
        --text-features intent,axes,embedding --classifiers best,boosting

Generates data with ``--split template``: the training calls and a same-template holdout use one
half of every phrase bank, the template-disjoint test calls the other half. For every (text
granularity, calibration) it trains the best-flags model on the training rows and prints test
ROC AUC on both tests (a large gap means the model memorises phrasing), Brier score on both, and
the model checks (the seed's pair, the free-form pairs). Texts are embedded once into the
embedding cache, so the other variants (calibration, text features, classifier) cost only the
classifier fits.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
from _common import timer

# Classifiers to compare, as overrides of the best flags: ``best`` is the best flags as they are.
CLASSIFIERS: dict[str, dict] = {
    "best": {},
    # The best flags before issue 11's intent features: shallow, slow-learning boosting.
    "boosting": {
        "classifier": "hgb",
        "n_estimators": 300,
        "classifier_params": {"learning_rate": 0.05, "max_depth": 3, "min_samples_leaf": 40},
    },
    "logreg-0.003": {"classifier": "logreg", "classifier_params": {"c": 0.003}},
    "logreg-0.01": {"classifier": "logreg", "classifier_params": {"c": 0.01}},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4000, help="all rows: train + both tests")
    parser.add_argument("--disjoint-fraction", type=float, default=0.25, help="template-disjoint test share")
    parser.add_argument("--same-fraction", type=float, default=0.15, help="same-template holdout share")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=None, help="default artifacts/bench-template-<rows>")
    parser.add_argument("--embedding-cache", type=Path, default=Path("artifacts/embedding-cache"))
    parser.add_argument("--granularities", default="text,sentence")
    parser.add_argument("--calibrations", default="none")
    parser.add_argument("--feature-sets", default="both", help="of profile, text, both")
    parser.add_argument(
        "--text-features", default=None, help="of intent, axes, embedding (default: the CLI's)"
    )
    parser.add_argument("--classifiers", default="best", help=f"of {', '.join(CLASSIFIERS)}")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    from churn_contracts.endpoint import FeatureSpec
    from churn_model import checks, dataio
    from churn_model.data.generate import write_dataset
    from churn_model.evaluate import oracle_auc
    from churn_model.train import best_config, fit_pipeline, score
    from sklearn.metrics import brier_score_loss, roc_auc_score

    data = args.data or Path(f"artifacts/bench-template-{args.rows}")
    marker = data / "oracle.json"
    if not (marker.is_file() and json.loads(marker.read_text()).get("rows") == args.rows):
        write_dataset(
            data, rows=args.rows, test_fraction=args.disjoint_fraction, seed=args.seed, split="template"
        )
    oracle = json.loads(marker.read_text())
    full = FeatureSpec()
    rows, y_rows = dataio.load(data / "train.jsonl", full, label_name="y")
    disjoint, y_disjoint = dataio.load(data / "test.jsonl", full, label_name="y", name="test")
    n_same = round(args.rows * args.same_fraction)
    train, y_train = rows[:-n_same], y_rows[:-n_same]
    same, y_same = rows[-n_same:], y_rows[-n_same:]
    print(
        f"{len(train)} train / {len(same)} same-template test / {len(disjoint)} template-disjoint test; "
        f"churn {y_train.mean():.3f}; machine loaded (shared by several jobs), one run"
    )
    specs = {
        "profile": FeatureSpec(full.numerical, full.categorical, ()),
        "text": FeatureSpec((), (), full.text),
        "both": full,
    }
    base = best_config()
    results = []
    for feature_set in args.feature_sets.split(","):
        spec = specs[feature_set]
        reference = oracle_auc(oracle, feature_set)
        variants = [
            (granularity, calibration, text_features, classifier)
            for granularity in (args.granularities.split(",") if spec.text else ["-"])
            for calibration in args.calibrations.split(",")
            for text_features in (
                (args.text_features or base.text_features).split(",") if spec.text else ["-"]
            )
            for classifier in args.classifiers.split(",")
        ]
        for granularity, calibration, text_features, classifier in variants:
            config = dataclasses.replace(
                base,
                spec=spec,
                text_granularity=granularity if spec.text else base.text_granularity,
                text_features=text_features if spec.text else base.text_features,
                calibration=calibration,
                embedding_cache=str(args.embedding_cache),
                progress=False,
                **CLASSIFIERS[classifier],
            )
            with timer() as took:
                pipeline, _, _ = fit_pipeline(train, y_train, config)
                p_same = score(pipeline, same, spec)
                p_disjoint = score(pipeline, disjoint, spec)
            row = {
                "features": feature_set,
                "granularity": granularity,
                "calibration": calibration,
                "text_features": text_features,
                "classifier": classifier,
                "auc_same": roc_auc_score(y_same, p_same),
                "auc_disjoint": roc_auc_score(y_disjoint, p_disjoint),
                "oracle": reference,
                "brier_same": brier_score_loss(y_same, p_same),
                "brier_disjoint": brier_score_loss(y_disjoint, p_disjoint),
                "seconds": took["s"],
            }
            line = (
                f"{feature_set:7s} {granularity:8s} {calibration:8s} {text_features:9s} {classifier:12s} "
                f"AUC same {row['auc_same']:.4f} "
                f"disjoint {row['auc_disjoint']:.4f} (gap {row['auc_same'] - row['auc_disjoint']:+.4f}; "
                f"oracle {reference:.4f})  Brier same {row['brier_same']:.4f} "
                f"disjoint {row['brier_disjoint']:.4f}  ({took['s']:.0f} s)"
            )
            if spec.text:

                def predict(records, pipeline=pipeline, spec=spec):
                    return score(pipeline, records, spec)

                found = checks.run_checks(predict)
                seed, freeform = found["seed_pair"], found["freeform"]
                row.update(
                    seed_positive=seed.positive,
                    seed_negative=seed.negative,
                    freeform_passed=freeform.passed,
                    freeform_total=freeform.total,
                    freeform_by_style=freeform.by_style,
                    grammar_pairs=found["sentiment_pairs"].passed,
                )
                line += (
                    f"\n        seed pair neg {seed.negative:.3f} / pos {seed.positive:.3f} "
                    f"{'PASS' if seed.ok else 'FAIL'}; free-form {freeform.passed}/{freeform.total} "
                    f"({freeform.share:.1%}); by style "
                    + ", ".join(f"{s} {a}/{b}" for s, (a, b) in freeform.by_style.items())
                )
            results.append(row)
            print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n")
    _ = np


if __name__ == "__main__":
    main()
