"""Cross-validate every text-feature and classifier choice on the outside dev set.

The dev set (``model/evaluation/realtext/``, 2,233 telecom profiles paired with chat logs nobody
here wrote; see its README) is cut into the same stratified folds for every choice, exactly as
``--text-features auto`` cuts the training rows (churn_model.select), and the table prints the
out-of-fold ROC AUC, PR AUC, Brier (a sigmoid fitted on other rows' held-out scores) and the mean
seconds per fold fit, with each candidate's model check (seed's pair, free-form pairs on the
typical customer)::

    python model/benchmarks/bench_realtext_cv.py --embedding-cache artifacts/embedding-cache \\
        [--classifiers additive,hgb,logreg,rf] [--folds 5] [--seed 0]

The texts are encoded once (cached); the classifier fits run on one OpenMP thread.

``--shrunk-weights 0.3,0.5,0.7`` instead cross-validates ``intent+shrunk-embedding`` (additive)
at each weight of the embedding (``churn_model.pipeline.SHRUNK_WEIGHT``), with its check: the
search behind the weight in the code.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

DEV_SET = Path(__file__).resolve().parents[1] / "evaluation" / "realtext" / "telecom-chat-train.jsonl"
NUMERICAL = (
    "Account Length,VMail Message,Day Mins,Day Calls,Eve Mins,Eve Calls,Night Mins,Night Calls,"
    "Intl Mins,Intl Calls,CustServ Calls"
)
CATEGORICAL = "Int'l Plan,VMail Plan,State"
COLUMN_FLAGS = [
    "--numerical-feature-names",
    NUMERICAL,
    "--categorical-feature-names",
    CATEGORICAL,
    "--textual-feature-names",
    "text",
    "--label-name",
    "Churn?",
    "--positive-label",
    "True.",
]
# The other classifiers at their library settings; additive is the best flags as they are.
CLASSIFIER_FLAGS = {
    "additive": [],
    "hgb": ["--classifier", "hgb", "--learning-rate", "0.1", "--n-estimators", "100"],
    "logreg": ["--classifier", "logreg", "--c", "0.1"],
    "rf": ["--classifier", "rf", "--n-estimators", "100"],
}
# The best flags' depth and leaf size are the additive's; the trees here grow as the library's do.
TREE_DEFAULTS = {
    "hgb": {"max_depth": None, "min_samples_leaf": 20},
    "rf": {"max_depth": None, "min_samples_leaf": 1},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(DEV_SET))
    parser.add_argument("--classifiers", default="additive,hgb,logreg,rf")
    parser.add_argument("--candidates", default=None, help="comma-separated (default: auto's candidates)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--embedding-cache", default=None)
    parser.add_argument(
        "--shrunk-weights", default=None, help="comma-separated weights of the shrunk embedding"
    )
    args = parser.parse_args()

    import numpy as np
    from churn_model import dataio, pipeline, select
    from churn_model.encoder import remembered_embeddings
    from churn_model.explain import typical_customer
    from churn_model.train import config_from_args, parse_args, run_selection

    select.CANDIDATES = tuple(args.candidates.split(",")) if args.candidates else select.CANDIDATES
    base = [*COLUMN_FLAGS, "--train", args.data, "--model-dir", "-", "--no-progress"]
    base += ["--cv-folds", str(args.folds), "--seed", str(args.seed)]
    if args.embedding_cache:
        base += ["--embedding-cache", args.embedding_cache]
    rows = []
    if args.shrunk_weights:
        select.CANDIDATES = (pipeline.SHRUNK,)
        runs = [("additive", float(w)) for w in args.shrunk_weights.split(",")]
    else:
        runs = [(name, None) for name in args.classifiers.split(",")]
    with remembered_embeddings():
        for name, weight in runs:
            if weight is not None:
                pipeline.SHRUNK_WEIGHT = weight  # read when each classifier is built
                name = f"additive, embedding at {weight:g}"
            flags = CLASSIFIER_FLAGS["additive" if weight is not None else name]
            config = config_from_args(parse_args(base + flags))
            config.classifier_params.update(TREE_DEFAULTS.get(name, {}))
            records, labels = dataio.load(
                args.data, config.spec, label_name=config.label_name, positive_label=config.positive_label
            )
            reference = typical_customer(records, config.spec.numerical, config.spec.categorical)
            started = time.perf_counter()
            selection = run_selection(records, labels, config, reference=reference)
            print(f"\n{name}: {time.perf_counter() - started:.0f} s", flush=True)
            print(selection.table(), flush=True)
            rows += [(name, r) for r in selection.results]
    print(f"\n{len(labels)} customers, {int(np.sum(labels))} churners, {args.folds} folds, seed {args.seed}")
    print(
        "| classifier | text features | ROC AUC | PR AUC | Brier | fit s / fold | seed's pair | free-form |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        seed_ok = "-" if r.seed_pair_ok is None else ("pass" if r.seed_pair_ok else "FAIL")
        share = "-" if r.freeform_share is None else f"{r.freeform_share:.0%}"
        print(
            f"| {name} | {r.text_features} | {r.roc_auc:.4f} | {r.pr_auc:.4f} | {r.brier:.4f} | "
            f"{r.fit_seconds:.1f} | {seed_ok} | {share} |"
        )


if __name__ == "__main__":
    main()
