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
    widths["intent+shrunk-embedding"] = 385
    for features, width in widths.items():
        pipeline = build_pipeline(spec, classifier="additive", text_features=features, calibration="none")
        assert pipeline.named_steps["classifier"].text_columns == width, features


def test_a_text_weight_below_one_holds_that_column_harder(data):
    X, y = data
    # Two copies of the text column: the one at weight 0.5 (penalty x4) ends with the smaller share.
    doubled = np.column_stack([X, X[:, 2]])
    plain = AdditiveClassifier(text_columns=2, n_estimators=50, c=0.01).fit(doubled, y)
    weighted = AdditiveClassifier(text_columns=2, n_estimators=50, c=0.01, text_weights=(1.0, 0.5)).fit(
        doubled, y
    )
    first, second = plain.linear_.coef_[0, -2:]
    assert first == pytest.approx(second, rel=1e-3)  # the same column, the same penalty
    # Its effect on the score is its coefficient times its weight.
    w_first, w_second = weighted.linear_.coef_[0, -2:] * np.array([1.0, 0.5])
    assert 0 < w_second < 0.5 * w_first
    # All weights 1 is the unweighted model, to the last digit.
    ones = AdditiveClassifier(text_columns=2, n_estimators=50, c=0.01, text_weights=(1.0, 1.0)).fit(
        doubled, y
    )
    np.testing.assert_array_equal(ones.predict_proba(doubled), plain.predict_proba(doubled))


def test_text_weights_must_match_the_text_columns(data):
    X, y = data
    with pytest.raises(ValueError, match="2 text weights for 1 text columns"):
        AdditiveClassifier(text_columns=1, n_estimators=20, text_weights=(1.0, 0.5)).fit(X, y)


def test_the_shrunk_embedding_keeps_the_intent_at_one_and_the_embedding_at_the_shrunk_weight():
    from churn_contracts.endpoint import FeatureSpec
    from churn_model.pipeline import SHRUNK, SHRUNK_WEIGHT, build_pipeline

    spec = FeatureSpec(numerical=("Day Mins",), categorical=(), text=("text",))
    pipeline = build_pipeline(spec, classifier="additive", text_features=SHRUNK, calibration="none")
    classifier = pipeline.named_steps["classifier"]
    assert classifier.text_columns == 385
    assert classifier.text_weights == (1.0, *[SHRUNK_WEIGHT] * 384)
    (encoder,) = [e for name, e, _ in pipeline.named_steps["features"].transformers if name == "text:text"]
    assert encoder.features == "intent+embedding"
    other = build_pipeline(spec, classifier="additive", text_features="intent+embedding", calibration="none")
    assert other.named_steps["classifier"].text_weights is None


def test_a_model_pickled_before_text_weights_still_scores(data):
    import pickle

    X, y = data
    model = AdditiveClassifier(text_columns=1, n_estimators=20).fit(X, y)
    expected = model.predict_proba(X[:5])
    del model.text_weights  # as a model pickled by the code before the parameter
    old = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(old.predict_proba(X[:5]), expected)
