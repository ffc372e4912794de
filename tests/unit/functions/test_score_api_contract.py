"""The scoring API's OpenAPI document states what the API enforces: exactly one of ``profile``
and ``customer_id``, and ``allow_missing_profile`` only with ``customer_id`` (issue 24 section 5).

The committed document's ScoreRequest schema, checked with a JSON Schema 2020-12 validator, must
accept and refuse exactly the bodies the API's own validation accepts and refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from referencing import Registry, Resource
from score_api.models import ScoreRequest

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = json.loads((ROOT / "functions" / "score_api" / "openapi.json").read_text())


def schema_accepts(body: dict) -> bool:
    resource = Resource.from_contents({**DOCUMENT, "$schema": "https://json-schema.org/draft/2020-12/schema"})
    registry = Registry().with_resource("urn:api", resource)
    validator = Draft202012Validator({"$ref": "urn:api#/components/schemas/ScoreRequest"}, registry=registry)
    return validator.is_valid(body)


def api_accepts(body: dict) -> bool:
    try:
        ScoreRequest.model_validate(body)
    except ValidationError:
        return False
    return True


PROFILE = {"plan": "A", "Day Mins": 120.5}
BODIES = {
    "profile": {"text": "hi", "profile": PROFILE},
    "customer": {"text": "hi", "customer_id": "C-1"},
    "customer, allow missing": {"text": "hi", "customer_id": "C-1", "allow_missing_profile": True},
    "profile, customer null": {"text": "hi", "profile": PROFILE, "customer_id": None},
    "customer, profile null": {"text": "hi", "profile": None, "customer_id": "C-1"},
    "both": {"text": "hi", "profile": PROFILE, "customer_id": "C-1"},
    "neither": {"text": "hi"},
    "both null": {"text": "hi", "profile": None, "customer_id": None},
    "profile, allow missing": {"text": "hi", "profile": PROFILE, "allow_missing_profile": True},
    "profile, allow missing false": {"text": "hi", "profile": PROFILE, "allow_missing_profile": False},
    # JSON Schema's integers include 12.0 (schemathesis found the API refusing it).
    "explain 12.0": {"text": "hi", "customer_id": "C-1", "explain": 12.0},
    "explain 12.5": {"text": "hi", "customer_id": "C-1", "explain": 12.5},
    "explain '12'": {"text": "hi", "customer_id": "C-1", "explain": "12"},
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_document_and_the_api_agree_on_the_score_request(name: str) -> None:
    body = BODIES[name]
    assert schema_accepts(body) == api_accepts(body), name


def test_exactly_one_source_is_stated_and_refused():
    schema = DOCUMENT["components"]["schemas"]["ScoreRequest"]
    assert [branch["required"] for branch in schema["oneOf"]] == [["profile"], ["customer_id"]]
    assert "Exactly one of" in schema["description"]
    assert not api_accepts(BODIES["both"]) and not api_accepts(BODIES["neither"])


def test_profile_numbers_are_bounded_where_the_model_refuses_them():
    handlers = pytest.importorskip("churn_model.serving.handlers")  # not in the functions' venv
    from score_api.models import FLOAT32_MAX

    assert FLOAT32_MAX == handlers._FLOAT32_MAX
    huge = {"text": "hi", "profile": {"Day Calls": -1.7976931348623155e308}}
    assert not schema_accepts(huge) and not api_accepts(huge)
    edge = {"text": "hi", "profile": {"Day Calls": -FLOAT32_MAX, "Eve Calls": 10**20}}
    assert schema_accepts(edge) and api_accepts(edge)


def response_schema_accepts(body: dict) -> bool:
    resource = Resource.from_contents({**DOCUMENT, "$schema": "https://json-schema.org/draft/2020-12/schema"})
    registry = Registry().with_resource("urn:api", resource)
    response = DOCUMENT["paths"]["/v1/score"]["post"]["responses"]["200"]["content"]["application/json"]
    validator = Draft202012Validator({"$ref": "urn:api" + response["schema"]["$ref"]}, registry=registry)
    return validator.is_valid(body)


SCORED = {
    "probability": 0.8,
    "risk_level": "high",
    "model_version": "m-1",
    "missing_features": [],
    "profile_found": True,
    "text_truncated": False,
}


def test_the_document_describes_unknown_categories_in_the_score():
    from churn_contracts.endpoint import MAX_UNKNOWN_CATEGORIES, MAX_UNKNOWN_VALUE_CHARS

    schema = DOCUMENT["components"]["schemas"]["ScoreResponse"]["properties"]["unknown_categories"]
    assert "never saw in training" in schema["description"]
    assert response_schema_accepts({**SCORED, "unknown_categories": {"plan": "Z"}})
    assert response_schema_accepts({**SCORED, "unknown_categories": {}})
    assert response_schema_accepts({**SCORED, "unknown_categories": None})
    assert response_schema_accepts(SCORED)  # an older model's answer, passed through
    assert not response_schema_accepts({**SCORED, "unknown_categories": ["plan"]})
    assert not response_schema_accepts({**SCORED, "unknown_categories": {"plan": 3}})
    too_long = {"plan": "x" * (MAX_UNKNOWN_VALUE_CHARS + 1)}
    assert not response_schema_accepts({**SCORED, "unknown_categories": too_long})
    too_many = {f"c{i}": "x" for i in range(MAX_UNKNOWN_CATEGORIES + 1)}
    assert not response_schema_accepts({**SCORED, "unknown_categories": too_many})
