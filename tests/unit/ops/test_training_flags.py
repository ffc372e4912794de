"""The ops checks' stdlib copies of train.py's flags and classifiers match train.py's own."""

from __future__ import annotations

from churn_model.pipeline import CLASSIFIERS
from churn_model.train import parser
from churn_ops import training_data

# train.py flags a SageMaker job never sets: the toolkit passes the paths, and these are local only.
LOCAL_ONLY = {
    "help",
    "train",
    "test",
    "model-dir",
    "output-data-dir",
    "best-flags",
    "embedding-cache",
    "no-progress",
    "no-plots",
    "no-checks",
}


def test_the_known_flags_are_train_flags_and_every_train_flag_is_known_or_local():
    flags = {
        option[2:]
        for action in parser()._actions
        for option in action.option_strings
        if option.startswith("--")
    }
    assert flags >= training_data.KNOWN_FLAGS
    assert flags - training_data.KNOWN_FLAGS == LOCAL_ONLY


def test_the_classifiers_are_the_pipelines():
    assert set(CLASSIFIERS) == training_data.CLASSIFIERS


def test_the_best_flags_pass_the_checks():
    from churn_ops.best_flags import BEST_HYPERPARAMETERS

    training_data.check_hyperparameters(BEST_HYPERPARAMETERS)
