"""The serving fast path gives the fitted pipeline's own numbers, for every classifier it compiles.

Pipelines are fitted on generated rows with the real encoder; records are then perturbed the
ways requests arrive (missing numbers, unknown or missing categories, numbers as categories,
missing and empty texts) and scored by both, alone and in a batch.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
from churn_model import fastpath
from churn_model.pipeline import to_matrix

pytestmark = pytest.mark.slow

# Classifier, text features, calibration, parameters: the defaults first.
SETUPS = [
    ("additive", "intent", "sigmoid", {"max_depth": 3, "min_samples_leaf": 10, "n_estimators": 60}),
    ("additive", "intent+pca64", "isotonic", {"max_depth": 3, "min_samples_leaf": 10, "n_estimators": 60}),
    ("additive", "intent+shrunk-embedding", "sigmoid", {"min_samples_leaf": 10, "n_estimators": 30}),
    ("additive", "axes", "none", {"max_depth": None, "min_samples_leaf": 5, "n_estimators": 40}),
    ("hgb", "intent", "sigmoid", {"n_estimators": 40}),
    ("logreg", "axes", "none", {"c": 0.1}),
    ("rf", "intent", "sigmoid", {"n_estimators": 20}),
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    from churn_model.data.generate import generate_rows

    global _CACHE
    _CACHE = str(tmp_path_factory.mktemp("embeddings"))  # each text encoded once for all setups
    return generate_rows(200, seed=5)


_CACHE: str | None = None


def _fit(rows: list[dict[str, Any]], classifier: str, features: str, calibration: str, params: dict):
    from churn_model.train import TrainConfig, fit_pipeline

    config = TrainConfig(
        embedding_cache=_CACHE,
        classifier=classifier,
        text_features=features,
        calibration=calibration,
        classifier_params={k: v for k, v in params.items() if k != "n_estimators"},
        n_estimators=params.get("n_estimators", 100),
        progress=False,
    )
    records = [{k: v for k, v in row.items() if k != "y"} for row in rows[:150]]
    labels = np.array([row["y"] for row in rows[:150]])
    pipeline, _, _ = fit_pipeline(records, labels, config)
    return pipeline, config.spec


def _requests(rows: list[dict[str, Any]], spec: Any, seed: int) -> list[dict[str, Any]]:
    """Held-out rows with the oddities of real requests mixed in."""
    rng = random.Random(seed)
    records = []
    for row in rows[150:]:
        record = {k: v for k, v in row.items() if k != "y"}
        for name in spec.numerical:
            if rng.random() < 0.15:
                record[name] = None
        for name in spec.categorical:
            roll = rng.random()
            if roll < 0.1:
                record[name] = None
            elif roll < 0.2:
                record[name] = "Atlantis"  # never seen in training
            elif roll < 0.25:
                record[name] = 415  # a number where a string was trained: "415"
        roll = rng.random()
        if roll < 0.1:
            record["text"] = None
        elif roll < 0.2:
            record["text"] = ""
        records.append(record)
    records.append(dict.fromkeys(spec.all))  # nothing at all
    return records


def _pipeline_scores(pipeline: Any, records: list[dict[str, Any]], spec: Any) -> np.ndarray:
    proba = pipeline.predict_proba(to_matrix(records, spec))
    return proba[:, list(pipeline.classes_).index(1)]


@pytest.mark.parametrize(("classifier", "features", "calibration", "params"), SETUPS)
def test_the_fast_path_scores_as_the_pipeline_alone_and_in_a_batch(
    rows, classifier, features, calibration, params
):
    pipeline, spec = _fit(rows, classifier, features, calibration, params)
    scorer = fastpath.compile_scorer(pipeline, spec)
    assert scorer is not None
    if classifier != "rf":  # the forest keeps its own predict_proba, on the fast features
        assert not isinstance(scorer.model, fastpath._Estimator)
    records = _requests(rows, spec, seed=len(features))
    expected = _pipeline_scores(pipeline, records, spec)
    batch = scorer.predict_proba(records)
    alone = np.array([scorer.predict_proba([record])[0] for record in records])
    expected_alone = np.array([_pipeline_scores(pipeline, [record], spec)[0] for record in records])
    np.testing.assert_allclose(batch, expected, rtol=0, atol=1e-9)
    np.testing.assert_allclose(alone, expected_alone, rtol=0, atol=1e-9)
    # Alone against a batch: the encoder's own batch drift (int8, ~1e-8) is all that may differ.
    np.testing.assert_allclose(alone, expected, rtol=0, atol=1e-6)
    # The features themselves, not only the scores that come out of them.
    matrix = to_matrix(records, spec)
    np.testing.assert_allclose(
        scorer.features(matrix), pipeline.named_steps["features"].transform(matrix), rtol=0, atol=1e-12
    )


def test_input_the_pipeline_refuses_is_refused_the_same_way(rows):
    pipeline, spec = _fit(rows, *SETUPS[0])
    scorer = fastpath.compile_scorer(pipeline, spec)
    record = {k: v for k, v in rows[160].items() if k != "y"}
    record[spec.numerical[0]] = float("inf")
    with pytest.raises(ValueError, match="infinity") as from_pipeline:
        _pipeline_scores(pipeline, [record], spec)
    with pytest.raises(ValueError, match="infinity") as from_fast:
        scorer.predict_proba([record])
    assert str(from_fast.value) == str(from_pipeline.value)


def test_a_pipeline_with_a_step_it_does_not_know_is_not_compiled(rows):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipeline, spec = _fit(rows, *SETUPS[0])
    odd = Pipeline([("features", FunctionTransformer()), ("classifier", pipeline.named_steps["classifier"])])
    assert fastpath.compile_scorer(odd, spec) is None


def test_the_loaded_model_serves_through_the_fast_path(tmp_path, rows):
    from churn_model.artifact import load_model, save_model

    pipeline, spec = _fit(rows, *SETUPS[0])
    save_model(pipeline, tmp_path / "model", spec=spec, metadata={"model_version": "fast-test"})
    model = load_model(tmp_path / "model")
    assert model.fast is not None
    records = _requests(rows, spec, seed=3)
    np.testing.assert_allclose(
        model.predict_proba(records), _pipeline_scores(model.pipeline, records, spec), rtol=0, atol=1e-9
    )


def test_a_large_batch_is_walked_in_chunks_with_the_same_numbers(rows, monkeypatch):
    pipeline, spec = _fit(rows, *SETUPS[0])
    scorer = fastpath.compile_scorer(pipeline, spec)
    records = [{**record, "text": None} for record in _requests(rows, spec, seed=9)]
    whole = scorer.predict_proba(records)
    monkeypatch.setattr(fastpath, "_TREE_CHUNK", 7)
    np.testing.assert_array_equal(scorer.predict_proba(records), whole)
    np.testing.assert_allclose(whole, _pipeline_scores(pipeline, records, spec), rtol=0, atol=1e-9)
