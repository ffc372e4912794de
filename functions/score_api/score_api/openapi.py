"""The API's OpenAPI document, generated from the routes and models.

``python -m score_api.openapi > functions/score_api/openapi.json`` rewrites the committed copy;
a test fails when the two differ.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

from .handler import app

TITLE = "Churn scoring API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Churn-risk scores on request, and the pipeline's calls. Behind Amazon API Gateway: every "
    "request is signed with AWS SigV4 (IAM; or a Cognito token where the stack enables it) and "
    "carries an API key in x-api-key; the usage plan limits rate, burst and daily quota."
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
    return _without_default_422(json.loads(schema))


def _without_default_422(doc: dict[str, Any]) -> dict[str, Any]:
    """Drop the resolver's stock 422 "Validation Error" answers: this API answers 400 for those
    (its own handler), and keeps 422 for the model refusing a record."""
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
