"""The fitted pipeline's arithmetic for a few records at a time, without scikit-learn's per-call cost.

Serving scores one record per request. Through the scikit-learn pipeline that record pays for
input validation in every step, a ColumnTransformer that slices and re-stacks object columns, and
300 boosting trees each walked in its own OpenMP region: about 8 ms for a record with no text,
where the numbers themselves take microseconds. :func:`compile_scorer` reads the fitted pipeline
once and keeps its numbers as arrays:

- the imputer's statistics and missing-indicator columns, the one-hot encoder's categories as
  a dict per column (unknown -> all zeros, as ``handle_unknown="ignore"``);
- the text encoders as they are (their ``transform``), with a single record's missing or empty
  text's features computed once at compile time by that same encoder;
- the classifier: the additive model's trees as flat node arrays walked for all trees at once,
  its scaler and logistic regression as a dot product; boosting and the logistic-regression
  pipeline alike; the calibrator (sigmoid, isotonic) applied to the same decision values.

Anything it does not recognise (another classifier, an odd transformer, a value type the
one-hot dict cannot look up) is not compiled or falls back, per call, to the pipeline itself,
so the fast path changes speed, never an answer. Tests hold it to the pipeline to 1e-9.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from churn_contracts.endpoint import FeatureSpec
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .additive import AdditiveClassifier
from .encoder import SentenceEncoder, as_texts
from .pipeline import to_matrix

logger = logging.getLogger(__name__)
# Rows walked through the trees at once.
_TREE_CHUNK = 2048


class NotCompiled(Exception):
    """The pipeline holds a step the fast path does not reproduce: score with the pipeline."""


class _Fallback(Exception):
    """This call's input is outside what the fast path reproduces: score it with the pipeline."""


# --- feature blocks ---------------------------------------------------------------------------


class _Numerical:
    def __init__(self, imputer: SimpleImputer, columns: list[int]) -> None:
        if not (isinstance(imputer, SimpleImputer) and _is_nan(imputer.missing_values)):
            raise NotCompiled("numerical block is not a NaN SimpleImputer")
        statistics = np.asarray(imputer.statistics_, dtype=np.float64)
        # Without keep_empty_features, columns never seen with a value are dropped.
        keep = np.ones(len(statistics), bool) if imputer.keep_empty_features else ~np.isnan(statistics)
        self.columns = np.asarray(columns)
        self.keep = np.flatnonzero(keep)
        self.fill = statistics[self.keep]
        indicator = getattr(imputer, "indicator_", None)
        self.indicate = None if indicator is None else np.asarray(indicator.features_, dtype=np.intp)
        self.width = len(self.keep) + (0 if self.indicate is None else len(self.indicate))

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        values = matrix[:, self.columns].astype(np.float64)
        missing = np.isnan(values)
        out = values[:, self.keep]
        out = np.where(missing[:, self.keep], self.fill, out)
        if self.indicate is None:
            return out
        return np.hstack([out, missing[:, self.indicate].astype(np.float64)])


class _Categorical:
    def __init__(self, onehot: OneHotEncoder, columns: list[int]) -> None:
        plain = (
            isinstance(onehot, OneHotEncoder)
            and onehot.handle_unknown in ("ignore", "infrequent_if_exist")
            and onehot.drop_idx_ is None
            and not getattr(onehot, "_infrequent_enabled", False)
        )
        if not plain:
            raise NotCompiled("categorical block is not a plain OneHotEncoder(handle_unknown='ignore')")
        self.columns = list(columns)
        self.lookups: list[dict[Any, int]] = []
        offset = 0
        for categories in onehot.categories_:
            lookup = {}
            for i, category in enumerate(categories):
                if not (category is None or isinstance(category, str)):
                    raise NotCompiled(f"category of type {type(category).__name__}")
                lookup[category] = offset + i
            self.lookups.append(lookup)
            offset += len(categories)
        self.width = offset

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        out = np.zeros((len(matrix), self.width))
        for row, values in enumerate(matrix[:, self.columns]):
            for value, lookup in zip(values, self.lookups, strict=True):
                if not (value is None or isinstance(value, str)):
                    raise _Fallback  # to_matrix gives str or None; anything else, as sklearn reads it
                index = lookup.get(value)
                if index is not None:
                    out[row, index] = 1.0
        return out


class _Text:
    def __init__(self, encoder: SentenceEncoder, column: Any) -> None:
        if not isinstance(encoder, SentenceEncoder) or not isinstance(column, (int, np.integer)):
            raise NotCompiled("text block is not a SentenceEncoder on one column")
        self.encoder = encoder
        self.column = int(column)
        self._empty: np.ndarray | None = None

    def empty(self) -> np.ndarray:
        """A missing or empty text's features, from the encoder itself (it embeds them as "")."""
        if self._empty is None:
            self._empty = np.asarray(self.encoder.transform(np.array([""], dtype=object)))[0]
        return self._empty

    def __call__(self, matrix: np.ndarray) -> np.ndarray:
        texts = as_texts(matrix[:, self.column])
        if len(texts) == 1 and not texts[0]:
            return self.empty()[None, :]
        # The whole column, as the pipeline hands it over: ONNX int8 moves a vector by ~1e-8 with
        # its batch-mates (empty texts too), so the same batch gives the same numbers.
        return np.asarray(self.encoder.transform(matrix[:, self.column]))


