"""The local gateway is configured by the deployment, not by resolving the template itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from churn_local.api_gateway import apis_of
from churn_local.spec import StackSpec

ROOT = Path(__file__).resolve().parents[3]


def _stack(functions: set[str], settings: dict[str, Any]) -> StackSpec:
    stack = StackSpec("us-east-1", "123456789012", "churn-local", {}, apis={"ScoreApi": settings})
    # Only membership matters to the gateway: which functions the deployment created.
    stack.functions = dict.fromkeys(functions)  # type: ignore[arg-type]
    return stack


def test_settings_come_from_the_deployment_and_routes_only_from_deployed_functions() -> None:
    settings = {
        "StageName": "v9",
        "GatewayResponses": {"THROTTLED": {"StatusCode": "429"}},
        "Auth": {
            "DefaultAuthorizer": "AWS_IAM",
            "ApiKeyRequired": True,
            "UsagePlan": {
                "Throttle": {"RateLimit": 3, "BurstLimit": 4},
                "Quota": {"Limit": 5, "Period": "DAY"},
            },
        },
    }
    api = apis_of(_stack({"ScoreApiFunction"}, settings), ROOT / "template.yaml")["ScoreApi"]
    # The values the deployment published, not the template's defaults (stage live, rate 10).
    assert (api.stage, api.authorizer, api.api_key_required) == ("v9", "AWS_IAM", True)
    assert (api.rate_per_s, api.burst, api.daily_quota) == (3.0, 4, 5)
    assert api.gateway_responses == {"THROTTLED": {"StatusCode": "429"}}
    # A function the deployment did not create (its condition false) has no routes.
    assert {r.function for r in api.routes} == {"ScoreApiFunction"}
    assert api.find("POST", "/v1/score") is not None
    assert api.find("GET", "/v1/customers/C-1/outcomes") is None
    both = apis_of(_stack({"ScoreApiFunction", "OutcomesApiFunction"}, settings), ROOT / "template.yaml")
    assert {r.function for r in both["ScoreApi"].routes} == {"ScoreApiFunction", "OutcomesApiFunction"}


def test_an_api_the_deployment_did_not_publish_is_not_served() -> None:
    stack = _stack({"ScoreApiFunction"}, {})
    stack.apis = {}
    assert apis_of(stack, ROOT / "template.yaml") == {}
