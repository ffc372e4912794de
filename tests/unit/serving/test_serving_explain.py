"""The endpoint explains on request: a top-level "explain", for one record and for instances."""

from __future__ import annotations

import json

import pytest
from churn_contracts.endpoint import JSON, JSON_LINES, parse_request
from churn_contracts.features import MODEL_FEATURES
from churn_model.serving.handlers import input_fn, model_fn, output_fn, predict_fn

from tests.conftest import SEED_BODY

pytestmark = [pytest.mark.model, pytest.mark.slow]

CALL = (
    "I have called four times about my bill. Nobody fixed it. "
    "Another provider offered me a cheaper plan. I am thinking of leaving."
)


class Context:
    status = 200

    def set_response_status(self, code=200, phrase="", idx=0):
        self.status = code


def invoke(model, payload, content_type=JSON):
    context = Context()
    body = payload if isinstance(payload, str) else json.dumps(payload)
    result = predict_fn(input_fn(body, content_type, context), model, context)
    answer, _ = output_fn(result, content_type, context)
    text = answer.decode()
    return context.status, (
        json.loads(text) if content_type == JSON else [json.loads(x) for x in text.splitlines()]
    )


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return model_fn(str(tiny_model_dir))


def test_a_plain_score_carries_no_reasons(model):
    status, answer = invoke(model, SEED_BODY)
    assert status == 200 and "reasons" not in answer


def test_explain_true_gives_up_to_three_reasons_with_the_plain_probability(model):
    record = {**SEED_BODY, "CustServ Calls": 6.0, "text": CALL}
    _, plain = invoke(model, record)
    status, answer = invoke(model, {**record, "explain": True})
    assert status == 200
    assert answer["probability"] == pytest.approx(plain["probability"], abs=1e-9)
    assert 1 <= len(answer["reasons"]) <= 3
    for reason in answer["reasons"]:
        assert reason["kind"] in {"profile", "phrase"} and reason["effect"] > 0
        assert reason["method"] in {"reference-replacement", "leave-one-sentence-out"}
        if reason["kind"] == "phrase":
            assert reason["value"] in CALL and reason["topic"]
        else:
            assert reason["name"] in MODEL_FEATURES and "reference" in reason
    effects = [r["effect"] for r in answer["reasons"]]
    assert effects == sorted(effects, reverse=True)


def test_instances_are_explained_one_by_one(model):
    instances = [
        {**SEED_BODY, "text": CALL},
        {**SEED_BODY, "CustServ Calls": 0.0, "text": "All good, thanks."},
    ]
    status, answer = invoke(model, {"instances": instances, "explain": 1})
    assert status == 200
    _, plain = invoke(model, {"instances": instances})
    for explained, score in zip(answer["predictions"], plain["predictions"], strict=True):
        assert len(explained["reasons"]) <= 1
        assert explained["probability"] == pytest.approx(score["probability"], abs=1e-9)


@pytest.mark.parametrize("value", [0, 21, "yes", 2.5, [], {}])
def test_a_bad_explain_is_a_400_naming_it(model, value):
    status, answer = invoke(model, {**SEED_BODY, "explain": value})
    assert status == 400 and "'explain'" in answer["error"]


def test_explain_false_and_json_lines_score_plainly(model):
    assert "reasons" not in invoke(model, {**SEED_BODY, "explain": False})[1]
    lines = json.dumps({**SEED_BODY, "explain": True}) + "\n"
    status, answers = invoke(model, lines, JSON_LINES)
    assert status == 200 and "reasons" not in answers[0]
    assert parse_request(lines, JSON_LINES, model.spec).explain is None