def _blocks(features: ColumnTransformer) -> list[Any]:
    if not isinstance(features, ColumnTransformer) or features.sparse_threshold != 0:
        raise NotCompiled("features step is not a dense ColumnTransformer")
    blocks: list[Any] = []
    for _, transformer, columns in features.transformers_:
        if isinstance(transformer, str) and transformer == "drop":
            continue
        if isinstance(columns, (list, np.ndarray)) and len(columns) == 0:
            continue
        if isinstance(transformer, SimpleImputer):
            blocks.append(_Numerical(transformer, list(columns)))
        elif isinstance(transformer, OneHotEncoder):
            blocks.append(_Categorical(transformer, list(columns)))
        elif isinstance(transformer, SentenceEncoder):
            blocks.append(_Text(transformer, columns))
        else:
            raise NotCompiled(f"unknown feature block {type(transformer).__name__}")
    return blocks


# --- classifiers --------------------------------------------------------------------------------


class _Trees:
    """A fitted boosting model's trees as flat arrays: every tree walked at once, per level."""

    def __init__(self, model: HistGradientBoostingClassifier) -> None:
        if model.n_trees_per_iteration_ != 1:
            raise NotCompiled("multi-class boosting")
        features, thresholds, missing_left, left, right, values, roots = [], [], [], [], [], [], []
        offset, depth = 0, 0
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            if np.any(nodes["is_categorical"]):
                raise NotCompiled("boosting with categorical splits")
            leaf = nodes["is_leaf"].astype(bool)
            index = np.arange(len(nodes))
            roots.append(offset)
            features.append(np.where(leaf, 0, nodes["feature_idx"]))
            thresholds.append(nodes["num_threshold"])
            missing_left.append(nodes["missing_go_to_left"].astype(bool))
            # A leaf points at itself, so extra levels leave a finished walk where it is.
            left.append(offset + np.where(leaf, index, nodes["left"]))
            right.append(offset + np.where(leaf, index, nodes["right"]))
            values.append(np.where(leaf, nodes["value"], 0.0))
            depth = max(depth, int(nodes["depth"].max()))
            offset += len(nodes)
        self.feature = np.concatenate(features).astype(np.intp)
        self.threshold = np.concatenate(thresholds).astype(np.float64)
        self.missing_left = np.concatenate(missing_left)
        self.left = np.concatenate(left).astype(np.intp)
        self.right = np.concatenate(right).astype(np.intp)
        self.value = np.concatenate(values).astype(np.float64)
        self.roots = np.asarray(roots, dtype=np.intp)
        self.depth = depth
        self.baseline = float(np.asarray(model._baseline_prediction).ravel()[0])
        self.n_features = int(model.n_features_in_)

    def decision(self, X: np.ndarray) -> np.ndarray:
        if X.shape[1] != self.n_features:
            raise _Fallback
        if len(X) > _TREE_CHUNK:  # the walk holds (rows, trees) arrays: bounded memory for batches
            return np.concatenate(
                [self.decision(X[i : i + _TREE_CHUNK]) for i in range(0, len(X), _TREE_CHUNK)]
            )
        rows = np.arange(len(X))[:, None]
        node = np.broadcast_to(self.roots, (len(X), len(self.roots)))
        for _ in range(self.depth):
            x = X[rows, self.feature[node]]
            # As scikit-learn's predictor: NaN follows the node's missing side, else x <= threshold.
            go_left = np.where(np.isnan(x), self.missing_left[node], x <= self.threshold[node])
            node = np.where(go_left, self.left[node], self.right[node])
        # scikit-learn adds the trees one by one onto the baseline; cumsum adds in that order.
        terms = np.column_stack([np.full(len(X), self.baseline), self.value[node]])
        return np.cumsum(terms, axis=1)[:, -1]


class _Linear:
    """StandardScaler then a binary LogisticRegression's decision values."""

    def __init__(
        self, scaler: StandardScaler | None, linear: LogisticRegression, weights: np.ndarray | None = None
    ) -> None:
        if not isinstance(linear, LogisticRegression) or len(linear.classes_) != 2:
            raise NotCompiled("not a binary logistic regression")
        if scaler is not None and not isinstance(scaler, StandardScaler):
            raise NotCompiled("not a StandardScaler")
        self.mean = None if scaler is None or scaler.mean_ is None else scaler.mean_
        self.scale = None if scaler is None or scaler.scale_ is None else scaler.scale_
        self.coef = linear.coef_.T
        self.intercept = linear.intercept_
        self.weights = weights  # the additive's text weights, on the last columns after scaling

    def decision(self, X: np.ndarray) -> np.ndarray:
        if X.shape[0] and X.shape[1] != self.coef.shape[0]:
            raise _Fallback
        X = np.array(X, dtype=np.float64)  # a copy: the weights below scale it in place
        if self.mean is not None:
            X = X - self.mean
        if self.scale is not None:
            X = X / self.scale
        if self.weights is not None:
            X[:, X.shape[1] - len(self.weights) :] *= self.weights
        return (X @ self.coef + self.intercept).reshape(-1)


