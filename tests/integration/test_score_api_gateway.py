"""The local API Gateway's parts, without a stack: configuration from template.yaml, SigV4 checks,
the usage plan's token bucket and quota, gateway responses and the proxy events it builds."""

from __future__ import annotations

import functools
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from churn_local.api_gateway import (
    ApiSpec,
    Credentials,
    LocalApiGateway,
    SignatureError,
    TokenBucket,
    UsagePlan,
    proxy_reply,
    read_apis,
    verify_sigv4,
)

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
LOCAL = Credentials("testing", "testing")


def signed(method: str, url: str, body: bytes = b"", *, secret: str = "testing", region: str = "us-east-1"):
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(BotoCredentials("testing", secret), "execute-api", region).add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = url.split("/")[2]
    return headers


@functools.cache
def _apis(parameters: tuple[tuple[str, str], ...] = ()) -> dict[str, ApiSpec]:
    # One throwaway deployment per set of parameters (each takes seconds), shared by the tests.
    return read_apis(TEMPLATE, dict(parameters) or None)


def apis(parameters: dict[str, str] | None = None) -> dict[str, ApiSpec]:
    return _apis(tuple(sorted((parameters or {}).items())))


def test_the_api_is_read_from_the_template_with_parameter_overrides() -> None:
    spec = apis()["ScoreApi"]
    assert (spec.stage, spec.authorizer, spec.api_key_required) == ("live", "AWS_IAM", True)
    assert (spec.rate_per_s, spec.burst, spec.daily_quota) == (10.0, 20, 10000)
    assert {(r.method, r.resource, r.function) for r in spec.routes} == {
        ("POST", "/v1/score", "ScoreApiFunction"),
        ("GET", "/v1/calls/{call_id}", "ScoreApiFunction"),
        ("GET", "/v1/customers/{customer_id}/calls", "ScoreApiFunction"),
        ("POST", "/v1/customers/{customer_id}/outcomes", "OutcomesApiFunction"),
        ("GET", "/v1/customers/{customer_id}/outcomes", "OutcomesApiFunction"),
        ("GET", "/v1/outcome-links/{token}", "OutcomesApiFunction"),
        ("POST", "/v1/outcome-links/{token}", "OutcomesApiFunction"),
    }
    # An event's own Auth overrides the API's: only the signed one-click links go without a key.
    open_routes = {(r.method, r.resource) for r in spec.routes if r.authorizer == "NONE"}
    assert open_routes == {("GET", "/v1/outcome-links/{token}"), ("POST", "/v1/outcome-links/{token}")}
    assert all(r.api_key_required is False for r in spec.routes if r.authorizer == "NONE")
    assert spec.find("GET", "/v1/customers/C%2D1/calls")[1] == {"customer_id": "C-1"}
    assert spec.find("DELETE", "/v1/calls/x") is None and spec.find("GET", "/v1/calls/a/b") is None
    custom = apis({"ApiThrottleRate": "2", "ApiThrottleBurst": "3", "ApiAuthorizer": "CognitoAuthorizer"})
    spec = custom["ScoreApi"]
    assert (spec.rate_per_s, spec.burst, spec.authorizer) == (2.0, 3, "CognitoAuthorizer")


def test_sigv4_signed_by_botocore_is_accepted_and_any_change_refused() -> None:
    url = "http://127.0.0.1:5000/live/v1/score?x=1"
    body = b'{"text": "hello"}'
    headers = signed("POST", url, body)
    assert verify_sigv4("POST", "/live/v1/score?x=1", headers, body, LOCAL, "us-east-1") == "testing"
    refusals = {
        "body": ("POST", "/live/v1/score?x=1", headers, b'{"text": "hellO"}', "us-east-1"),
        "path": ("POST", "/live/v1/scores?x=1", headers, body, "us-east-1"),
        "query": ("POST", "/live/v1/score?x=2", headers, body, "us-east-1"),
        "method": ("PUT", "/live/v1/score?x=1", headers, body, "us-east-1"),
        "region": ("POST", "/live/v1/score?x=1", headers, body, "eu-west-1"),
        "secret": ("POST", "/live/v1/score?x=1", signed("POST", url, body, secret="nope"), body, "us-east-1"),
        "unsigned": ("POST", "/live/v1/score?x=1", {"Host": "127.0.0.1:5000"}, body, "us-east-1"),
    }
    for what, (method, path, request_headers, request_body, region) in refusals.items():
        with pytest.raises(SignatureError) as refused:
            verify_sigv4(method, path, request_headers, request_body, LOCAL, region)
        expected = "MISSING_AUTHENTICATION_TOKEN" if what == "unsigned" else "INVALID_SIGNATURE"
        assert refused.value.response_type == expected, what
    later = time.time() + timedelta(minutes=16).total_seconds()
    with pytest.raises(SignatureError) as expired:
        verify_sigv4("POST", "/live/v1/score?x=1", headers, body, LOCAL, "us-east-1", now=later)
    assert expired.value.response_type == "EXPIRED_TOKEN"


def test_token_bucket_allows_the_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.1  # one token back at 10 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 10
    assert sum(bucket.take() for _ in range(10)) == 3  # never more than the burst


def test_usage_plan_counts_each_key_apart_and_enforces_the_daily_quota() -> None:
    spec = apis({"ApiDailyQuota": "2", "ApiThrottleRate": "1000", "ApiThrottleBurst": "1000"})
    plan = UsagePlan(spec["ScoreApi"])
    assert [plan.admit("a"), plan.admit("a"), plan.admit("a")] == [None, None, "QUOTA_EXCEEDED"]
    assert plan.admit("b") is None


