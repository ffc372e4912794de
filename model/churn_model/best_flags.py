"""The measured best training flags: what ops launch on SageMaker and the demo trains with.

Chosen with ``model/benchmarks/bench_quality.py`` on the full generated data (45,000 train /
5,000 test rows); the figures are in the top-level README. Keys are ``churn_model.train``'s
flags without the leading ``--``; values are strings, as SageMaker passes hyperparameters.
The CLI's own defaults stay the seed's, so a bare ``python -m churn_model.train`` trains what
the seed trained; ``--best-flags`` starts from these instead.
"""

from __future__ import annotations

from churn_contracts import features

BEST_FLAGS: dict[str, str] = {
    # Every feature of the names table: the full profile and the customer's side of the call.
    "numerical-feature-names": ",".join(features.NUMERICAL),
    "categorical-feature-names": ",".join(features.CATEGORICAL),
    "textual-feature-names": features.TEXT,
    "label-name": features.LABEL,
    # Shallow, slow-learning boosting: the best test AUC and sentiment-pair share measured,
    # and it does not overfit the 384 embedding dimensions the way a deep forest does.
    "classifier": "hgb",
    "n-estimators": "300",
    "learning-rate": "0.05",
    "max-depth": "3",
    "min-samples-leaf": "40",
    "class-weight": "none",
    "seed": "0",
}
