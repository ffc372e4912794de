"""ScoreApiFunction: Powertools' REST resolver with data validation; routes under /v1.

The handler is thin: validate (pydantic, via the resolver), call the domain, shape the answer.
Every client error is a 4xx JSON ``{"error", "field"}``; nothing a caller sends gets a 5xx.
"""

# No ``from __future__ import annotations`` here or in models.py: the resolver reads the route
# functions' annotations at run time to validate and to write the OpenAPI document.
import json
import re
import time
from functools import cache
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from churn_contracts.endpoint import RequestError
from churn_contracts.features import PROFILE_FEATURES

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
JSON_TYPES = ("application/json",)
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


class ApiError(Exception):
    def __init__(
        self, status: int, error: str, field: str | None = None, headers: dict[str, str] | None = None
    ):
        super().__init__(error)
        self.status, self.error, self.field, self.headers = status, error, field, headers or {}


def _error(
    status: int, error: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": error, "field": field}),
        headers=headers,
    )


def _responses(ok: str, *statuses: int) -> dict[int, dict[str, Any]]:
    """OpenAPI responses: 200 (from the return type) and the error statuses a route can answer,
    the gateway's own 403 and 429 included."""
    descriptions = {
        400: "Invalid request: wrong types, missing or unknown fields",
        403: "Missing or invalid API key or credentials (API Gateway)",
        404: "Not found",
        413: "Request body too large",
        415: "Not a JSON body, or not Content-Type application/json",
        422: "The model refused the record",
        429: "Over the usage plan's rate or quota (API Gateway)",
        503: "The scoring endpoint is busy or unavailable; retry after Retry-After seconds",
    }
    responses: dict[int, dict[str, Any]] = {200: {"description": ok}}
    for status in statuses:
        responses[status] = {
            "description": descriptions[status],
            "content": {"application/json": {"model": ErrorBody}},
        }
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            responses[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
    return responses


app = APIGatewayRestResolver(enable_validation=True)


@app.exception_handler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return _error(exc.status, exc.error, exc.field, exc.headers)


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    kind = str(first.get("type", ""))
    if kind in {"json_invalid", "unsupported_content_type"}:
        return _error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be a JSON object (application/json)")
    # pydantic's locations also name union members ("float", "none"...): keep the field names.
    location = [str(part) for part in first.get("loc", ()) if str(part) in FIELD_NAMES]
    if kind == "extra_forbidden" and first.get("loc"):
        location.append(str(first["loc"][-1]))
    field = ".".join(location) or None
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "missing field" if field else "the request body is missing"
    else:
        message = str(first.get("msg", "invalid request"))[:200]
    return _error(HTTPStatus.BAD_REQUEST, message, field)


# A route's shape with an id the router cannot take (characters no id has): the id is at fault.
_MALFORMED_IDS = (
    (re.compile(r"^/v1/calls/[^/]+$"), "call_id"),
    (re.compile(r"^/v1/customers/[^/]+/calls$"), "customer_id"),
)


@app.not_found
def _not_found(exc: Exception) -> Response:
    path = app.current_event.path or ""
    for pattern, field in _MALFORMED_IDS:
        if pattern.match(path):
            return _error(HTTPStatus.BAD_REQUEST, f"invalid {field}", field)
    return _error(HTTPStatus.NOT_FOUND, "no such route")


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


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def _query_names(path: str) -> frozenset[str]:
    return frozenset({"limit", "cursor"}) if path.startswith("/v1/customers/") else frozenset()


def precheck(event: dict[str, Any]) -> dict[str, Any] | None:
    """Refuse unknown query parameters (400), oversized and non-JSON bodies (413, 415) before
    anything parses them."""
    known = _query_names(str(event.get("path") or ""))
    for name in event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}:
        if name not in known:
            return _proxy_error(HTTPStatus.BAD_REQUEST, "unknown query parameter", name[:100])
    if str(event.get("httpMethod", "")).upper() not in {"POST", "PUT", "PATCH"}:
        return None
    body = event.get("body") or ""
    size = len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)
    if event.get("isBase64Encoded"):
        size = size * 3 // 4
    if size > MAX_BODY_BYTES:
        return _proxy_error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {MAX_BODY_BYTES} bytes"
        )
    mime = (_header(event, "content-type") or "").split(";")[0].strip().lower()
    if mime not in JSON_TYPES or event.get("isBase64Encoded"):
        return _proxy_error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send a JSON body with Content-Type application/json"
        )
    if body:
        # Parsed once here with every failure caught: deep nesting (RecursionError) and over-long
        # integers (ValueError) are not JSONDecodeErrors, and would otherwise escape as a 5xx.
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            return _proxy_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body is not valid JSON")
    return None


def _proxy_error(status: int, error: str, field: str | None = None) -> dict[str, Any]:
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": error, "field": field}),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    refused = precheck(event)
    if refused is not None:
        return refused
    return app.resolve(event, context)
