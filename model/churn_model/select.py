"""Choose the text features on the user's own rows: cross-validation decides, the model check guards.

``--text-features auto`` (the default) encodes the training texts once, then for each candidate
(:data:`CANDIDATES`, simplest first) fits the configured classifier on the same stratified folds
and scores the held-out rows. The candidate with the best out-of-fold ROC AUC wins; a candidate
within :data:`TIE` of the best counts as a tie and the simpler one wins.

The guard: every candidate is also fitted on all rows and the model check is run on it (the
seed's pair and the free-form pairs, written into the data's own text column on the training
data's typical customer). A candidate that fails the seed's pair or orders fewer than
:data:`GUARD_SHARE` of the free-form pairs is never chosen while another passes.

The same out-of-fold scores give the risk thresholds (churn_model.evaluate): the chosen model's
held-out decision values mapped through the final model's own calibrator, so the precision an
alert quotes is measured on rows the model being served did not fit, never on the test file.

Label-free steps (the imputer's means, the one-hot categories, the encoder itself) are fitted
once on all rows; only the classifier is refitted per fold. Classifiers are fitted without their
calibration wrapper inside the folds: calibration is monotonic, so it cannot change a ranking.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from churn_contracts.endpoint import FeatureSpec
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from . import checks
from .encoder import SentenceEncoder
from .pipeline import SHRUNK, build_classifier, build_pipeline, encoder_features, text_weights, to_matrix

AUTO = "auto"
# Simplest first: a tie goes to the earlier one. The shrunk embedding is the additive's only
# (elsewhere it is intent+embedding, so it is not cross-validated twice).
CANDIDATES: tuple[str, ...] = (
    "intent",
    "axes",
    "intent+pca64",
    SHRUNK,
    "intent+embedding",
    "embedding",
)
# Out-of-fold ROC AUC this close to the best is a tie (the simpler candidate wins).
TIE = 0.002
GUARD_SHARE = 0.90
DEFAULT_FOLDS = 5
# Above this many rows the folds run on a stratified sample of them (the choice, and the
# thresholds, rest on that many customers; metrics.json says how many).
MAX_CV_ROWS = 10_000


@dataclass
class CandidateResult:
    """One candidate's out-of-fold figures and its model check."""

    text_features: str
    roc_auc: float
    pr_auc: float
    brier: float
    fit_seconds: float
    seed_pair_ok: bool | None = None
    freeform_share: float | None = None
    response: np.ndarray | None = field(default=None, repr=False)
    proba: np.ndarray | None = field(default=None, repr=False)

    @property
    def guard_ok(self) -> bool | None:
        if self.seed_pair_ok is None or self.freeform_share is None:
            return None
        return self.seed_pair_ok and self.freeform_share >= GUARD_SHARE

    def to_json(self) -> dict[str, Any]:
        return {
            "text_features": self.text_features,
            "roc_auc": round(self.roc_auc, 4),
            "pr_auc": round(self.pr_auc, 4),
            "brier": round(self.brier, 4),
            "fit_seconds": round(self.fit_seconds, 2),
            "seed_pair_ok": self.seed_pair_ok,
            "freeform_share": None if self.freeform_share is None else round(self.freeform_share, 4),
            "guard_ok": self.guard_ok,
        }