def gateway(invoke: Any = None, **parameters: str) -> LocalApiGateway:
    spec = apis(parameters)["ScoreApi"]
    return LocalApiGateway(spec, invoke or (lambda function, event: {}), api_key="key", credentials=LOCAL)


def test_gateway_responses_take_the_templates_error_shape() -> None:
    gw = gateway()
    for kind, status in (
        ("INVALID_API_KEY", 403),
        ("MISSING_AUTHENTICATION_TOKEN", 403),
        ("INVALID_SIGNATURE", 403),
        ("THROTTLED", 429),
        ("QUOTA_EXCEEDED", 429),
        ("INTEGRATION_FAILURE", 502),
        ("INTEGRATION_TIMEOUT", 504),
    ):
        reply = gw.gateway_response(kind, "req-1")
        body = json.loads(reply.body)
        assert reply.status == status and set(body) == {"error", "field"}, kind
        assert reply.headers["Content-Type"] == "application/json"


def test_a_request_passes_the_checks_in_order_and_becomes_a_rest_proxy_event() -> None:
    events: list[dict[str, Any]] = []

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"ok": true}'}

    gw = gateway(invoke, ApiThrottleRate="1000", ApiThrottleBurst="1000")
    url = "http://127.0.0.1:5000/live/v1/customers/C-1/calls?limit=2&limit=3"
    headers = {**signed("GET", url), "x-api-key": "key"}
    reply = gw.handle("GET", "/live/v1/customers/C-1/calls?limit=2&limit=3", headers, b"", "127.0.0.9")
    assert (reply.status, reply.body) == (200, b'{"ok": true}')
    (event,) = events
    assert (
        event["resource"] == "/v1/customers/{customer_id}/calls"
        and event["path"] == "/v1/customers/C-1/calls"
    )
    assert event["pathParameters"] == {"customer_id": "C-1"}
    assert event["queryStringParameters"] == {"limit": "3"}
    assert event["multiValueQueryStringParameters"] == {"limit": ["2", "3"]}
    context = event["requestContext"]
    assert context["stage"] == "live" and context["resourcePath"] == event["resource"]
    assert context["identity"]["sourceIp"] == "127.0.0.9" and context["identity"]["caller"] == "testing"
    assert context["identity"]["apiKey"] == "key" and event["body"] is None
    # Unsigned: refused before the key is even looked at; no key: 403; unknown route: 403.
    assert gw.handle("GET", "/live/v1/calls/x", {"x-api-key": "key"}, b"", "ip").status == 403
    no_key = {k: v for k, v in signed("GET", "http://127.0.0.1:5000/live/v1/calls/x").items()}
    reply = gw.handle("GET", "/live/v1/calls/x", no_key, b"", "ip")
    assert reply.status == 403 and json.loads(reply.body)["field"] == "x-api-key"
    assert gw.handle("GET", "/v1/calls/x", headers, b"", "ip").status == 403  # no stage prefix
    assert len(events) == 1


def test_proxy_replies_map_to_http_and_malformed_ones_are_502() -> None:
    reply = proxy_reply(
        {
            "statusCode": 503,
            "headers": {"Retry-After": "5"},
            "multiValueHeaders": {"X-A": ["1", "2"]},
            "body": "{}",
        }
    )
    assert reply is not None and reply.status == 503 and reply.headers == {"Retry-After": "5", "X-A": "1, 2"}
    assert proxy_reply({"body": "no status"}) is None and proxy_reply("not a dict") is None
    gw = gateway(
        lambda function, event: {"body": "no status"}, ApiThrottleRate="1000", ApiThrottleBurst="1000"
    )
    url = "http://127.0.0.1:5000/live/v1/calls/x"
    reply = gw.handle("GET", "/live/v1/calls/x", {**signed("GET", url), "x-api-key": "key"}, b"", "ip")
    assert reply.status == 502 and json.loads(reply.body) == {"error": "internal error", "field": None}


def test_signature_dates_are_utc_basic_format() -> None:
    # What X-Amz-Date looks like, so a curl or SDK signature parses (and a malformed one is refused).
    headers = signed("GET", "http://127.0.0.1:5000/live/v1/calls/x")
    assert datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    headers["X-Amz-Date"] = "yesterday"
    with pytest.raises(SignatureError):
        verify_sigv4("GET", "/live/v1/calls/x", headers, b"", LOCAL, "us-east-1")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "BREW"])
def test_methods_no_rest_api_has_get_a_json_405_not_an_html_page(method: str) -> None:
    import http.client

    with gateway() as gw:
        host, port = gw.url.split("/")[2].split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request(method, "/live/v1/score", body=b"{}", headers={"Content-Type": "application/json"})
        reply = connection.getresponse()
        body = reply.read()
        # The connection stays usable: the next request on it is answered too.
        connection.request("GET", "/live/v1/nowhere")
        follow = connection.getresponse()
        follow.read()
        connection.close()
    assert reply.status == 405 and reply.getheader("Content-Type") == "application/json"
    assert json.loads(body) == {"error": f"method {method} is not allowed", "field": None}
    assert "POST" in reply.getheader("Allow") and "TRACE" not in reply.getheader("Allow")
    assert follow.status == 403
