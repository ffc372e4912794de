"""What the classifier sees of a call: the intent score, the per-statement axes, or the embedding."""

from __future__ import annotations

import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from churn_model import axes
from churn_model.checks import FREEFORM_PATH

ROOT = Path(__file__).resolve().parents[3]
LEAVING = "I've had enough of the dropped calls. Please cancel my contract, I'm moving to another network."
STAYING = "Thanks, the new plan works perfectly and the price is fine. I'm happy to stay."


def _words(text: str) -> str:
    return " ".join(re.findall(r"[a-z']+", text.lower()))


def test_statements_are_our_own_not_copied_from_the_evaluation_or_the_generator():
    # The free-form pairs measure text nothing here was fitted to; the grammar writes training text.
    freeform = [
        _words(pair[side])
        for pair in map(json.loads, FREEFORM_PATH.read_text().splitlines())
        for side in ("positive", "negative")
    ]
    grammar = _words((ROOT / "model" / "churn_model" / "data" / "grammar.py").read_text())
    for statement in axes.STATEMENTS:
        words = _words(statement)
        assert not any(words in text for text in freeform), statement
        assert words not in grammar, statement
    assert len(set(axes.NAMES)) == len(axes.NAMES) == len(axes.LEAVING) + len(axes.STAYING)


def test_intent_is_mean_leaving_minus_mean_staying_similarity():
    rng = np.random.default_rng(0)
    statements = rng.normal(size=(len(axes.STATEMENTS), 8)).astype(np.float32)
    vectors = rng.normal(size=(3, 8)).astype(np.float32)
    cosines = vectors @ statements.T
    expected = cosines[:, : len(axes.LEAVING)].mean(1) - cosines[:, len(axes.LEAVING) :].mean(1)
    np.testing.assert_allclose(axes.intent(vectors, statements)[:, 0], expected, rtol=1e-5)
    assert axes.similarities(vectors, statements).shape == (3, len(axes.STATEMENTS))


pytest.importorskip("sentence_transformers")
from churn_model.encoder import SentenceEncoder  # noqa: E402


@pytest.fixture(scope="module")
def fitted() -> dict[str, SentenceEncoder]:
    texts = np.array([LEAVING, STAYING], dtype=object)
    return {kind: SentenceEncoder(features=kind).fit(texts) for kind in ("intent", "axes", "embedding")}


@pytest.mark.slow
def test_each_kind_has_its_width_and_names(fitted):
    texts = np.array([LEAVING, STAYING, None], dtype=object)
    widths = {"intent": 1, "axes": len(axes.STATEMENTS), "embedding": 384}
    for kind, encoder in fitted.items():
        out = encoder.transform(texts)
        assert out.shape == (3, widths[kind]) and np.isfinite(out).all()
        names = encoder.get_feature_names_out(["text"])
        assert len(names) == widths[kind]
    assert list(fitted["intent"].get_feature_names_out(["text"])) == ["text_intent"]
    assert fitted["axes"].get_feature_names_out(["text"])[0] == f"text_axis_{axes.NAMES[0]}"


@pytest.mark.slow
def test_a_call_about_leaving_scores_higher_intent_than_a_call_about_staying(fitted):
    leaving, staying = fitted["intent"].transform(np.array([LEAVING, STAYING], dtype=object))[:, 0]
    assert leaving > staying


@pytest.mark.slow
def test_features_are_the_projection_of_the_embedding_and_survive_pickling(fitted):
    texts = np.array([LEAVING, STAYING], dtype=object)
    vectors = fitted["embedding"].transform(texts)
    for kind in ("intent", "axes"):
        encoder = fitted[kind]
        np.testing.assert_allclose(encoder.transform(texts), encoder.project(vectors), atol=1e-6)
        restored = pickle.loads(pickle.dumps(encoder))
        assert "_model" not in restored.__dict__  # the statement vectors travel, the network does not
        np.testing.assert_array_equal(restored.axes_, encoder.axes_)
        np.testing.assert_allclose(restored.transform(texts), encoder.transform(texts), atol=1e-6)


def test_an_unknown_kind_is_refused_at_fit():
    with pytest.raises(ValueError, match="features must be one of"):
        SentenceEncoder(features="sentiment").fit(np.array(["hello"], dtype=object))


def test_an_artifact_from_before_the_intent_features_still_embeds():
    old = SentenceEncoder()
    state = old.__getstate__()
    state.pop("features")
    restored = SentenceEncoder.__new__(SentenceEncoder)
    restored.__setstate__(state)
    assert restored.features == "embedding" and restored.__sklearn_is_fitted__()
