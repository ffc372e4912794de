"""OutcomesApiFunction: Powertools' REST resolver with data validation, routes under /v1.

- ``POST /v1/customers/{customer_id}/outcomes`` and ``GET`` (the history): IAM or Cognito and
  the API key, like the rest of /v1.
- ``GET /v1/outcome-links/{token}``: the alert email's one-click link. It only shows what the
  link will record and a button: mail scanners fetch every link in a message, so a GET records
  nothing. ``POST`` to the same address records it, once. These two routes carry no key or
  signature (a team with only email has neither): the token is the credential, signed with the
  stack's KMS HMAC key.

Every client error is a 4xx JSON ``{"error", "field"}``.
"""

# No ``from __future__ import annotations``: the resolver reads annotations at run time.
import html
import re
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from churn_contracts.outcomes import MAX_TOKEN_CHARS, LinkError, OutcomeError
from churn_lambda import rest
from churn_lambda.rest import ApiError

from . import adapters, domain
from .adapters import KmsMacVerifier, LinkUsedError, OutcomeStore
from .config import Settings, load_settings
from .models import (
    ID_PATTERN,
    MAX_ID_CHARS,
    ErrorBody,
    OutcomeAnswer,
    OutcomeHistory,
    OutcomeRecord,
    OutcomeRequest,
)
from .observability import logger, metrics, tracer

MAX_BODY_BYTES = 16 * 1024
FIELD_NAMES = frozenset({*OutcomeRequest.model_fields, "customer_id", "token"})
HTML = "text/html; charset=utf-8"


@cache
def settings() -> Settings:
    return load_settings()


@cache
def store() -> OutcomeStore:
    return OutcomeStore(adapters.client("dynamodb"), settings().outcomes_table)


@cache
def verifier() -> KmsMacVerifier:
    return KmsMacVerifier(adapters.client("kms"), settings().link_key_id)


def reset() -> None:
    for cached in (settings, store, verifier):
        cached.cache_clear()
    adapters.reset()


def now() -> datetime:
    return datetime.now(UTC)


DESCRIPTIONS = {
    400: "Invalid request: wrong types, missing or unknown fields",
    403: "Missing or invalid API key or credentials (API Gateway); for a link: altered or not ours",
    404: "Not found",
    409: "This link was already used; nothing was recorded",
    410: "This link has expired; nothing was recorded",
    413: "Request body too large",
    415: "Not a JSON body, or not Content-Type application/json",
    429: "Over the usage plan's rate or quota (API Gateway)",
    503: "The outcome store or the link key is busy; nothing was recorded, try again",
}


def _responses(
    ok: str, *statuses: int, ok_status: int = 200, html_ok: bool = False
) -> dict[int, dict[str, Any]]:
    content = {"text/html": {"schema": {"type": "string"}}} if html_ok else None
    return rest.documented_responses(
        ok, statuses, DESCRIPTIONS, ErrorBody, ok_status=ok_status, ok_content=content
    )


app = APIGatewayRestResolver(enable_validation=True)


@app.exception_handler(ClientError)
def _aws_error(exc: ClientError) -> Response:
    # DynamoDB or KMS refused or throttled after botocore's retries: nothing was recorded (the
    # link's marker and outcome are one transaction), so the caller may simply try again.
    metrics.add_metric(name="OutcomesUnavailable", unit=MetricUnit.Count, value=1)
    logger.warning("AWS error", extra={"code": exc.response.get("Error", {}).get("Code")})
    return rest.error_response(
        HTTPStatus.SERVICE_UNAVAILABLE,
        "the outcome store is busy; nothing was recorded, try again",
        headers={"Retry-After": "2"},
    )


_MALFORMED_IDS = ((re.compile(r"^/v1/customers/[^/]+/outcomes$"), "customer_id"),)
rest.install_error_handlers(app, field_names=FIELD_NAMES, malformed_ids=_MALFORMED_IDS)


CustomerIdPath = Annotated[str, Path(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID_CHARS)]
TokenPath = Annotated[
    str, Path(pattern=r"^[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+$", min_length=3, max_length=MAX_TOKEN_CHARS)
]


