"""The explain part of the endpoint contract: the request flag and the reasons in the answer."""

from __future__ import annotations

import json

import pytest
from churn_contracts.endpoint import (
    EXPLAIN_DEFAULT_K,
    FeatureSpec,
    RequestError,
    ResponseError,
    parse_explain,
    parse_request,
    parse_score,
    prediction,
)

REASON = {
    "kind": "phrase",
    "name": "text",
    "value": "I am leaving.",
    "effect": 0.2,
    "method": "leave-one-sentence-out",
}


def test_explain_true_a_number_or_nothing():
    assert parse_explain(None) is None and parse_explain(False) is None
    assert parse_explain(True) == EXPLAIN_DEFAULT_K == 3
    assert parse_explain(5) == 5
    for bad in (0, 21, -1, 1.0, "3", [3]):
        with pytest.raises(RequestError) as caught:
            parse_explain(bad)
        assert caught.value.status == 400


def test_explain_is_read_at_the_top_of_a_record_or_a_batch():
    spec = FeatureSpec()
    assert parse_request(json.dumps({"plan": "A", "explain": True}), "application/json", spec).explain == 3
    batch = {"instances": [{"plan": "A"}, {"plan": "B"}], "explain": 2}
    assert parse_request(json.dumps(batch), "application/json", spec).explain == 2
    assert parse_request(json.dumps({"plan": "A"}), "application/json", spec).explain is None


def test_reasons_travel_in_the_answer_and_back():
    answer = prediction(0.7, "m-1", [], [REASON])
    assert answer["reasons"] == [REASON]
    assert "reasons" not in prediction(0.7, "m-1", [])
    score = parse_score(json.dumps(answer))
    assert score.reasons == [REASON] and score.probability == 0.7
    assert parse_score(json.dumps(prediction(0.1, "m", []))).reasons == []


@pytest.mark.parametrize(
    "reasons",
    [
        "x",
        [1],
        [{"kind": "mood", "name": "x", "effect": 1}],
        [{**REASON, "effect": "big"}],
        [{**REASON, "name": None}],
    ],
)
def test_reasons_outside_the_contract_are_a_response_error(reasons):
    with pytest.raises(ResponseError):
        parse_score(json.dumps({"probability": 0.5, "reasons": reasons}))
