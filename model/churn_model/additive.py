"""Trees for the profile, a straight line for the text: log-odds = f(profile) + w . text.

Boosted trees learn the profile's thresholds (the jump at the fourth service call, steep day
minutes) that a linear model misses, but on the text they are flat outside the range they were
trained on, so two calls that differ only in wording can tie. Here the trees see the profile
columns only; a logistic regression then combines their log-odds, computed out of fold so it
learns how far to trust them, with the text columns. The text's effect is linear, so a call that
reads more like leaving always scores higher for the same customer.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.preprocessing import StandardScaler

# The tree part depends on the profile columns, the labels and the tree parameters only. Choosing
# the text features cross-validates several candidates on the same folds, so without this the
# same trees were fitted once per candidate (4 boosting fits each: 3 folds + the whole).
_TREE_CACHE: OrderedDict[str, tuple[np.ndarray, HistGradientBoostingClassifier]] = OrderedDict()
_TREE_CACHE_SIZE = 16


def _tree_key(profile: np.ndarray, y: np.ndarray, params: tuple[Any, ...]) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((profile.shape, y.shape, params)).encode())
    digest.update(np.ascontiguousarray(profile).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()


class AdditiveClassifier(ClassifierMixin, BaseEstimator):
    """Boosting on the first columns, logistic regression on its log-odds and the last ``text_columns``.

    The tree parameters are :class:`~sklearn.ensemble.HistGradientBoostingClassifier`'s; ``c`` and
    ``class_weight`` are the logistic regression's. ``folds`` out-of-fold log-odds train the
    linear part, so it is not fitted to trees that have seen its rows.

    ``text_weights`` (one per text column, None: all 1) multiply the standardised text columns
    before the logistic regression: a column at weight w is held by an L2 penalty 1/w**2 times
    the others'. ``intent+shrunk-embedding`` keeps the intent score at 1 and the embedding at
    :data:`churn_model.pipeline.SHRUNK_WEIGHT`, so the words a training set happens to share with
    leaving move the score less than the intent does.
    """

    def __init__(
        self,
        text_columns: int = 1,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int | None = 3,
        min_samples_leaf: int = 40,
        c: float = 0.01,
        class_weight: str | None = None,
        folds: int = 3,
        seed: int = 0,
        text_weights: tuple[float, ...] | None = None,
    ) -> None:
        self.text_columns = text_columns
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.c = c
        self.class_weight = class_weight
        self.folds = folds
        self.seed = seed
        self.text_weights = text_weights

    def _split(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        cut = X.shape[1] - self.text_columns
        if self.text_columns < 0 or cut < 0:
            raise ValueError(f"{X.shape[1]} feature columns cannot hold {self.text_columns} text columns")
        return X[:, :cut], X[:, cut:]

    def fit(self, X: Any, y: Any) -> AdditiveClassifier:
        profile, text = self._split(X)
        y = np.asarray(y)
        trees = HistGradientBoostingClassifier(
            max_iter=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            random_state=self.seed,
        )
        if profile.shape[1]:
            held_out, self.trees_ = self._fit_trees(trees, profile, y)
            combined = np.column_stack([held_out, text])
        else:  # text only: the linear part alone
            self.trees_ = None
            combined = text
        self.scale_ = StandardScaler().fit(combined)
        self.linear_ = LogisticRegression(C=self.c, class_weight=self.class_weight, max_iter=2000)
        self.linear_.fit(self._weighted(self.scale_.transform(combined)), y)
        self.classes_ = self.linear_.classes_
        self.n_features_in_ = profile.shape[1] + text.shape[1]
        return self

    def _fit_trees(
        self, trees: HistGradientBoostingClassifier, profile: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, HistGradientBoostingClassifier]:
        """Out-of-fold log-odds and the trees fitted on every row, remembered for identical inputs.

        Boosting with a fixed ``random_state`` is deterministic, so a remembered fit is the fit;
        the fitted trees are only read afterwards, so models may share them.
        """
        key = _tree_key(profile, y, (*sorted(trees.get_params().items()), self.folds))
        if key in _TREE_CACHE:
            _TREE_CACHE.move_to_end(key)
            return _TREE_CACHE[key]
        folds = StratifiedKFold(self.folds, shuffle=True, random_state=self.seed)
        held_out = cross_val_predict(clone(trees), profile, y, cv=folds, method="decision_function")
        fitted = (held_out, trees.fit(profile, y))
        _TREE_CACHE[key] = fitted
        while len(_TREE_CACHE) > _TREE_CACHE_SIZE:
            _TREE_CACHE.popitem(last=False)
        return fitted

    def weights(self) -> np.ndarray | None:
        """The text columns' weights after standardisation (None: all 1)."""
        # Models pickled before text weights existed have no such attribute: all 1.
        text_weights = getattr(self, "text_weights", None)
        if text_weights is None:
            return None
        weights = np.asarray(text_weights, dtype=np.float64)
        if weights.shape != (self.text_columns,):
            raise ValueError(f"{len(weights)} text weights for {self.text_columns} text columns")
        return weights

    def _weighted(self, scaled: np.ndarray) -> np.ndarray:
        weights = self.weights()
        if weights is not None:
            scaled[:, scaled.shape[1] - len(weights) :] *= weights
        return scaled

    def _combined(self, X: Any) -> np.ndarray:
        profile, text = self._split(X)
        if self.trees_ is None:
            return self._weighted(self.scale_.transform(text))
        combined = np.column_stack([self.trees_.decision_function(profile), text])
        return self._weighted(self.scale_.transform(combined))

    def decision_function(self, X: Any) -> np.ndarray:
        return self.linear_.decision_function(self._combined(X))

    def predict_proba(self, X: Any) -> np.ndarray:
        return self.linear_.predict_proba(self._combined(X))

    def predict(self, X: Any) -> np.ndarray:
        return self.linear_.predict(self._combined(X))