class _Additive:
    def __init__(self, model: AdditiveClassifier) -> None:
        self.cut = int(model.n_features_in_) - int(model.text_columns)
        self.trees = None if model.trees_ is None else _Trees(model.trees_)
        self.linear = _Linear(model.scale_, model.linear_, model.weights())

    def decision(self, X: np.ndarray) -> np.ndarray:
        if self.trees is None:
            return self.linear.decision(X[:, self.cut :])
        profile = self.trees.decision(X[:, : self.cut])
        return self.linear.decision(np.column_stack([profile, X[:, self.cut :]]))


def _decision(model: Any) -> Any:
    """The compiled decision function of ``model``, whose ``expit`` is its P(class 1)."""
    if list(getattr(model, "classes_", [])) != [0, 1]:
        raise NotCompiled("classes are not [0, 1]")
    if isinstance(model, AdditiveClassifier):
        return _Additive(model)
    if isinstance(model, HistGradientBoostingClassifier):
        return _Trees(model)
    if isinstance(model, Pipeline) and [type(step) for _, step in model.steps] == [
        StandardScaler,
        LogisticRegression,
    ]:
        return _Linear(model.steps[0][1], model.steps[1][1])
    if isinstance(model, LogisticRegression):
        return _Linear(None, model)
    raise NotCompiled(f"classifier {type(model).__name__}")


class _Calibrated:
    def __init__(self, model: CalibratedClassifierCV) -> None:
        if len(model.calibrated_classifiers_) != 1:
            raise NotCompiled("an ensemble of calibrated copies")
        (fitted,) = model.calibrated_classifiers_
        if fitted.method not in ("sigmoid", "isotonic") or len(fitted.calibrators) != 1:
            raise NotCompiled(f"calibration {fitted.method}")
        self.base = _decision(fitted.estimator)
        (self.calibrator,) = fitted.calibrators

    def probability(self, X: np.ndarray) -> np.ndarray:
        response = self.base.decision(X)
        if isinstance(self.calibrator, _SigmoidCalibration):
            p = expit(-(self.calibrator.a_ * response + self.calibrator.b_))
        else:
            p = np.asarray(self.calibrator.predict(response), dtype=np.float64)
        p = np.array(p, dtype=np.float64)
        p[(p > 1.0) & (p <= 1.0 + 1e-5)] = 1.0  # as CalibratedClassifierCV.predict_proba
        return p


class _Uncalibrated:
    def __init__(self, model: Any) -> None:
        self.base = _decision(model)

    def probability(self, X: np.ndarray) -> np.ndarray:
        return expit(self.base.decision(X))


class _Estimator:
    """A classifier not compiled (the forest): its own predict_proba on the fast features."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.positive = list(model.classes_).index(1)

    def probability(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)[:, self.positive]


# --- the scorer -----------------------------------------------------------------------------------


class FastScorer:
    """P(class 1) per record, the same numbers as ``pipeline.predict_proba(to_matrix(records))[:, 1]``."""

    def __init__(self, pipeline: Pipeline, spec: FeatureSpec) -> None:
        steps = dict(pipeline.steps)
        if list(steps) != ["features", "classifier"]:
            raise NotCompiled("pipeline is not features -> classifier")
        self.pipeline = pipeline
        self.spec = spec
        self.blocks = _blocks(steps["features"])
        classifier = steps["classifier"]
        try:
            if isinstance(classifier, CalibratedClassifierCV):
                self.model: Any = _Calibrated(classifier)
            else:
                self.model = _Uncalibrated(classifier)
        except NotCompiled:
            self.model = _Estimator(classifier)
        for block in self.blocks:  # embed the empty text now, not on the first request
            if isinstance(block, _Text):
                block.empty()

    def features(self, matrix: np.ndarray) -> np.ndarray:
        """What the pipeline's ColumnTransformer gives its classifier for ``matrix``."""
        out = np.hstack([block(matrix) for block in self.blocks]).astype(np.float64, copy=False)
        if not np.isfinite(out).all():
            raise _Fallback  # the pipeline's own validation says what is wrong
        return out

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return self.score_matrix(to_matrix(records, self.spec))

    def score_matrix(self, matrix: np.ndarray) -> np.ndarray:
        try:
            return self.model.probability(self.features(matrix))
        except _Fallback:
            proba = self.pipeline.predict_proba(matrix)
            return proba[:, list(self.pipeline.classes_).index(1)]


def compile_scorer(pipeline: Pipeline, spec: FeatureSpec) -> FastScorer | None:
    """The pipeline's fast path, or None when it holds a step the fast path does not reproduce."""
    try:
        return FastScorer(pipeline, spec)
    except NotCompiled as reason:
        logger.info("scoring through the pipeline: %s", reason)
    except Exception as error:  # an artifact of another shape: the pipeline still scores it
        logger.warning(
            "the fast path could not read the pipeline (%s): scoring through it", type(error).__name__
        )
    return None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
