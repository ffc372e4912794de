import json

import pytest
from churn_contracts.endpoint import (
    JSON,
    JSON_LINES,
    MAX_TEXT_CHARS,
    FeatureSpec,
    RequestError,
    RiskBasis,
    encode_response,
    negotiate_accept,
    parse_request,
    parse_score,
    prediction,
)
from churn_contracts.features import MODEL_FEATURES

from tests.conftest import SEED_BODY

SPEC = FeatureSpec()


def status_of(body, content_type=JSON):
    with pytest.raises(RequestError) as info:
        parse_request(body, content_type, SPEC)
    return info.value.status, info.value.message


def test_seed_example_body_is_one_record_with_missing_features_listed():
    request = parse_request(json.dumps(SEED_BODY).encode(), JSON, SPEC)
    assert not request.batch
    [record] = request.records
    assert record.features["Account Length"] == 66.0
    assert record.features["plan"] == "B"
    assert set(record.missing) == set(MODEL_FEATURES) - set(SEED_BODY)
    assert all(record.features[name] is None for name in record.missing)


def test_extra_fields_are_ignored():
    [record] = parse_request(json.dumps({**SEED_BODY, "customer_id": "c1"}), JSON, SPEC).records
    assert "customer_id" not in record.features


def test_instances_batch_and_json_lines():
    batch = parse_request(json.dumps({"instances": [SEED_BODY, {}]}), JSON, SPEC)
    assert batch.batch and len(batch.records) == 2
    lines = parse_request(b'{"plan": "A"}\n\n{"plan": "C"}\n', "application/jsonlines; charset=utf-8", SPEC)
    assert lines.batch and lines.jsonlines
    assert [r.features["plan"] for r in lines.records] == ["A", "C"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b'{"instances": []}', "empty"),
        (b'{"instances": {"a": 1}}', "'instances' must be a list"),
        (b'{"instances": [1]}', "instances[0] must be a JSON object"),
        (b'{"Day Mins": true}', "'Day Mins'"),
        (b'{"Day Mins": "12"}', "'Day Mins'"),
        (b'{"Day Mins": NaN}', "NaN"),
        (b'{"Day Mins": Infinity}', "Infinity"),
        (b'{"Day Mins": 1e999}', "'Day Mins'"),
        (b'{"Day Mins": 1' + b"0" * 400 + b"}", "'Day Mins'"),
        (b'{"plan": [3]}', "'plan'"),
        (b'{"text": ["a"]}', "'text'"),
        (b"\xff\xfe{}", "UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_bad_bodies_are_400_naming_the_problem(body, needle):
    status, message = status_of(body)
    assert status == 400
    assert needle in message


def test_json_lines_errors_name_the_line():
    status, message = status_of(b'{"plan": "A"}\n{"plan": {"a": 1}}\n', JSON_LINES)
    assert status == 400 and "line 2" in message


def test_unsupported_content_type_is_415():
    assert status_of(b"a,b", "text/csv")[0] == 415


def test_huge_text_is_413():
    assert status_of(json.dumps({"text": "a" * (MAX_TEXT_CHARS + 1)}))[0] == 413


def test_accept_negotiation():
    assert negotiate_accept(None) == JSON
    assert negotiate_accept("*/*", jsonlines_request=True) == JSON_LINES
    assert negotiate_accept("text/html, application/json;q=0.9") == JSON
    assert negotiate_accept("application/jsonlines") == JSON_LINES
    with pytest.raises(RequestError) as info:
        negotiate_accept("text/csv")
    assert info.value.status == 406


def test_responses():
    one = prediction(0.25, "v1", ["State"])
    assert json.loads(encode_response([one], batch=False, accept=JSON)) == {
        "probability": 0.25,
        "model_version": "v1",
        "missing_features": ["State"],
    }
    assert json.loads(encode_response([one, one], batch=True, accept=JSON)) == {"predictions": [one, one]}
    lines = encode_response([one, one], batch=True, accept=JSON_LINES).decode().splitlines()
    assert [json.loads(line) for line in lines] == [one, one]


def test_error_body_is_json_without_traceback():
    error = RequestError(400, "field 'plan' must be a string")
    assert json.loads(error.to_json()) == {"error": "field 'plan' must be a string", "status": 400}


def test_feature_spec_round_trip_and_tabular_only():
    spec = FeatureSpec(("a",), ("b",), ())
    assert FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    [record] = parse_request(b'{"a": 1, "b": "x", "text": 5}', JSON, spec).records
    assert record.features == {"a": 1.0, "b": "x"} and record.missing == []


def test_categorical_numbers_are_coerced_as_training_coerces_them():
    # Issue 11 section 4: JSON numbers in a categorical field become their canonical string.
    from churn_contracts.endpoint import FeatureSpec, parse_record

    spec = FeatureSpec((), ("Area Code", "Int'l Plan", "plan"), ())
    record = parse_record({"Area Code": 415, "Int'l Plan": 1.0, "plan": " "}, spec)
    assert record.features == {"Area Code": "415", "Int'l Plan": "1", "plan": None}
    assert record.missing == ["plan"]


# --- unknown categories (issue 24 s5) ---------------------------------------------------------

KNOWN = {"plan": frozenset({"A", "B"}), "State": frozenset({"OH", "415"})}


def test_unknown_categories_are_the_parsed_values_outside_the_known_ones():
    from churn_contracts.endpoint import unknown_categories

    [record] = parse_request(json.dumps({"plan": "Z", "State": 415.0}), JSON, SPEC).records
    assert unknown_categories(record.features, KNOWN) == {"plan": "Z"}  # 415.0 is the known "415"
    [record] = parse_request(json.dumps({"plan": " ", "State": "TX"}), JSON, SPEC).records
    assert unknown_categories(record.features, KNOWN) == {"State": "TX"}  # blank is missing, not unknown
    assert unknown_categories({"plan": "A"}, KNOWN) == {}


def test_unknown_categories_are_bounded():
    from churn_contracts.endpoint import MAX_UNKNOWN_CATEGORIES, MAX_UNKNOWN_VALUE_CHARS, unknown_categories

    many = {f"c{i}": frozenset({"x"}) for i in range(MAX_UNKNOWN_CATEGORIES + 5)}
    found = unknown_categories({name: "y" * 10_000 for name in many}, many)
    assert len(found) == MAX_UNKNOWN_CATEGORIES
    assert {len(v) for v in found.values()} == {MAX_UNKNOWN_VALUE_CHARS}


def test_answers_carry_unknown_categories_and_older_answers_still_parse():
    from churn_contracts.endpoint import parse_score

    answer = prediction(0.3, "v2", [], unknown={"plan": "Z"})
    assert answer["unknown_categories"] == {"plan": "Z"}
    assert parse_score(json.dumps(answer)).unknown_categories == {"plan": "Z"}
    assert parse_score(json.dumps(prediction(0.3, "v2", [], unknown={}))).unknown_categories == {}
    batch = json.dumps({"predictions": [answer]})
    assert parse_score(batch).unknown_categories == {"plan": "Z"}
    # An older model says nothing: the score parses, with nothing known about its categories.
    older = parse_score(json.dumps({"probability": 0.3, "model_version": "v1", "missing_features": []}))
    assert older.probability == 0.3 and older.unknown_categories is None
    assert "unknown_categories" not in prediction(0.3, "v1", [])


@pytest.mark.parametrize("malformed", [["plan"], "plan", {"plan": 3}, {"plan": None}, 7])
def test_a_malformed_unknown_categories_is_dropped_and_the_score_stands(malformed):
    from churn_contracts.endpoint import parse_score

    score = parse_score(json.dumps({"probability": 0.7, "unknown_categories": malformed}))
    assert score.probability == 0.7 and score.unknown_categories is None


def test_a_client_bounds_what_an_endpoint_lists():
    from churn_contracts.endpoint import MAX_UNKNOWN_CATEGORIES, MAX_UNKNOWN_VALUE_CHARS, parse_score

    listed = {f"c{i}": "v" * 1000 for i in range(MAX_UNKNOWN_CATEGORIES * 3)}
    score = parse_score(json.dumps({"probability": 0.7, "unknown_categories": listed}))
    assert len(score.unknown_categories) == MAX_UNKNOWN_CATEGORIES
    assert max(len(v) for v in score.unknown_categories.values()) == MAX_UNKNOWN_VALUE_CHARS


# --- risk_basis: what the model's high threshold meant in training ---------------------------

METRICS = {
    "thresholds": {
        "high": 0.4,
        "medium": 0.2,
        "at_high": {"precision": 0.6, "recall": 0.7, "customers": 2233, "churners": 324, "flagged": 530},
        "computed_on": "out_of_fold",
    },
    "churn_period": "90 days",
}


def test_the_risk_basis_is_read_from_metrics_json():
    basis = RiskBasis.from_metrics(METRICS)
    assert basis == RiskBasis(0.4, 0.6, 530, 2233, 324, "90 days", "out_of_fold")
    assert basis.held_out
    unknown_period = RiskBasis.from_metrics({**METRICS, "churn_period": None})
    assert unknown_period.period is None and "period" not in unknown_period.to_json()
    # Older metrics.json: at_high without the counts, or no at_high at all.
    older = {
        "thresholds": {"high": 0.4, "at_high": {"precision": 0.6, "recall": 0.7}, "computed_on": "train"}
    }
    assert RiskBasis.from_metrics(older) == RiskBasis(0.4, 0.6, computed_on="train")
    assert not RiskBasis.from_metrics(older).held_out  # in-sample: not a figure to tell customers by
    assert RiskBasis.from_metrics({"thresholds": {"high": 0.4}}) is None
    assert RiskBasis.from_metrics([]) is None


def test_answers_carry_the_risk_basis_and_older_answers_still_parse():
    basis = RiskBasis.from_metrics(METRICS)
    answer = prediction(0.9, "v3", [], basis=basis)
    assert answer["risk_basis"] == {
        "threshold": 0.4,
        "precision": 0.6,
        "flagged": 530,
        "customers": 2233,
        "churners": 324,
        "period": "90 days",
        "computed_on": "out_of_fold",
    }
    assert parse_score(json.dumps(answer)).risk_basis == basis
    assert parse_score(json.dumps({"predictions": [answer]})).risk_basis == basis
    older = parse_score(json.dumps(prediction(0.9, "v1", [])))
    assert older.probability == 0.9 and older.risk_basis is None
    assert "risk_basis" not in prediction(0.9, "v1", [])


@pytest.mark.parametrize(
    "malformed",
    [
        "0.6",
        [0.6],
        {"precision": 0.6},  # no threshold: nothing to check the stack's against
        {"threshold": 0.4, "precision": 1.5},
        {"threshold": 0.4, "precision": 0},
        {"threshold": float("nan"), "precision": 0.6},
        {"threshold": 0.4, "precision": True},
        {"threshold": "0.4", "precision": 0.6},
    ],
)
def test_a_malformed_risk_basis_is_dropped_and_the_score_stands(malformed):
    score = parse_score(json.dumps({"probability": 0.7, "risk_basis": malformed}))
    assert score.probability == 0.7 and score.risk_basis is None


def test_a_risk_basis_keeps_its_figures_and_drops_or_bounds_a_bad_optional_one():
    from churn_contracts.endpoint import MAX_PERIOD_CHARS

    listed = {
        "threshold": 0.4,
        "precision": 0.6,
        "flagged": -3,
        "customers": 2.5,
        "churners": True,
        "period": "90\ndays " + "x" * 500,
        "computed_on": ["out_of_fold"],
    }
    basis = parse_score(json.dumps({"probability": 0.7, "risk_basis": listed})).risk_basis
    assert (basis.threshold, basis.precision) == (0.4, 0.6)
    assert basis.flagged is basis.customers is basis.churners is basis.computed_on is None
    assert basis.period.startswith("90 days x") and len(basis.period) == MAX_PERIOD_CHARS
    assert not basis.held_out