@dataclass
class Selection:
    """The cross-validation: every candidate's figures, the rows and folds behind them, the choice."""

    results: list[CandidateResult]
    chosen: str
    reason: str
    rows: np.ndarray  # indices of the training rows the folds ran on
    labels: np.ndarray
    folds: int
    grouped_by: str | None
    auto: bool

    @property
    def winner(self) -> CandidateResult:
        return next(r for r in self.results if r.text_features == self.chosen)

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": AUTO if self.auto else "given",
            "chosen": self.chosen,
            "reason": self.reason,
            "metric": "out-of-fold ROC AUC",
            "tie": TIE,
            "guard": {"seed_pair": True, "freeform_share_at_least": GUARD_SHARE},
            "folds": self.folds,
            "grouped_by": self.grouped_by,
            "customers": len(self.rows),
            "churners": int(self.labels.sum()),
            "candidates": [r.to_json() for r in self.results],
        }

    def table(self) -> str:
        lines = [
            f"text features by {self.folds}-fold cross-validation on {len(self.rows)} customers"
            + (f" (folds grouped by {self.grouped_by})" if self.grouped_by else ""),
            f"  {'candidate':24s} {'ROC AUC':>8s} {'PR AUC':>7s} {'Brier':>7s} {'fit s':>6s}  check",
        ]
        for r in self.results:
            if r.guard_ok is None:
                check = "-"
            else:
                check = (
                    f"seed {'ok' if r.seed_pair_ok else 'FAIL'}, "
                    f"free-form {r.freeform_share:.0%}: {'ok' if r.guard_ok else 'FAIL'}"
                )
            mark = " <- chosen" if r.text_features == self.chosen else ""
            lines.append(
                f"  {r.text_features:24s} {r.roc_auc:8.4f} {r.pr_auc:7.4f} {r.brier:7.4f} "
                f"{r.fit_seconds:6.1f}  {check}{mark}"
            )
        lines.append(f"  choice: {self.chosen} ({self.reason})")
        return "\n".join(lines)


def choose(results: Sequence[CandidateResult]) -> tuple[str, str]:
    """The winner and why: best out-of-fold ROC AUC among those passing the guard, ties to the simpler.

    ``results`` are in order of simplicity. Candidates without a check (``guard_ok`` None) count
    as passing.
    """
    if not results:
        raise ValueError("no candidates to choose from")
    passing = [r for r in results if r.guard_ok is not False]
    pool, note = (passing, "") if passing else (list(results), "; no candidate passes the model check")
    best = max(r.roc_auc for r in pool)
    winner = next(r for r in pool if r.roc_auc >= best - TIE)
    failed = [r.text_features for r in results if r.guard_ok is False]
    why = f"best out-of-fold ROC AUC {best:.4f}"
    if winner.roc_auc < best:
        why = f"within {TIE} of the best ({best:.4f}), and simpler"
    if failed and passing:
        why += f"; failing the model check: {', '.join(failed)}"
    return winner.text_features, why + note


