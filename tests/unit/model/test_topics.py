"""Whole-call topics: the served linear classifier, its stored weights, and the endpoint's answer."""

from __future__ import annotations

import json

import numpy as np
import pytest
from churn_contracts.endpoint import JSON, parse_score
from churn_contracts.topics import TOPIC_IDS
from churn_model.topics import (
    KeywordTopics,
    LinearTopics,
    fit_weights,
    split_sentences,
    stored_weights,
    training_set,
)

# Written for this test; none is in the labelled set or the descriptions.
CLEAR = {
    "My mobile signal vanishes every time I walk into the kitchen.": "coverage",
    "You billed me twice for the same month and added a late fee.": "billing",
    "I waited on hold for forty minutes and then the line went dead with your support team.": "service",
    "My handset's screen cracked and the phone won't turn on.": "device",
    "I want to cancel my contract and close the account.": "cancel",
    "Could I upgrade to the plan with more data?": "plan",
}


@pytest.fixture(scope="module")
def linear():
    pytest.importorskip("onnxruntime")
    from churn_model.encoder import SentenceEncoder
    from churn_model.explain import _screen_vectors

    encoder = SentenceEncoder(granularity="text")
    return LinearTopics(lambda sentences: _screen_vectors(encoder, sentences))


def test_keywords_label_each_sentence():
    labels = KeywordTopics().label(["The signal drops.", "Hello there."])
    assert [t for t, _ in labels[0]] == ["coverage"] and labels[1] == []


def test_stored_weights_cover_the_topic_table():
    weights = stored_weights()
    assert weights["topics"] == list(TOPIC_IDS)
    assert len(weights["coef"]) == len(TOPIC_IDS) and len(weights["coef"][0]) == 384


@pytest.mark.slow
def test_stored_weights_are_what_fitting_the_labelled_set_gives(linear):
    pairs = training_set()
    vectors = linear.embed([text for text, _ in pairs])
    stored = stored_weights()
    fresh = fit_weights(vectors, [t for _, t in pairs], c=stored["c"], threshold=stored["threshold"])
    # The stored copy is rounded to 5 decimals; the encoder may differ in the last bits by CPU.
    assert np.allclose(fresh["coef"], np.asarray(stored["coef"]), atol=2e-2)
    assert np.allclose(fresh["intercept"], np.asarray(stored["intercept"]), atol=2e-2)


@pytest.mark.slow
def test_clear_sentences_get_their_topic(linear):
    labels = linear.label(list(CLEAR))
    for (sentence, topic), found in zip(CLEAR.items(), labels, strict=True):
        assert topic in {t for t, _ in found}, (sentence, found)
        assert all(0.0 <= strength <= 1.0 for _, strength in found)


@pytest.mark.slow
def test_small_talk_gets_no_topic(linear):
    assert linear.label(["Okay.", "Yes, that's me."]) == [[], []]


@pytest.mark.slow
def test_the_call_keeps_counts_and_the_strongest_sentence(linear):
    text = (
        "Hi. The signal drops in my house every evening. "
        "I have no coverage at work either and my calls cut out. "
        "Honestly I'm cancelling everything today."
    )
    topics = linear.call_topics(text)
    assert topics.sentences == len(split_sentences(text)) == 4
    assert topics.count("coverage") == 2 and topics.main_complaint() == "coverage"
    assert topics.count("cancel") == 1
    assert topics.strongest["coverage"].sentence in (1, 2)


@pytest.mark.model
@pytest.mark.slow
def test_the_endpoint_answers_topics_with_an_explanation(tiny_model_dir):
    from churn_model.serving.handlers import input_fn, model_fn, output_fn, predict_fn

    from tests.conftest import SEED_BODY

    model = model_fn(str(tiny_model_dir))
    text = "You overcharged me again this month. I'm switching to another carrier."
    for payload, explained in (
        ({**SEED_BODY, "text": text, "explain": 3}, True),
        ({**SEED_BODY, "text": text}, False),
    ):
        result = predict_fn(input_fn(json.dumps(payload), JSON), model)
        body, _ = output_fn(result, JSON)
        score = parse_score(body)
        if not explained:
            assert score.topics is None  # a plain score stays as cheap as it was
            continue
        assert score.topics is not None and score.topics.sentences == 2
        assert score.topics.count("billing") == 1 and score.topics.count("competitor") == 1
        assert score.topics.method == "linear-minilm"
