"""Unknown categories (issue 24 s5): a categorical value the model never saw in training is listed
in the answer (``"unknown_categories": {"plan": "Z"}``), read from the fitted one-hot encoder.

A real pipeline (the project's own build_pipeline, profile features only so no sentence encoder
loads) fitted on a few rows and served through the SageMaker handlers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from churn_contracts.endpoint import (
    JSON,
    JSON_LINES,
    MAX_UNKNOWN_VALUE_CHARS,
    FeatureSpec,
    parse_score,
)
from churn_model.artifact import ChurnModel
from churn_model.pipeline import build_pipeline, to_matrix
from churn_model.serving import handlers
from churn_model.serving.handlers import Invocation, output_fn, predict_fn

pytestmark = pytest.mark.model

SPEC = FeatureSpec(numerical=("Day Mins",), categorical=("plan", "limit", "State"), text=())
# plan seen as A/B, limit as limited/unlimited, State as OH/415 (a number read as "415").
ROWS = [
    {
        "Day Mins": 100.0 + i,
        "plan": "AB"[i % 2],
        "limit": ("limited", "unlimited")[i % 2],
        "State": ("OH", 415)[i % 2],
    }
    for i in range(12)
]
LABELS = [i % 2 for i in range(12)]


class Context:
    status = 200

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status = code


@pytest.fixture(scope="module")
def model() -> ChurnModel:
    pipeline = build_pipeline(SPEC, classifier="rf", n_estimators=5, seed=0, n_jobs=1)
    pipeline.fit(to_matrix(ROWS, SPEC), LABELS)
    return ChurnModel(pipeline, SPEC, {"model_version": "cats-1"}, Path("unused"))


def score(model, body, content_type=JSON):
    context = Context()
    result = predict_fn(Invocation(json.dumps(body) if isinstance(body, dict) else body, content_type), model)
    payload, _ = output_fn(result, content_type, context)
    assert context.status == 200, payload
    if content_type == JSON_LINES:
        return [json.loads(line) for line in payload.decode().splitlines()]
    return json.loads(payload)


def test_the_known_values_are_the_encoders_categories(model):
    assert handlers.known_categories(model) == {
        "plan": {"A", "B"},
        "limit": {"limited", "unlimited"},
        "State": {"OH", "415"},
    }


def test_an_unseen_value_is_listed_and_a_seen_or_missing_one_is_not(model):
    answer = score(model, {"Day Mins": 120.0, "plan": "Z", "limit": "limited"})
    assert answer["unknown_categories"] == {"plan": "Z"}
    assert "State" in answer["missing_features"]  # missing is not unknown
    assert score(model, {"plan": "A", "limit": "unlimited", "State": "OH"})["unknown_categories"] == {}
    # The contract's canonical form: 415, 415.0 and " 415 " are all the seen "415".
    for state in (415, 415.0, " 415 "):
        assert score(model, {"State": state})["unknown_categories"] == {}
    # Case matters to the encoder, so it matters here: "a" is not "A".
    assert score(model, {"plan": "a", "State": 416})["unknown_categories"] == {"plan": "a", "State": "416"}


def test_the_score_is_the_same_as_with_the_value_missing(model):
    # Why listing matters: the encoder ignores the value, so "Z" scores exactly as no plan.
    unknown = score(model, {"Day Mins": 130.0, "plan": "Z"})
    absent = score(model, {"Day Mins": 130.0})
    assert unknown["probability"] == absent["probability"]


def test_a_record_alone_and_in_a_batch_answer_the_same(model):
    records = [{"plan": "Z", "limit": "limited"}, {"plan": "A"}, {"limit": "none", "State": "TX"}]
    alone = [score(model, r) for r in records]
    batch = score(model, {"instances": records})["predictions"]
    lines = score(model, "".join(json.dumps(r) + "\n" for r in records), JSON_LINES)
    expected = [{"plan": "Z"}, {}, {"limit": "none", "State": "TX"}]
    assert [a["unknown_categories"] for a in alone] == expected
    assert [b["unknown_categories"] for b in batch] == expected
    assert [line["unknown_categories"] for line in lines] == expected
    assert [a["probability"] for a in alone] == [b["probability"] for b in batch]


def test_long_values_are_cut_and_the_client_reads_them_back(model):
    answer = score(model, {"plan": "Q" * 5000})
    listed = answer["unknown_categories"]["plan"]
    assert len(listed) == MAX_UNKNOWN_VALUE_CHARS and listed.endswith("…")
    parsed = parse_score(json.dumps(answer))
    assert parsed.unknown_categories == {"plan": listed}


def test_values_are_never_logged_only_the_columns(model, caplog):
    with caplog.at_level(logging.INFO, logger="churn_model.serving.handlers"):
        score(model, {"instances": [{"plan": "Secret-Plan-9"}, {"plan": "Other-7", "limit": "x"}]})
    text = caplog.text
    assert "Secret-Plan-9" not in text and "Other-7" not in text
    assert '"plan": 2' in text and '"limit": 1' in text


def test_a_model_that_cannot_tell_answers_without_the_field():
    class Bare:
        spec = SPEC
        model_version = "bare-1"

        def predict_proba(self, records):
            return [0.5] * len(records)

    answer = score(Bare(), {"plan": "Z"})
    assert "unknown_categories" not in answer and answer["probability"] == 0.5
    assert parse_score(json.dumps(answer)).unknown_categories is None


def test_the_categories_are_read_once_per_model(model):
    first = handlers.known_categories(model)
    score(model, {"plan": "Z"})
    assert handlers.known_categories(model) is first