def fold_indices(
    labels: np.ndarray, *, folds: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The folds every candidate shares: stratified, and grouped when ``groups`` is given."""
    if groups is not None:
        splitter: Any = StratifiedGroupKFold(folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(labels)), labels, groups))
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(labels)), labels))


def sample_rows(labels: np.ndarray, *, limit: int, seed: int) -> np.ndarray:
    """All row indices, or a stratified sample of ``limit`` of them (sorted)."""
    n = len(labels)
    if n <= limit:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    picked = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        take = max(1, round(limit * len(members) / n))
        picked.append(rng.choice(members, size=min(take, len(members)), replace=False))
    return np.sort(np.concatenate(picked))


def response(model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    """What CalibratedClassifierCV calibrates: the decision function, else P(positive)."""
    if hasattr(model, "decision_function"):
        return np.asarray(model.decision_function(X), dtype=np.float64)
    return np.asarray(model.predict_proba(X)[:, list(model.classes_).index(1)], dtype=np.float64)


def _positive_proba(model: BaseEstimator, X: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict_proba(X)[:, list(model.classes_).index(1)], dtype=np.float64)


def _cross_fitted_brier(y: np.ndarray, scores: np.ndarray, seed: int) -> float:
    """Brier of a sigmoid fitted on other rows' out-of-fold scores: every candidate calibrated alike."""
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    p = cross_val_predict(LogisticRegression(), scores[:, None], y, cv=folds, method="predict_proba")[:, 1]
    return float(brier_score_loss(y, p))


class FeatureBlocks:
    """The label-free feature blocks of the training rows, computed once for every candidate.

    The profile block is the fitted pipeline's own imputer and one-hot encoder; each text column
    is embedded once (through the encoder's cache and memory) and projected per candidate.
    """

    def __init__(
        self, records: Sequence[Mapping[str, Any]], spec: FeatureSpec, encoder_params: Mapping[str, Any]
    ) -> None:
        self.spec = spec
        self.encoder_params = dict(encoder_params)
        self.profile_spec = FeatureSpec(tuple(spec.numerical), tuple(spec.categorical), ())
        self.profile: Any = None
        self.profile_rows = np.zeros((len(records), 0))
        if self.profile_spec.all:
            self.profile = build_pipeline(self.profile_spec, classifier="logreg").named_steps["features"]
            self.profile_rows = self.profile.fit_transform(to_matrix(records, self.profile_spec))
        self.texts = {name: [_text(r.get(name)) for r in records] for name in spec.text}
        self._encoders: dict[str, SentenceEncoder] = {}
        self.vectors = {name: self.fitted("embedding").embed(texts) for name, texts in self.texts.items()}

    def fitted(self, features: str) -> SentenceEncoder:
        """An encoder projecting to ``features``, fitted as the pipeline fits it (on the first text column)."""
        features = encoder_features(features)
        if features not in self._encoders:
            encoder = SentenceEncoder(**{**self.encoder_params, "features": features})
            self._encoders[features] = encoder.fit(self.texts[self.spec.text[0]] if self.spec.text else [])
        return self._encoders[features]

    def matrix(self, features: str) -> np.ndarray:
        """What the fitted pipeline's ColumnTransformer gives the classifier, for every training row."""
        blocks = [self.profile_rows]
        for name in self.spec.text:
            blocks.append(self.fitted(features).project(self.vectors[name]))
        return np.hstack(blocks).astype(np.float64)

    def records_matrix(self, records: Sequence[Mapping[str, Any]], features: str) -> np.ndarray:
        """The same for other records (the model check's pairs)."""
        blocks = [np.zeros((len(records), 0))]
        if self.profile is not None:
            blocks.append(self.profile.transform(to_matrix(records, self.profile_spec)))
        encoder = self.fitted(features)
        for name in self.spec.text:
            blocks.append(encoder.transform([_text(r.get(name)) for r in records]))
        return np.hstack(blocks).astype(np.float64)


def check_records(
    reference: Mapping[str, Any], text_column: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The seed's pair and the free-form pairs as records: each text in ``text_column``, on ``reference``."""
    seed = [
        {**reference, text_column: checks.SEED_POSITIVE},
        {**reference, text_column: checks.SEED_NEGATIVE},
    ]
    pairs = [
        {**reference, text_column: text}
        for pair in checks.load_freeform_pairs()
        for text in (pair.positive, pair.negative)
    ]
    return seed, pairs


def guard(
    model: BaseEstimator, blocks: FeatureBlocks, features: str, reference: Mapping[str, Any]
) -> tuple[bool, float]:
    """The seed's pair and the share of free-form pairs ``model`` orders (negative strictly higher)."""
    seed, pairs = check_records(reference, blocks.spec.text[0])
    scores = response(model, blocks.records_matrix(seed + pairs, features))
    seed_ok = bool(scores[1] > scores[0])
    pair_scores = scores[2:].reshape(-1, 2)
    return seed_ok, float(np.mean(pair_scores[:, 1] > pair_scores[:, 0]))


def cross_validate(
    records: Sequence[Mapping[str, Any]],
    labels: np.ndarray,
    spec: FeatureSpec,
    *,
    candidates: Sequence[str],
    classifier: str,
    classifier_params: Mapping[str, Any],
    encoder_params: Mapping[str, Any],
    seed: int = 0,
    folds: int = DEFAULT_FOLDS,
    groups: np.ndarray | None = None,
    grouped_by: str | None = None,
    reference: Mapping[str, Any] | None = None,
    auto: bool = True,
    max_rows: int = MAX_CV_ROWS,
) -> Selection:
    """Cross-validate ``candidates`` on the same folds and choose one (see the module docstring).

    ``reference``: the typical customer the model check scores its pairs on; ``None`` skips the
    check (no text column, or no pairs file beside the package).
    """
    labels = np.asarray(labels)
    rows = sample_rows(labels, limit=max_rows, seed=seed)
    y = labels[rows]
    splits = fold_indices(
        y, folds=folds, seed=seed, groups=None if groups is None else np.asarray(groups)[rows]
    )
    blocks = FeatureBlocks([records[i] for i in rows], spec, encoder_params)
    results = []
    # One OpenMP thread per fit: boosting's thread team spin-waits, and on a shared 2-core machine
    # that made a 300-iteration fit on 1,800 rows take 36 s instead of 5 s.
    if classifier != "additive" and len(candidates) > 1:
        candidates = [c for c in candidates if c != SHRUNK]
    with threadpool_limits(limits=1, user_api="openmp"):
        for features in candidates if spec.text else candidates[:1]:
            results.append(_candidate(features, blocks, y, splits, classifier, classifier_params, seed))
        if reference is not None and spec.text:
            _guard_until_chosen(results, blocks, y, classifier, classifier_params, seed, reference)
    if auto and spec.text:
        chosen, reason = choose(results)
    elif spec.text:
        chosen, reason = results[0].text_features, "given on the command line"
    else:
        chosen, reason = results[0].text_features, "no text column"
    return Selection(results, chosen, reason, rows, y, len(splits), grouped_by, auto)


def _candidate(
    features: str,
    blocks: FeatureBlocks,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    classifier: str,
    classifier_params: Mapping[str, Any],
    seed: int,
) -> CandidateResult:
    X = blocks.matrix(features)
    scores = np.zeros(len(y))
    proba = np.zeros(len(y))
    started = time.perf_counter()

    for train, held_out in splits:
        model = _classifier(classifier, classifier_params, seed, blocks, X, features).fit(X[train], y[train])
        scores[held_out] = response(model, X[held_out])
        proba[held_out] = _positive_proba(model, X[held_out])
    seconds = (time.perf_counter() - started) / len(splits)
    result = CandidateResult(
        features,
        roc_auc=float(roc_auc_score(y, scores)),
        pr_auc=float(average_precision_score(y, scores)),
        brier=_cross_fitted_brier(y, scores, seed),
        fit_seconds=seconds,
        response=scores,
        proba=proba,
    )
    return result


def _guard_until_chosen(
    results: Sequence[CandidateResult],
    blocks: FeatureBlocks,
    y: np.ndarray,
    classifier: str,
    classifier_params: Mapping[str, Any],
    seed: int,
    reference: Mapping[str, Any],
) -> None:
    """Run the model check on the candidates the choice depends on, best out-of-fold AUC first.

    Down to the first that passes, then the simpler ones tying with it; the rest could not be
    chosen whatever their check says, so they are not fitted again (``guard_ok`` stays None, "-"
    in the table). With no candidate passing, every one is checked.
    """

    def check(result: CandidateResult) -> None:
        X = blocks.matrix(result.text_features)
        with threadpool_limits(limits=1, user_api="openmp"):
            full = _classifier(classifier, classifier_params, seed, blocks, X, result.text_features).fit(X, y)
        result.seed_pair_ok, result.freeform_share = guard(full, blocks, result.text_features, reference)

    passing = None
    for result in sorted(results, key=lambda r: -r.roc_auc):  # stable: ties keep the simpler first
        check(result)
        if result.guard_ok:
            passing = result
            break
    if passing is None:
        return
    for result in results:
        if result.guard_ok is None and result.roc_auc >= passing.roc_auc - TIE:
            check(result)


def _classifier(
    classifier: str, params: Mapping[str, Any], seed: int, blocks: FeatureBlocks, X: np.ndarray, features: str
) -> BaseEstimator:
    """The classifier as build_pipeline makes it for ``features`` on ``X`` (the additive's text block)."""
    params = dict(params)
    if classifier == "additive":
        text_width = X.shape[1] - blocks.profile_rows.shape[1]
        widths = [text_width // len(blocks.spec.text)] * len(blocks.spec.text) if blocks.spec.text else []
        params["text_columns"] = text_width
        params["text_weights"] = text_weights(features, widths)
    return build_classifier(classifier, seed=seed, **params)


def out_of_fold_probabilities(selection: Selection, pipeline: Pipeline) -> np.ndarray:
    """The chosen candidate's held-out scores as the fitted pipeline's probabilities.

    A calibrated classifier maps its base model's response through one fitted calibrator
    (``ensemble=False``); the held-out responses go through that same calibrator. Uncalibrated,
    the held-out probabilities are the fold models' own.
    """
    winner = selection.winner
    classifier = pipeline.named_steps["classifier"]
    if isinstance(classifier, CalibratedClassifierCV):
        (fitted,) = classifier.calibrated_classifiers_
        (calibrator,) = fitted.calibrators
        return np.clip(np.asarray(calibrator.predict(winner.response), dtype=np.float64), 0.0, 1.0)
    return np.asarray(winner.proba, dtype=np.float64)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
