"""What the REST APIs (score_api, outcomes_api) share at their edges: the error body
``{"error", "field"}``, the checks made before the resolver parses anything, request-validation
errors as 400s naming the field, and the OpenAPI document.

The only module here that imports Powertools' event handler (and through it pydantic): the APIs
ship pydantic, the other functions never import this.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Collection, Container, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

JSON_TYPES = ("application/json",)


class ApiError(Exception):
    """A client error raised from a route: answered as ``status`` with ``{"error", "field"}``."""

    def __init__(
        self, status: int, error: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.headers = status, error, field, headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.error, self.field, self.headers)


def error_response(
    status: int, error: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The resolver's answer for an error: the one body shape every 4xx and 503 has."""
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"error": error, "field": field}),
        headers=headers,
    )


def proxy_error(status: int, error: str, field: str | None = None) -> dict[str, Any]:
    """The same error as a Lambda proxy response, for refusals made before the resolver runs."""
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": error, "field": field}),
        "isBase64Encoded": False,
    }


def header(event: Mapping[str, Any], name: str) -> str | None:
    """A request header, whatever its case (``name`` in lower case)."""
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return value
    return None


def precheck(
    event: Mapping[str, Any], *, query_names: Container[str], max_body_bytes: int, check_body: bool
) -> dict[str, Any] | None:
    """Refusals made before anything parses the request: a query parameter the route does not
    take (400, naming it: a typo surfaces), then, where ``check_body``, a body past
    ``max_body_bytes`` (413) or one that is not JSON sent as application/json (415)."""
    for name in event.get("multiValueQueryStringParameters") or event.get("queryStringParameters") or {}:
        if name not in query_names:
            return proxy_error(HTTPStatus.BAD_REQUEST, "unknown query parameter", str(name)[:100])
    if not check_body:
        return None
    body = event.get("body") or ""
    size = len(body.encode("utf-8", "surrogatepass")) if isinstance(body, str) else len(body)
    if event.get("isBase64Encoded"):
        size = size * 3 // 4
    if size > max_body_bytes:
        return proxy_error(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is larger than {max_body_bytes} bytes"
        )
    mime = (header(event, "content-type") or "").split(";")[0].strip().lower()
    if mime not in JSON_TYPES or event.get("isBase64Encoded"):
        return proxy_error(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send a JSON body with Content-Type application/json"
        )
    if body:
        # Parsed once here with every failure caught: deep nesting (RecursionError) and over-long
        # integers (ValueError) are not JSONDecodeErrors, and would otherwise escape as a 5xx.
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            return proxy_error(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body is not valid JSON")
    return None


def install_error_handlers(
    app: Any, *, field_names: Container[str], malformed_ids: Iterable[tuple[re.Pattern[str], str]] = ()
) -> None:
    """Answer every client error of ``app`` (a Powertools REST resolver) in the one shape:
    :class:`ApiError` as raised, request validation as 400 naming the field
    (:func:`validation_error`), an unknown route as 404 (:func:`not_found`)."""
    malformed_ids = tuple(malformed_ids)

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    def _invalid_request(exc: RequestValidationError) -> Response:
        return validation_error(exc, field_names)

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return not_found(app.current_event.path or "", malformed_ids)


def validation_error(exc: RequestValidationError, field_names: Container[str]) -> Response:
    """The resolver's validation failure as a 400 naming the field (415 for a body not JSON)."""
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    kind = str(first.get("type", ""))
    if kind in {"json_invalid", "unsupported_content_type"}:
        return error_response(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "the body must be a JSON object (application/json)"
        )
    # pydantic's locations also name union members ("float", "none"...): keep the field names.
    location = [str(part) for part in first.get("loc", ()) if str(part) in field_names]
    if kind == "extra_forbidden" and first.get("loc"):
        location.append(str(first["loc"][-1]))
    field = ".".join(location) or None
    if kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "missing":
        message = "missing field" if field else "the request body is missing"
    else:
        message = str(first.get("msg", "invalid request"))[:200]
    return error_response(HTTPStatus.BAD_REQUEST, message, field)


def not_found(path: str, malformed_ids: Iterable[tuple[re.Pattern[str], str]]) -> Response:
    """404, or 400 naming the id when the path is a route's shape with an id no route takes."""
    for pattern, field in malformed_ids:
        if pattern.match(path):
            return error_response(HTTPStatus.BAD_REQUEST, f"invalid {field}", field)
    return error_response(HTTPStatus.NOT_FOUND, "no such route")


def documented_responses(
    ok: str,
    statuses: Iterable[int],
    descriptions: Mapping[int, str],
    error_model: type,
    *,
    ok_status: int = 200,
    ok_content: Mapping[str, Any] | None = None,
    retry_after: Collection[int] = (),
) -> dict[int, dict[str, Any]]:
    """A route's OpenAPI responses: the success and each error status it can answer, with the
    error body's model (and a Retry-After header where ``retry_after`` names the status)."""
    responses: dict[int, dict[str, Any]] = {ok_status: {"description": ok}}
    if ok_content is not None:
        responses[ok_status]["content"] = dict(ok_content)
    for status in statuses:
        responses[status] = {
            "description": descriptions[status],
            "content": {"application/json": {"model": error_model}},
        }
        if status in retry_after:
            responses[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}
            }
    return responses


def openapi_document(app: Any, *, title: str, version: str, description: str) -> dict[str, Any]:
    """The resolver's OpenAPI document, behind API Gateway's SigV4 (or Cognito) and API key."""
    schema = app.get_openapi_json_schema(
        title=title,
        version=version,
        description=description,
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
    """Drop the resolver's stock 422 "Validation Error" answers: these APIs answer 400 for those
    (:func:`validation_error`); the scoring API keeps 422 for the model refusing a record."""
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


def render(doc: Mapping[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indent, a final newline."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class ApiDocument:
    """An API's committed OpenAPI document: ``python -m <api>.openapi > <api>/openapi.json``
    writes it (:meth:`write`), and a test compares :meth:`render` with the committed copy."""

    app: Any
    title: str
    description: str
    version: str = "1.0.0"

    def document(self) -> dict[str, Any]:
        return openapi_document(
            self.app, title=self.title, version=self.version, description=self.description
        )

    def render(self) -> str:
        return render(self.document())

    def write(self) -> None:
        sys.stdout.write(self.render())