@app.post(
    "/v1/customers/<customer_id>/outcomes",
    summary="Record what happened to a customer",
    description="Idempotent: the same customer, outcome, date and call recorded again answers 200 with "
    "the stored record and created false.",
    operation_id="recordOutcome",
    tags=["outcomes"],
    responses={
        **_responses("Already recorded: the stored outcome, created false", 400, 403, 413, 415, 429, 503),
        201: {"description": "Recorded", "content": {"application/json": {"model": OutcomeAnswer}}},
    },
)
@tracer.capture_method(capture_response=False)
def post_outcome(customer_id: CustomerIdPath, request: OutcomeRequest) -> Response[OutcomeAnswer]:
    fields = request.model_dump(exclude_none=True)
    try:
        recorded = domain.record(customer_id, fields, store(), now())
    except OutcomeError as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, exc.message, exc.field) from None
    metrics.add_metric(
        name="OutcomesRecorded" if recorded.created else "OutcomesDuplicate", unit=MetricUnit.Count, value=1
    )
    logger.info("Outcome", extra={"outcome": recorded.outcome["outcome"], "new_record": recorded.created})
    answer = OutcomeAnswer(outcome=OutcomeRecord(**recorded.outcome), created=recorded.created)
    return Response(
        status_code=HTTPStatus.CREATED if recorded.created else HTTPStatus.OK,
        content_type=content_types.APPLICATION_JSON,
        body=answer.model_dump(mode="json", exclude_none=True),
    )


@app.get(
    "/v1/customers/<customer_id>/outcomes",
    summary="A customer's outcomes, oldest first",
    operation_id="listOutcomes",
    tags=["outcomes"],
    responses=_responses("The customer's outcomes", 400, 403, 429, 503),
)
@tracer.capture_method(capture_response=False)
def list_outcomes(customer_id: CustomerIdPath) -> OutcomeHistory:
    return OutcomeHistory(outcomes=[OutcomeRecord(**item) for item in domain.history(customer_id, store())])


def _page(title: str, body: str, status: int = 200) -> Response:
    text = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='robots' content='noindex'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(
        status_code=status,
        content_type=HTML,
        body=text,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"},
    )


def _claim_error(exc: LinkError) -> ApiError:
    metrics.add_metric(name="OutcomeLinksRefused", unit=MetricUnit.Count, value=1)
    return ApiError(exc.status, exc.message, "token")


@app.get(
    "/v1/outcome-links/<token>",
    summary="An alert email's one-click outcome link: what it records, and the button that does it",
    description="Records nothing (mail scanners open links): the page's button POSTs to the same address.",
    operation_id="showOutcomeLink",
    tags=["outcome links"],
    security=[{}],
    responses=_responses("The confirmation page", 400, 403, 410, 503, html_ok=True),
)
def show_link(token: TokenPath) -> Response[str]:
    try:
        claim = domain.check_link(token, verifier(), now())
    except LinkError as exc:
        raise _claim_error(exc) from None
    words = {
        "contacted": "we contacted the customer",
        "saved": "the customer stays",
        "lost": "the customer left",
    }
    return _page(
        f"Record: {words[claim.button]}",
        "<form method='post'><button type='submit'>Record it</button></form>",
    )


@app.post(
    "/v1/outcome-links/<token>",
    summary="Use a one-click outcome link: record its outcome, once",
    description="Single use: a link used before answers 409 and records nothing; an expired link 410; "
    "an altered one 403.",
    operation_id="useOutcomeLink",
    tags=["outcome links"],
    security=[{}],
    responses=_responses("Recorded", 400, 403, 409, 410, 503, html_ok=True),
)
@tracer.capture_method(capture_response=False)
def use_link(token: TokenPath) -> Response[str]:
    try:
        _, recorded = domain.use_link(token, verifier(), store(), now())
    except LinkError as exc:
        raise _claim_error(exc) from None
    except LinkUsedError:
        metrics.add_metric(name="OutcomeLinksReplayed", unit=MetricUnit.Count, value=1)
        raise ApiError(
            HTTPStatus.CONFLICT, "this link was already used; nothing was recorded", "token"
        ) from None
    metrics.add_metric(name="OutcomeLinksUsed", unit=MetricUnit.Count, value=1)
    logger.info(
        "Outcome link used", extra={"outcome": recorded.outcome["outcome"], "new_record": recorded.created}
    )
    return _page(
        "Recorded, thank you",
        f"<p>{html.escape(recorded.outcome['outcome'])} on {recorded.outcome['date']}</p>",
    )


def precheck(event: dict[str, Any]) -> dict[str, Any] | None:
    """Unknown query parameters (400; no route here takes one), oversized or non-JSON bodies
    (413, 415), before parsing. A link's POST comes from an HTML form: its (empty) body is
    ignored, whatever its type."""
    path = str(event.get("path") or "")
    posted = str(event.get("httpMethod", "")).upper() == "POST"
    return rest.precheck(
        event,
        query_names=(),
        max_body_bytes=MAX_BODY_BYTES,
        check_body=posted and not path.startswith("/v1/outcome-links/"),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return precheck(event) or app.resolve(event, context)
