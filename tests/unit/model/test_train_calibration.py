"""--calibration isotonic|sigmoid|none: fitted on held-out folds, recorded, and it does calibrate."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from churn_contracts.endpoint import FeatureSpec
from churn_model.pipeline import CalibratedClassifierCV, build_pipeline
from churn_model.train import TrainConfig, fit_pipeline, parse_args, score
from sklearn.metrics import brier_score_loss

SPEC = FeatureSpec(("a", "b"), ("c",), ())


def data(n: int, seed: int) -> tuple[list[dict], np.ndarray]:
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    c = rng.choice(["x", "y"], size=n)
    p = 1 / (1 + np.exp(-(1.5 * a - b + (c == "x") - 1.5)))
    y = (rng.random(n) < p).astype(int)
    return [{"a": float(a[i]), "b": float(b[i]), "c": str(c[i])} for i in range(n)], y


def test_calibration_wraps_the_classifier_in_held_out_folds():
    plain = build_pipeline(SPEC, classifier="hgb", calibration="none")
    assert not isinstance(plain.named_steps["classifier"], CalibratedClassifierCV)
    wrapped = build_pipeline(SPEC, classifier="hgb", calibration="isotonic")
    classifier = wrapped.named_steps["classifier"]
    assert isinstance(classifier, CalibratedClassifierCV)
    assert classifier.method == "isotonic" and classifier.ensemble is False  # out-of-fold, one refit
    with pytest.raises(ValueError, match="unknown calibration"):
        build_pipeline(SPEC, calibration="platt")
    with pytest.raises(SystemExit):
        parse_args(["--train", "t", "--model-dir", "m", "--calibration", "platt"])


def test_calibrated_probabilities_beat_an_overconfident_model_on_brier():
    records, y = data(3000, seed=1)
    test, y_test = data(2000, seed=2)
    # Deep, unregularised boosting on few rows: overconfident scores.
    base = TrainConfig(spec=SPEC, classifier="hgb", n_estimators=300, progress=False)
    base.classifier_params = {"learning_rate": 0.3, "min_samples_leaf": 1, "max_depth": None}
    briers = {}
    for method in ("none", "sigmoid", "isotonic"):
        config = TrainConfig(**{**base.__dict__, "calibration": method})
        pipeline, _, _ = fit_pipeline(records, y, config)
        p = score(pipeline, test, SPEC)
        assert np.all((p >= 0) & (p <= 1))
        briers[method] = brier_score_loss(y_test, p)
    assert briers["sigmoid"] < briers["none"] and briers["isotonic"] < briers["none"], briers
