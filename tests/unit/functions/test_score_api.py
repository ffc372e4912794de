"""ScoreApiFunction through its real handler: API Gateway REST proxy events in, moto-backed tables,
a SageMaker Runtime stand-in that validates requests with the endpoint's own contract."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from churn_contracts.endpoint import (
    MAX_TEXT_CHARS,
    FeatureSpec,
    RequestError,
    parse_request,
    prediction,
    shorten_text,
    unknown_categories,
)
from churn_contracts.profile import record_to_item
from churn_lambda.retry import Backoff
from score_api import handler
from score_api.adapters.calls import CallsReader, decode_cursor, encode_cursor
from score_api.adapters.endpoint import EndpointScorer
from score_api.domain import InvalidCursorError

from tests.unit.functions.conftest import CALLS, PROFILES, Aws

ROOT = Path(__file__).resolve().parents[3]
GOLD = {"plan": "gold", "limit": "unlimited", "State": "OH", "Account Length": 128, "CustServ Calls": 4}
ANGRY = "I want to cancel my contract, I am switching to another provider."


class Runtime:
    """SageMaker Runtime's invoke_endpoint, answering with the endpoint's contract.

    ``faults`` is a queue of ClientErrors (or exceptions) raised before answering.
    """

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.faults: list[Exception] = []
        # The categories this stand-in's model saw in training; None: a model that does not tell.
        self.known: dict[str, frozenset[str]] | None = {
            "plan": frozenset({"gold", "silver"}),
            "limit": frozenset({"unlimited"}),
            "State": frozenset({"OH"}),
        }

    def invoke_endpoint(
        self, *, EndpointName: str, ContentType: str, Accept: str, Body: bytes
    ) -> dict[str, Any]:
        self.bodies.append(json.loads(Body))
        if self.faults:
            raise self.faults.pop(0)
        try:
            parsed = parse_request(Body, ContentType, FeatureSpec())
        except RequestError as exc:  # the container answers 4xx -> InvokeEndpoint's ModelError
            raise model_error(exc.status) from None
        record = parsed.records[0]
        probability = 0.8 if "cancel" in (record.features["text"] or "") else 0.05
        unknown = None if self.known is None else unknown_categories(record.features, self.known)
        answer = prediction(probability, "model-7", record.missing, unknown=unknown)
        if self.bodies[-1].get("explain"):
            answer["reasons"] = [{"kind": "phrase", "name": "cancel my contract", "effect": 0.3}]
        return {"Body": io.BytesIO(json.dumps(answer).encode())}


def model_error(original: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ModelError", "Message": "Received client error from primary"},
            "OriginalStatusCode": original,
            "ResponseMetadata": {"HTTPStatusCode": 424},
        },
        "InvokeEndpoint",
    )


def throttled() -> ClientError:
    return ClientError(
        {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {"HTTPStatusCode": 429}},
        "InvokeEndpoint",
    )


@pytest.fixture
def api(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    aws.dynamodb.Table(CALLS).delete()
    aws.dynamodb.create_table(
        TableName=CALLS,
        KeySchema=[{"AttributeName": "job_name", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "job_name", "AttributeType": "S"},
            {"AttributeName": "customer_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-customer",
                "KeySchema": [
                    {"AttributeName": "customer_id", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for name, value in {
        "CALLS_TABLE": CALLS,
        "PROFILES_TABLE": PROFILES,
        "ENDPOINT_NAME": "churn-risk",
        "MEDIUM_RISK_THRESHOLD": "0.12",
        "HIGH_RISK_THRESHOLD": "0.42",
        "POWERTOOLS_SERVICE_NAME": "score-api",
    }.items():
        monkeypatch.setenv(name, value)
    handler.reset()
    runtime = Runtime()
    scorer = EndpointScorer(
        runtime, "churn-risk", backoff=Backoff(attempts=3, base_s=0.0), sleep=lambda s: None
    )
    monkeypatch.setattr(handler, "scorer", lambda: scorer)
    yield runtime
    monkeypatch.undo()
    handler.reset()


def event(
    method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None, query=None
) -> dict:
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
    base = {"Content-Type": "application/json"} if body is not None else {}
    return {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {**base, **(headers or {})},
        "multiValueHeaders": {k: [v] for k, v in {**base, **(headers or {})}.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"requestId": "req-1", "stage": "v1", "httpMethod": method, "path": path},
        "body": body,
        "isBase64Encoded": False,
    }


def call(context: Any, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, dict, dict]:
    response = handler.lambda_handler(event(method, path, body, **kwargs), context)
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key.lower(), values[0])
    return response["statusCode"], json.loads(response["body"] or "null"), headers


def put_profile(aws: Aws, customer_id: str, record: dict[str, Any]) -> None:
    aws.dynamodb.Table(PROFILES).put_item(Item=record_to_item(customer_id, record))


# --- scoring ------------------------------------------------------------------------------


def test_scores_a_given_profile_with_the_stacks_thresholds(api: Runtime, context: Any) -> None:
    status, body, headers = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY})
    assert status == 200, body
    assert headers["content-type"].startswith("application/json")
    assert body["probability"] == 0.8 and body["risk_level"] == "high"
    assert body["model_version"] == "model-7" and body["profile_found"] is True
    assert body["text_truncated"] is False and body.get("reasons") is None
    assert "Day Mins" in body["missing_features"] and "plan" not in body["missing_features"]
    sent = api.bodies[-1]
    assert sent["plan"] == "gold" and sent["Account Length"] == 128 and sent["Day Mins"] is None
    assert sent["text"] == ANGRY and "explain" not in sent


def test_scores_a_stored_profile_by_customer_id(api: Runtime, aws: Aws, context: Any) -> None:
    put_profile(aws, "C-1", GOLD)
    status, body, _ = call(context, "POST", "/v1/score", {"customer_id": "C-1", "text": "all good, thanks"})
    assert status == 200, body
    assert body["risk_level"] == "low" and body["profile_found"] is True
    assert api.bodies[-1]["plan"] == "gold" and api.bodies[-1]["Account Length"] == 128.0


def test_unknown_customer_is_404_or_a_profile_less_score_when_allowed(api: Runtime, context: Any) -> None:
    status, body, _ = call(context, "POST", "/v1/score", {"customer_id": "nobody", "text": ANGRY})
    assert (status, body) == (404, {"error": "no profile for this customer", "field": "customer_id"})
    assert api.bodies == []
    request = {"customer_id": "nobody", "text": ANGRY, "allow_missing_profile": True}
    status, body, _ = call(context, "POST", "/v1/score", request)
    assert status == 200 and body["profile_found"] is False
    assert "plan" in body["missing_features"]


def test_explain_is_passed_through_and_reasons_returned(api: Runtime, context: Any) -> None:
    status, body, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY, "explain": 3})
    assert status == 200 and api.bodies[-1]["explain"] == 3
    assert body["reasons"] == [{"kind": "phrase", "name": "cancel my contract", "effect": 0.3}]


def test_unknown_categories_are_listed_from_a_given_or_a_stored_profile(
    api: Runtime, aws: Aws, context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    status, body, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY})
    assert status == 200 and body["unknown_categories"] == {}
    profile = {**GOLD, "plan": "Z", "State": "Atlantis"}
    status, body, _ = call(context, "POST", "/v1/score", {"profile": profile, "text": ANGRY})
    assert status == 200, body
    assert body["unknown_categories"] == {"plan": "Z", "State": "Atlantis"}
    assert body["probability"] == 0.8  # listed, still scored
    put_profile(aws, "C-9", {**GOLD, "limit": "metered"})
    status, body, _ = call(context, "POST", "/v1/score", {"customer_id": "C-9", "text": ANGRY})
    assert status == 200 and body["unknown_categories"] == {"limit": "metered"}
    # The log names the columns, never a profile's values.
    scored = [r for r in caplog.records if r.getMessage() == "Scored"]
    assert [r.unknown_categories for r in scored] == [[], ["State", "plan"], ["limit"]]
    logged = repr([vars(r) for r in caplog.records])
    assert "metered" not in logged and "Atlantis" not in logged


def test_a_model_that_does_not_list_unknown_categories_still_scores(api: Runtime, context: Any) -> None:
    api.known = None  # an older model: no unknown_categories in its answer
    status, body, _ = call(context, "POST", "/v1/score", {"profile": {**GOLD, "plan": "Z"}, "text": ANGRY})
    assert status == 200 and body["probability"] == 0.8
    assert body.get("unknown_categories") is None


def test_text_over_the_limit_is_shortened_and_flagged(api: Runtime, context: Any) -> None:
    text = "cancel " * (MAX_TEXT_CHARS // 7 + 100)
    status, body, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": text})
    assert status == 200 and body["text_truncated"] is True
    sent = api.bodies[-1]["text"]
    # The pipeline's shortening: the same function the score function uses.
    assert (sent, True) == shorten_text(text) and len(sent) <= MAX_TEXT_CHARS


def test_empty_text_is_sent_as_missing_like_the_pipeline(api: Runtime, context: Any) -> None:
    status, body, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ""})
    assert status == 200 and api.bodies[-1]["text"] is None and "text" in body["missing_features"]


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"profile": GOLD}, "text"),  # missing
        ({"profile": GOLD, "text": 12}, "text"),  # wrong type
        (
            {"profile": {**GOLD, "Account Length": "128"}, "text": "x"},
            "profile.Account Length",
        ),  # no coercion
        ({"profile": {**GOLD, "Acount Length": 1}, "text": "x"}, "profile.Acount Length"),  # typo
        ({"profile": GOLD, "text": "x", "explian": True}, "explian"),  # unknown top-level field
        ({"profile": GOLD, "text": "x", "explain": 0}, "explain"),
        ({"customer_id": "bad id!", "text": "x"}, "customer_id"),
    ],
)
def test_wrong_missing_and_unknown_fields_are_400_with_the_field(
    api: Runtime, context: Any, body, field
) -> None:
    status, answer, _ = call(context, "POST", "/v1/score", body)
    assert status == 400, answer
    assert set(answer) == {"error", "field"} and answer["field"] == field, answer
    assert api.bodies == []


@pytest.mark.parametrize(
    "body",
    [
        {"text": "x"},  # neither profile nor customer_id
        {"profile": GOLD, "customer_id": "C-1", "text": "x"},  # both
        {"profile": GOLD, "text": "x", "allow_missing_profile": True},
        [1, 2],
        "null",
    ],
)
def test_request_shape_errors_are_400(api: Runtime, context: Any, body) -> None:
    status, answer, _ = call(context, "POST", "/v1/score", body)
    assert status == 400 and set(answer) == {"error", "field"}, answer


def test_non_finite_numbers_are_refused(api: Runtime, context: Any) -> None:
    raw = '{"profile": {"Day Mins": NaN}, "text": "x"}'
    status, answer, _ = call(context, "POST", "/v1/score", raw)
    assert status == 400 and answer["field"] == "profile.Day Mins"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("not json {", None),
        ("[" * 100_000, None),  # nesting past the parser's recursion limit
        ('{"profile": {}, "text": "x", "explain": ' + "9" * 5000 + "}", None),  # past int digits limit
        ('{"profile": {}, "text": "x"}', {"Content-Type": "text/plain"}),
        ("text=x", {"Content-Type": "application/x-www-form-urlencoded"}),
    ],
)
def test_non_json_bodies_and_wrong_content_types_are_415(api: Runtime, context: Any, body, headers) -> None:
    status, answer, _ = call(context, "POST", "/v1/score", body, headers=headers)
    assert status == 415 and set(answer) == {"error", "field"}, answer


def test_an_empty_body_is_400(api: Runtime, context: Any) -> None:
    status, answer, _ = call(context, "POST", "/v1/score", "")
    assert (status, answer) == (400, {"error": "the request body is missing", "field": None})


def test_a_body_over_the_limit_is_413(api: Runtime, context: Any) -> None:
    body = json.dumps({"profile": GOLD, "text": "x" * (handler.MAX_BODY_BYTES + 1)})
    status, answer, _ = call(context, "POST", "/v1/score", body)
    assert status == 413 and answer["field"] is None
    assert api.bodies == []


# --- endpoint faults ------------------------------------------------------------------------


def test_a_model_4xx_is_422(api: Runtime, context: Any) -> None:
    api.faults.append(model_error(400))
    status, answer, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY})
    assert status == 422 and answer["error"].startswith("the model refused")
    assert len(api.bodies) == 1  # a refusal is not retried


def test_transient_faults_are_retried_then_503_with_retry_after(api: Runtime, context: Any) -> None:
    api.faults.extend([throttled(), model_error(503)])
    status, _, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY})
    assert status == 200 and len(api.bodies) == 3  # two faults, then the answer
    api.bodies.clear()
    api.faults.extend([throttled(), ReadTimeoutError(endpoint_url="http://endpoint"), model_error(429)])
    status, answer, headers = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY})
    assert status == 503 and headers["retry-after"] == "5"
    assert answer == {"error": "the scoring endpoint is busy; retry later", "field": None}
    assert len(api.bodies) == 3
    # The next request finds the endpoint back.
    status, _, _ = call(context, "POST", "/v1/score", {"profile": GOLD, "text": ANGRY})
    assert status == 200


# --- calls ------------------------------------------------------------------------------------


def put_call(aws: Aws, job: str, customer: str, created: str, **extra: Any) -> None:
    item = {
        "job_name": job,
        "customer_id": customer,
        "call_id": job.rsplit("-", 1)[-1],
        "status": "SCORED",
        "created_at": created,
        "updated_at": created,
        "probability": Decimal("0.61"),
        "risk_level": "high",
        "missing_features": ["Day Mins"],
        "excerpt": "I want to cancel",
        "transcript_uri": "s3://bucket/transcripts/x.json",
        "recording_uri": "s3://bucket/recordings/x.wav",
        **extra,
    }
    aws.dynamodb.Table(CALLS).put_item(Item=item)


def test_one_call_shows_status_and_score_and_nothing_from_the_transcript(
    api: Runtime, aws: Aws, context
) -> None:
    put_call(aws, "stack-C-1-call-1", "C-1", "2026-11-30T08:00:00.000Z")
    status, body, _ = call(context, "GET", "/v1/calls/stack-C-1-call-1")
    assert status == 200, body
    assert body["call_id"] == "stack-C-1-call-1" and body["customer_id"] == "C-1"
    assert body["status"] == "SCORED" and body["probability"] == 0.61 and body["risk_level"] == "high"
    assert not {"excerpt", "transcript_uri", "recording_uri"} & set(body)
    assert "cancel" not in json.dumps(body)
    status, body, _ = call(context, "GET", "/v1/calls/nope")
    assert (status, body) == (404, {"error": "no such call", "field": "call_id"})
    for bad in ("bad%20id", "b`d"):
        status, body, _ = call(context, "GET", f"/v1/calls/{bad}")
        assert status == 400 and body["field"] == "call_id", body
    status, body, _ = call(context, "GET", "/v1/customers/É`(/calls")
    assert status == 400 and body["field"] == "customer_id", body


def test_customer_calls_newest_first_across_pages_with_an_opaque_cursor(
    api: Runtime, aws: Aws, context
) -> None:
    for n in range(7):
        put_call(aws, f"stack-C-1-call-{n}", "C-1", f"2026-11-30T08:0{n}:00.000Z")
    put_call(aws, "stack-C-2-call-9", "C-2", "2026-11-30T09:00:00.000Z")
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        status, body, _ = call(context, "GET", "/v1/customers/C-1/calls", query=query)
        assert status == 200, body
        assert len(body["calls"]) <= 3
        seen += [c["call_id"] for c in body["calls"]]
        pages += 1
        cursor = body.get("next_cursor")
        if not cursor:
            break
        assert "C-1" not in cursor and "created_at" not in cursor  # opaque
    assert seen == [f"stack-C-1-call-{n}" for n in reversed(range(7))] and pages == 3
    status, body, _ = call(context, "GET", "/v1/customers/nobody/calls")
    assert (status, body) == (200, {"calls": [], "next_cursor": None})


def test_a_forged_or_foreign_cursor_is_400(api: Runtime, aws: Aws, context) -> None:
    foreign = encode_cursor({"job_name": "j", "customer_id": "C-2", "created_at": "2026"})
    for cursor in (foreign, "not-a-cursor", encode_cursor({"job_name": "j"})):
        status, body, _ = call(context, "GET", "/v1/customers/C-1/calls", query={"cursor": cursor})
        assert (status, body["field"]) == (400, "cursor"), body
    with pytest.raises(InvalidCursorError):
        decode_cursor("x" * 5000, "C-1")
    status, body, _ = call(context, "GET", "/v1/customers/C-1/calls", query={"limit": "0"})
    assert (status, body["field"]) == (400, "limit")
    status, body, _ = call(context, "GET", "/v1/customers/C-1/calls", query={"limt": "5"})  # a typo surfaces
    assert (status, body) == (400, {"error": "unknown query parameter", "field": "limt"})
    status, body, _ = call(context, "GET", "/v1/calls/x", query={"limit": "5"})
    assert (status, body["field"]) == (400, "limit")
    assert isinstance(CallsReader(None).by_customer_index, str)


def test_unknown_route_is_a_json_404(api: Runtime, context: Any) -> None:
    status, body, _ = call(context, "GET", "/v2/score")
    assert status == 404 and set(body) == {"error", "field"}


# --- the OpenAPI document ---------------------------------------------------------------------


def test_committed_openapi_document_matches_the_routes(api: Runtime) -> None:
    from score_api import openapi

    committed = (ROOT / "functions" / "score_api" / "openapi.json").read_text()
    assert committed == openapi.render(), (
        "functions/score_api/openapi.json is stale: python -m score_api.openapi > functions/score_api/openapi.json"
    )
    document = json.loads(committed)
    assert set(document["paths"]) == {"/v1/score", "/v1/calls/{call_id}", "/v1/customers/{customer_id}/calls"}
    for operations in document["paths"].values():
        for operation in operations.values():
            assert {"200", "400", "403", "429"} <= set(operation["responses"])
