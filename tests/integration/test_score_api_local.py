"""The scoring API through the local stack: local API Gateway -> the real handler in its worker ->
moto tables and the local model server (the tiny model). Tested the way API people test it:
schemathesis from the committed OpenAPI document, and the gateway's auth and throttling."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from churn_contracts.profile import record_to_item

pytestmark = [pytest.mark.local, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "functions" / "score_api" / "openapi.json"
REGION = "us-east-1"
# schemathesis must not be throttled: the usage plan is raised for this stack (from the template's
# parameters, as a deploy would); the throttling test builds a gateway with the defaults.
FAST_PLAN = {"ApiThrottleRate": "100000", "ApiThrottleBurst": "100000", "ApiDailyQuota": "1000000"}
GOLD = {"plan": "gold", "limit": "unlimited", "State": "OH", "Account Length": 128, "CustServ Calls": 4}


class SigV4(requests.auth.AuthBase):
    """Sign a request for API Gateway (service execute-api) with the local credentials."""

    def __init__(self, access_key: str = "testing", secret_key: str = "testing") -> None:
        self.credentials = BotoCredentials(access_key, secret_key)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        signed = AWSRequest(
            method=request.method,
            url=request.url,
            data=body.encode() if isinstance(body, str) else body,
            headers={k: v for k, v in request.headers.items() if k.lower() in ("content-type", "x-api-key")},
        )
        SigV4Auth(self.credentials, "execute-api", REGION).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date"):
            request.headers[name] = signed.headers[name]
        return request


@pytest.fixture(scope="module")
def model_url(tiny_model_dir: Path) -> Iterator[str]:
    from churn_model.serving.server import LocalEndpointServer

    with LocalEndpointServer(tiny_model_dir, host="127.0.0.1", port=0) as server:
        yield server.url


@pytest.fixture(scope="module")
def stack(model_url: str) -> Iterator[Any]:
    from churn_local.stack import LocalStack

    with LocalStack(
        ROOT / "template.yaml",
        parameters=FAST_PLAN,
        sagemaker_runtime_url=model_url,
        transcribe=False,
        log_sink=lambda function, line: None,
    ) as stack:
        seed(stack)
        yield stack


def seed(stack: Any) -> None:
    tables = {t.logical_id: t.name for t in stack.spec.tables}
    stack.table(tables["ProfilesTable"]).put_item(Item=record_to_item("C-1", GOLD))
    calls = stack.table(tables["CallsTable"])
    for n in range(5):
        calls.put_item(
            Item={
                "job_name": f"churn-local-C-1-call-{n}",
                "customer_id": "C-1",
                "call_id": f"call-{n}",
                "status": "SCORED",
                "created_at": f"2026-11-30T08:0{n}:00.000Z",
                "updated_at": f"2026-11-30T08:0{n}:00.000Z",
                "probability": Decimal("0.5"),
                "risk_level": "high",
                "excerpt": "I want to cancel",
            }
        )


@pytest.fixture(scope="module")
def api(stack: Any) -> Any:
    return stack.apis["ScoreApi"]


def call(api: Any, method: str, path: str, *, key: str | None = None, sign: bool = True, **kwargs: Any):
    headers = {"x-api-key": key if key is not None else api.api_key}
    if key == "":
        headers = {}
    return requests.request(
        method, api.url + path, headers=headers, auth=SigV4() if sign else None, timeout=30, **kwargs
    )


def test_a_signed_request_with_the_key_is_scored_by_the_model(api: Any) -> None:
    response = call(
        api, "POST", "/v1/score", json={"customer_id": "C-1", "text": "I want to cancel my contract"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0.0 <= body["probability"] <= 1.0 and body["risk_level"] in {"low", "medium", "high"}
    assert body["profile_found"] is True and body["model_version"]
    # The stored profile's "gold" plan is not one the tiny model was trained on (A-E): listed.
    assert body["unknown_categories"]["plan"] == "gold"
    page = call(api, "GET", "/v1/customers/C-1/calls", params={"limit": 2})
    assert page.status_code == 200 and [c["call_id"] for c in page.json()["calls"]] == [
        "churn-local-C-1-call-4",
        "churn-local-C-1-call-3",
    ]
    one = call(api, "GET", "/v1/calls/churn-local-C-1-call-0")
    assert one.status_code == 200 and "excerpt" not in one.json()


def test_no_key_and_a_wrong_key_are_403(api: Any) -> None:
    for key in ("", "not-the-key"):
        response = call(api, "POST", "/v1/score", key=key, json={"customer_id": "C-1", "text": "hello"})
        assert response.status_code == 403, response.text
        assert response.json() == {"error": "missing or invalid API key", "field": "x-api-key"}


def test_unsigned_and_badly_signed_requests_are_403(api: Any) -> None:
    response = call(api, "GET", "/v1/calls/churn-local-C-1-call-0", sign=False)
    assert response.status_code == 403 and set(response.json()) == {"error", "field"}
    response = requests.get(
        api.url + "/v1/calls/churn-local-C-1-call-0",
        headers={"x-api-key": api.api_key},
        auth=SigV4(secret_key="wrong"),
        timeout=30,
    )
    assert response.status_code == 403 and response.json()["field"] == "Authorization"


def test_unknown_routes_answer_like_api_gateway(api: Any) -> None:
    response = call(api, "GET", "/v2/score")
    assert response.status_code == 403 and set(response.json()) == {"error", "field"}


def test_over_the_rate_limit_is_429_then_the_bucket_refills(stack: Any) -> None:
    from churn_local.api_gateway import LocalApiGateway, invoke_through, read_apis

    # The template's own usage plan (defaults), on the same warm function.
    spec = read_apis(ROOT / "template.yaml")["ScoreApi"]
    assert (spec.rate_per_s, spec.burst, spec.daily_quota) == (10.0, 20, 10000)
    processes = {name: invoker.process for name, invoker in stack.invokers.items()}
    with LocalApiGateway(spec, invoke_through(processes), api_key="k", credentials=None) as gateway:
        # Three buckets' worth at once (sequential requests could not outrun 10 a second here). The
        # bucket starts full, so the whole burst passes; beyond it only what refilled meanwhile.
        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=3 * spec.burst) as pool:
            responses = list(
                pool.map(
                    lambda _: call(gateway, "GET", "/v1/calls/nope", key="k", sign=False),
                    range(3 * spec.burst),
                )
            )
        elapsed = time.monotonic() - began
        statuses = Counter(response.status_code for response in responses)
        assert spec.burst <= statuses[404] <= spec.burst + spec.rate_per_s * elapsed + 1, (statuses, elapsed)
        assert statuses[429] >= 1, statuses
        assert set(statuses) == {404, 429}
        throttled = next(r for r in responses if r.status_code == 429)
        assert throttled.json() == {"error": "too many requests: over the usage plan rate", "field": None}
        time.sleep(0.3)  # 10 requests a second: 3 tokens back
        assert call(gateway, "GET", "/v1/calls/nope", key="k", sign=False).status_code == 404
    quota = dataclasses.replace(spec, daily_quota=3, rate_per_s=None)
    with LocalApiGateway(quota, invoke_through(processes), api_key="k", credentials=None) as gateway:
        statuses = [call(gateway, "GET", "/v1/calls/nope", key="k", sign=False).status_code for _ in range(5)]
        assert statuses == [404, 404, 404, 429, 429]


SCHEMATHESIS_EXAMPLES = {"positive": 450, "negative": 650}


@pytest.mark.parametrize("mode", list(SCHEMATHESIS_EXAMPLES))
def test_schemathesis_generated_requests_get_no_server_error_and_conform(api: Any, mode: str) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode

    # The document as clients get it, security included: schemathesis then knows a 401/403 is a
    # protected operation refusing, and runs its auth checks (a request without the key must fail).
    schema = schemathesis.openapi.from_dict(json.loads(OPENAPI.read_text()))

    from schemathesis.core.parameters import ParameterLocation

    def broken_headers(case: Any) -> bool:
        """A negative case whose headers are the invalid part (a missing or bad key or signature):
        sent as generated, so the gateway's refusal is what is checked."""
        return case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER)

    @schema.auth()
    class ApiKey:
        """The usage plan's key in x-api-key, on every other generated request (the security scheme)."""

        def get(self, case: Any, ctx: Any) -> str | None:
            return None if broken_headers(case) else api.api_key

        def set(self, case: Any, data: str, ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "x-api-key": data}

    # SigV4 is computed over the final request, so it is a requests auth hook, applied last.
    signed, unsigned = requests.Session(), requests.Session()
    signed.auth = SigV4()
    sent: Counter[int] = Counter()

    @settings(
        max_examples=SCHEMATHESIS_EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case: Any) -> None:
        if mode == "positive" and case.query and "cursor" in case.query:
            # An opaque page token: only one the API issued is valid, which no schema can say, so
            # generated ones are refused (400, "cursor is not one this API issued") by design.
            case.query = {name: value for name, value in case.query.items() if name != "cursor"}
        session = unsigned if broken_headers(case) else signed
        response = case.call(base_url=api.url, session=session, timeout=30)
        sent[response.status_code] += 1
        case.validate_response(response)  # every check schemathesis has

    run()
    total = sum(sent.values())
    print(f"\nschemathesis ({mode}): {total} requests, statuses {dict(sorted(sent.items()))}")
    assert not [status for status in sent if status >= 500]
    assert total >= SCHEMATHESIS_EXAMPLES[mode] * 0.9
