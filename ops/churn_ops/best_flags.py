"""THE default hyperparameters of the SageMaker training job: the README's measured best flags.

One place for the model flags: ``churn_model.best_flags`` (the demo trains with the same). Here
only what differs on a SageMaker GPU instance is added. The launcher (churn_ops.training_job),
its tests and the ops README read them from here.
"""

from __future__ import annotations

from churn_contracts import features
from churn_model.best_flags import BEST_FLAGS

BEST_HYPERPARAMETERS: dict[str, str] = {
    **BEST_FLAGS,
    # The job trains our data: naming its columns keeps the job repeatable, and lets the
    # launcher check the data's columns before anything is uploaded.
    "numerical-feature-names": ",".join(features.NUMERICAL),
    "categorical-feature-names": ",".join(features.CATEGORICAL),
    "textual-feature-names": features.TEXT,
    "label-name": features.LABEL,
    # Encoding: a GPU (ml.g5) takes far larger batches than the CPU default of 64.
    "batch-size": "256",
}
