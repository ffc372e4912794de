"""The outcomes routes' OpenAPI document, generated from the routes and models.

``python -m outcomes_api.openapi > functions/outcomes_api/openapi.json`` rewrites the committed
copy; a test fails when the two differ.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from .handler import app

TITLE = "Churn outcomes API"
VERSION = "1.0.0"
DESCRIPTION = (
    "What happened to each customer after an alert, on the same API Gateway stage as the scoring "
    "API (functions/score_api/openapi.json): SigV4 (or Cognito) and an API key, except the alert "
    "email's one-click links, whose signed token is their credential."
)


def document() -> dict[str, Any]:
    schema = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={
            "api_key": APIKey(name="x-api-key", in_=APIKeyIn.header, description="The usage plan's API key"),
            "sigv4": APIKey(
                name="Authorization",
                in_=APIKeyIn.header,
                description="AWS Signature Version 4 (service execute-api), or a Cognito ID token",
            ),
        },
        security=[{"sigv4": [], "api_key": []}],
    )
    doc = json.loads(schema)
    # The resolver's stock 422 answers: this API answers 400 for those.
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            stock = responses.get("422", {}).get("content", {}).get("application/json", {}).get("schema", {})
            if stock.get("$ref", "").endswith("/HTTPValidationError"):
                del responses["422"]
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(doc.get("paths", {})):
            schemas.pop(name, None)
    return doc


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
