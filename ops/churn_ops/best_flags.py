"""THE default hyperparameters of the SageMaker training job: the README's measured best flags.

One place: the launcher (churn_ops.training_job), its tests and the ops README read them from
here. Keys are churn_model.train's flags without the leading ``--``; values are strings, as
SageMaker passes them (the SDK's driver turns each into ``--name value``).

PENDING: the lead replaces the model flags below with the measured best from the model README.
"""

from __future__ import annotations

from churn_contracts import features

BEST_HYPERPARAMETERS: dict[str, str] = {
    # Every feature of the names table: the full profile and the call's customer text.
    "numerical-feature-names": ",".join(features.NUMERICAL),
    "categorical-feature-names": ",".join(features.CATEGORICAL),
    "textual-feature-names": features.TEXT,
    "label-name": features.LABEL,
    # The model: train.py's own defaults until the lead fills in the measured best (PENDING).
    "classifier": "rf",
    "n-estimators": "100",
    "class-weight": "none",
    "seed": "0",
    # Encoding: a GPU (ml.g5) takes far larger batches than the CPU default of 64.
    "batch-size": "256",
}
