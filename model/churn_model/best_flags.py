"""The measured best training flags: what ops launch on SageMaker and the demo trains with.

Model hyperparameters only: no column names, so ``--best-flags`` works on any data (the columns
come from the names table on our data, from the name flags, or are inferred; train prints the
resolved flags). Chosen with ``model/benchmarks/bench_quality.py`` and, for the text granularity
and calibration, ``bench_template_split.py`` (figures in ``model/README.md``). Keys are
``churn_model.train``'s flags without the leading ``--``; values are strings, as SageMaker passes
hyperparameters. The CLI's own classifier defaults stay the seed's (a 100-tree forest);
``--best-flags`` starts from these instead.
"""

from __future__ import annotations

BEST_FLAGS: dict[str, str] = {
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

# Small training sets (the demo's few thousand rows): strongly regularised logistic regression
# generalises better to phrasing the grammar never wrote. On 2,400 template-split training rows (whole text)
# it beat the boosting above on the template-disjoint test (ROC AUC 0.744 vs 0.724) and on the
# free-form pairs (104 vs 86 of 122); see model/README.md. The demo trains with BEST_FLAGS
# updated with these.
SMALL_DATA_FLAGS: dict[str, str] = {
    "classifier": "logreg",
    "c": "0.003",
}
