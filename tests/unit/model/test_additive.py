"""The additive classifier: trees on the profile columns, a linear term on the text columns."""

from __future__ import annotations

import numpy as np
import pytest
from churn_model.additive import AdditiveClassifier
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV


@pytest.fixture(scope="module")
def data():
    # A threshold in the profile (service calls >= 4) and a straight line in the text column.
    rng = np.random.default_rng(7)
    n = 3000
    calls = rng.integers(0, 9, n).astype(float)
    minutes = rng.normal(180, 50, n)
    intent = rng.normal(0, 1, n)
    logit = -2.5 + 2.0 * (calls >= 4) + 0.8 * intent
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return np.column_stack([calls, minutes, intent]), y


def test_learns_the_profile_threshold_and_the_text_slope(data):
    X, y = data
    model = AdditiveClassifier(text_columns=1, n_estimators=100).fit(X, y)
    assert list(model.classes_) == [0, 1] and model.predict_proba(X).shape == (len(X), 2)
    quiet = model.predict_proba([[1, 180, 0.0]])[0, 1]
    frequent = model.predict_proba([[6, 180, 0.0]])[0, 1]
    assert frequent > quiet + 0.15  # the jump at the fourth call
    assert model.linear_.coef_[0, -1] > 0  # the text's weight has the generator's sign


def test_for_one_profile_the_score_rises_strictly_with_the_text(data):
    X, y = data
    model = AdditiveClassifier(text_columns=1, n_estimators=100).fit(X, y)
    # Far outside the training range too, where trees would be flat.
    intents = np.linspace(-8, 8, 33)
    for calls in (0, 5):
        rows = np.column_stack([np.full_like(intents, calls), np.full_like(intents, 200), intents])
        assert np.all(np.diff(model.predict_proba(rows)[:, 1]) > 0)


def test_is_a_scikit_learn_estimator_that_calibration_can_wrap(data):
    X, y = data
    model = AdditiveClassifier(text_columns=1, n_estimators=50, c=0.5)
    assert clone(model).get_params() == model.get_params()
    calibrated = CalibratedClassifierCV(model, method="sigmoid", cv=3).fit(X, y)
    p = calibrated.predict_proba(X)[:, 1]
    assert np.all((p > 0) & (p < 1))


def test_without_text_columns_it_is_the_trees_alone(data):
    X, y = data
    model = AdditiveClassifier(text_columns=0, n_estimators=50).fit(X[:, :2], y)
    assert model.predict_proba(X[:5, :2]).shape == (5, 2)


def test_text_alone_is_the_linear_part_alone(data):
    X, y = data
    model = AdditiveClassifier(text_columns=1).fit(X[:, 2:], y)
    assert model.trees_ is None
    p = model.predict_proba(np.array([[-1.0], [0.0], [1.0]]))[:, 1]
    assert np.all(np.diff(p) > 0)


def test_more_text_columns_than_features_is_refused(data):
    X, y = data
    with pytest.raises(ValueError, match="3 feature columns cannot hold 4 text columns"):
        AdditiveClassifier(text_columns=4).fit(X, y)


def test_the_pipeline_gives_the_additive_classifier_the_text_blocks_width():
    # Since issue 20 the linear term takes embedding-width blocks too (auto's candidates).
    from churn_contracts.endpoint import FeatureSpec
    from churn_model.pipeline import build_pipeline

    spec = FeatureSpec(numerical=("Day Mins",), categorical=(), text=("text",))
    widths = {"axes": 16, "intent": 1, "intent+pca64": 65, "embedding": 384, "intent+embedding": 385}
    for features, width in widths.items():
        pipeline = build_pipeline(spec, classifier="additive", text_features=features, calibration="none")
        assert pipeline.named_steps["classifier"].text_columns == width, features
