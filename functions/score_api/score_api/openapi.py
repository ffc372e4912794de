"""The API's OpenAPI document, generated from the routes and models.

``python -m score_api.openapi > functions/score_api/openapi.json`` rewrites the committed copy;
a test fails when the two differ.
"""

from __future__ import annotations

from churn_lambda import rest

from .handler import app

API = rest.ApiDocument(
    app,
    title="Churn scoring API",
    description=(
        "Churn-risk scores on request, and the pipeline's calls. Behind Amazon API Gateway: every "
        "request is signed with AWS SigV4 (IAM; or a Cognito token where the stack enables it) and "
        "carries an API key in x-api-key; the usage plan limits rate, burst and daily quota."
    ),
)
document, render = API.document, API.render

if __name__ == "__main__":
    API.write()
