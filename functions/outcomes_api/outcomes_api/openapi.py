"""The outcomes routes' OpenAPI document, generated from the routes and models.

``python -m outcomes_api.openapi > functions/outcomes_api/openapi.json`` rewrites the committed
copy; a test fails when the two differ.
"""

from __future__ import annotations

from churn_lambda import rest

from .handler import app

API = rest.ApiDocument(
    app,
    title="Churn outcomes API",
    description=(
        "What happened to each customer after an alert, on the same API Gateway stage as the scoring "
        "API (functions/score_api/openapi.json): SigV4 (or Cognito) and an API key, except the alert "
        "email's one-click links, whose signed token is their credential."
    ),
)
document, render = API.document, API.render

if __name__ == "__main__":
    API.write()
