"""schemathesis from the committed OpenAPI document, straight into the handler (REST proxy events,
moto behind): no generated request gets a 5xx or an undocumented status, and every JSON error is
the API's {"error", "field"}. (The gateway's own checks are the local stack's tests.)"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import ROOT
from tests.unit.outcomes.test_outcomes_api import Context

DOCUMENT = json.loads((ROOT / "functions" / "outcomes_api" / "openapi.json").read_text())
EXAMPLES = {"positive": 120, "negative": 160}


def proxy_event(case: Any) -> dict[str, Any]:
    params = {k: str(v) for k, v in (case.path_parameters or {}).items()}
    path = case.path
    for name, value in params.items():
        path = path.replace("{" + name + "}", quote(value, safe=""))
    body = None
    headers = {k: str(v) for k, v in (case.headers or {}).items()}
    if case.body is not None and not isinstance(case.body, type(None)):
        try:
            body = json.dumps(case.body)
        except (TypeError, ValueError):
            body = str(case.body)
        headers.setdefault("Content-Type", case.media_type or "application/json")
    query = {k: str(v) for k, v in (case.query or {}).items()} or None
    return {
        "resource": case.path,
        "path": path,
        "httpMethod": case.method.upper(),
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "requestId": "r",
            "stage": "live",
            "resourcePath": case.path,
            "httpMethod": case.method.upper(),
            "identity": {},
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.parametrize("mode", list(EXAMPLES))
def test_generated_requests_get_no_server_error_and_only_documented_answers(
    aws: dict[str, Any], mode: str
) -> None:
    # The dev environment has schemathesis; the functions' runtime venv (.venv-fn313) does not.
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from outcomes_api import handler
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_dict(DOCUMENT)
    seen: Counter[int] = Counter()

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=schema.as_strategy(generation_mode=GenerationMode(mode)))
    def run(case: Any) -> None:
        answer = handler.lambda_handler(proxy_event(case), Context())
        status = int(answer["statusCode"])
        seen[status] += 1
        assert status < 500 or status == 503, (case.method, case.path, answer)
        documented = DOCUMENT["paths"][case.path][case.method.lower()]["responses"]
        assert str(status) in documented, (case.method, case.path, status, answer["body"][:200])
        content_type = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}.get(
            "content-type", ""
        )
        if status >= 400 and content_type.startswith("application/json"):
            body = json.loads(answer["body"])
            assert set(body) == {"error", "field"} and isinstance(body["error"], str) and body["error"]

    run()
    assert not [s for s in seen if s >= 500]
    print(f"\nschemathesis ({mode}): {sum(seen.values())} requests, statuses {dict(sorted(seen.items()))}")
