"""ScoreApiFunction: Powertools' REST resolver with data validation; routes under /v1.

The handler is thin: validate (pydantic, via the resolver), call the domain, shape the answer.
Every client error is a 4xx JSON ``{"error", "field"}``; nothing a caller sends gets a 5xx.
"""

# No ``from __future__ import annotations`` here or in models.py: the resolver reads the route
# functions' annotations at run time to validate and to write the OpenAPI document.
import re
import time
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_contracts.endpoint import RequestError
from churn_contracts.features import PROFILE_FEATURES
from churn_lambda import rest
from churn_lambda.rest import ApiError

from . import domain
from .adapters import clients
from .adapters.calls import CallsReader
from .adapters.endpoint import EndpointScorer
from .adapters.profiles import ProfileStore
from .config import Settings, load_settings
from .models import ID_PATTERN, MAX_ID_CHARS, CallsPage, ErrorBody, ScoreRequest, ScoreResponse
from .models import Call as CallModel
from .observability import logger, metrics, tracer

# A body past this is refused before it is parsed (the text limit itself is far below it:
# texts past MAX_TEXT_CHARS are shortened, not refused).
MAX_BODY_BYTES = 256 * 1024
FIELD_NAMES = frozenset(
    {*ScoreRequest.model_fields, *PROFILE_FEATURES, "call_id", "customer_id", "limit", "cursor"}
)


@cache
def settings() -> Settings:
    return load_settings()


@cache
def profiles() -> ProfileStore:
    return ProfileStore(clients.table(settings().profiles_table))


@cache
def calls() -> CallsReader:
    return CallsReader(clients.table(settings().calls_table), settings().calls_by_customer_index)


@cache
def scorer() -> EndpointScorer:
    return EndpointScorer(clients.client("sagemaker-runtime"), settings().endpoint_name)


def reset() -> None:
    """Drop cached settings and clients (tests change the environment between cases)."""
    for cached in (settings, profiles, calls, scorer):
        cached.cache_clear()
    clients.reset()


DESCRIPTIONS = {
    400: "Invalid request: wrong types, missing or unknown fields",
    403: "Missing or invalid API key or credentials (API Gateway)",
    404: "Not found",
    413: "Request body too large",
    415: "Not a JSON body, or not Content-Type application/json",
    422: "The model refused the record",
    429: "Over the usage plan's rate or quota (API Gateway)",
    503: "The scoring endpoint is busy or unavailable; retry after Retry-After seconds",
}


def _responses(ok: str, *statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI responses: 200 (from the return type) and the error statuses a route can answer,
    the gateway's own 403 and 429 included."""
    return rest.documented_responses(
        ok, statuses, DESCRIPTIONS, ErrorBody, retry_after=(HTTPStatus.SERVICE_UNAVAILABLE,)
    )


app = APIGatewayRestResolver(enable_validation=True)
# A route's shape with an id the router cannot take (characters no id has): the id is at fault.
_MALFORMED_IDS = (
    (re.compile(r"^/v1/calls/[^/]+$"), "call_id"),
    (re.compile(r"^/v1/customers/[^/]+/calls$"), "customer_id"),
)
rest.install_error_handlers(app, field_names=FIELD_NAMES, malformed_ids=_MALFORMED_IDS)


@app.post(
    "/v1/score",
    summary="Score a customer's churn risk from a profile (or a stored one) and text",
    description="Stores nothing and never alerts. Returns the stack's risk level for the probability.",
    operation_id="score",
    tags=["scores"],
    responses=_responses("The score", 400, 403, 404, 413, 415, 422, 429, 503),
)
@tracer.capture_method(capture_response=False)
def post_score(request: ScoreRequest) -> ScoreResponse:
    config = settings()
    query = domain.ScoreQuery(
        text=request.text,
        profile=request.profile_record(),
        customer_id=request.customer_id,
        allow_missing_profile=request.allow_missing_profile,
        explain=request.explain,
    )
    started = time.perf_counter()
    try:
        answer = domain.score(
            query,
            config.thresholds,
            profiles(),
            scorer(),
        )
    except domain.UnknownCustomerError:
        raise ApiError(HTTPStatus.NOT_FOUND, "no profile for this customer", "customer_id") from None
    except RequestError as exc:
        raise ApiError(exc.status, exc.message) from None
    except domain.ModelRejectedError as exc:
        metrics.add_metric(name="ApiModelRejected", unit=MetricUnit.Count, value=1)
        raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, str(exc)) from None
    except domain.EndpointUnavailableError:
        metrics.add_metric(name="ApiEndpointUnavailable", unit=MetricUnit.Count, value=1)
        raise ApiError(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "the scoring endpoint is busy; retry later",
            headers={"Retry-After": str(config.retry_after_s)},
        ) from None
    metrics.add_metric(name="ApiScores", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="ApiScoringLatency", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    # Numbers, flags and feature names only: never the text or the profile's values.
    logger.info(
        "Scored",
        extra={
            "risk_level": answer.risk_level,
            "profile_found": answer.profile_found,
            "text_truncated": answer.text_truncated,
            "unknown_categories": sorted(answer.unknown_categories or ()),
        },
    )
    return ScoreResponse(**answer.__dict__)


CallIdPath = Annotated[str, Path(pattern=ID_PATTERN, min_length=1, max_length=200)]
CustomerIdPath = Annotated[str, Path(pattern=ID_PATTERN, min_length=1, max_length=MAX_ID_CHARS)]


@app.get(
    "/v1/calls/<call_id>",
    summary="One call's status and score",
    description="The call id is the call's key, as listed by GET /v1/customers/{customer_id}/calls.",
    operation_id="getCall",
    tags=["calls"],
    responses=_responses("The call", 400, 403, 404, 429),
)
@tracer.capture_method(capture_response=False)
def get_call(call_id: CallIdPath) -> CallModel:
    try:
        return CallModel(**domain.get_call(call_id, calls()))
    except domain.CallNotFoundError:
        raise ApiError(HTTPStatus.NOT_FOUND, "no such call", "call_id") from None


@app.get(
    "/v1/customers/<customer_id>/calls",
    summary="A customer's calls, newest first",
    description="Paginated: pass the answer's next_cursor as cursor; no next_cursor means the last page.",
    operation_id="listCustomerCalls",
    tags=["calls"],
    responses=_responses("A page of calls", 400, 403, 429),
)
@tracer.capture_method(capture_response=False)
def list_customer_calls(
    customer_id: CustomerIdPath,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(min_length=1, max_length=2048)] = None,
) -> CallsPage:
    try:
        page = domain.customer_calls(customer_id, limit, cursor, calls())
    except domain.InvalidCursorError as exc:
        raise ApiError(HTTPStatus.BAD_REQUEST, str(exc), "cursor") from None
    return CallsPage(calls=[CallModel(**call) for call in page.calls], next_cursor=page.next_cursor)


def _query_names(path: str) -> frozenset[str]:
    return frozenset({"limit", "cursor"}) if path.startswith("/v1/customers/") else frozenset()


def precheck(event: dict[str, Any]) -> dict[str, Any] | None:
    """Refuse unknown query parameters (400), oversized and non-JSON bodies (413, 415) before
    anything parses them."""
    return rest.precheck(
        event,
        query_names=_query_names(str(event.get("path") or "")),
        max_body_bytes=MAX_BODY_BYTES,
        check_body=str(event.get("httpMethod", "")).upper() in {"POST", "PUT", "PATCH"},
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return precheck(event) or app.resolve(event, context)
