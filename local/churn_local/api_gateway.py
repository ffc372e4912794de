"""A local API Gateway (REST) for the template's APIs: HTTP in, proxy events to the real handler.

Configured from the deployed stack, as the deployed gateway is: the ``AWS::Serverless::Api``'s
stage, default authorizer, API key requirement, usage plan (rate, burst, daily quota) and gateway
responses as the deployment resolved them (``StackSpec.apis``), and the routes of the deployed
functions' ``Api`` events. Checks run in API Gateway's order:
route, authentication (SigV4, verified against the local credentials), API key, usage plan; then
the request becomes a REST proxy event for the function, and its answer the HTTP response.

Not emulated: Cognito tokens are required but not verified locally, and resource policies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from churn_ops.template_rules import TemplateError, load_template

from .spec import DEFAULT_ACCOUNT, DEFAULT_REGION, DEFAULT_STACK_NAME, StackSpec, read_stack

log = logging.getLogger(__name__)

API_KEY_HEADER = "x-api-key"
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's REST payload limit
SIGNATURE_WINDOW_S = 15 * 60
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/]+)/(?P<scope>[^,]+),\s*"
    r"SignedHeaders=(?P<headers>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)

# API Gateway's own statuses and messages for the responses it makes without the integration.
DEFAULT_RESPONSES: dict[str, tuple[int, str]] = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "INVALID_SIGNATURE": (
        403,
        "The request signature we calculated does not match the signature you provided",
    ),
    "EXPIRED_TOKEN": (403, "Signature expired"),
    "ACCESS_DENIED": (403, "Forbidden"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    "INVALID_API_KEY": (403, "Forbidden"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
}


@dataclass(frozen=True)
class Route:
    method: str
    resource: str  # the template's path, e.g. /v1/calls/{call_id}
    function: str  # logical id
    pattern: re.Pattern[str]
    params: tuple[str, ...]
    # The event's own Auth (SAM: Authorizer NONE, ApiKeyRequired false), over the API's defaults.
    authorizer: str | None = None
    api_key_required: bool | None = None

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method and self.method != "ANY":
            return None
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        return {name: unquote(value) for name, value in zip(self.params, found.groups(), strict=True)}


def _route(method: str, resource: str, function: str, auth: Mapping[str, Any] | None = None) -> Route:
    params = tuple(re.findall(r"\{([^}/]+)\}", resource))
    regex = re.sub(r"\\\{[^}/]+\\\}", "([^/]+)", re.escape(resource))
    auth = auth or {}
    key = auth.get("ApiKeyRequired")
    return Route(
        method.upper(), resource, function, re.compile(regex), params,
        str(auth["Authorizer"]) if auth.get("Authorizer") else None,
        None if key is None else str(key).lower() == "true",
    )  # fmt: skip


@dataclass(frozen=True)
class ApiSpec:
    """One REST API of the template, resolved with the stack's parameters."""

    logical_id: str
    stage: str
    authorizer: str  # AWS_IAM, NONE, or the name of a Cognito authorizer
    api_key_required: bool
    rate_per_s: float | None
    burst: int | None
    daily_quota: int | None
    routes: tuple[Route, ...]
    gateway_responses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def find(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                return route, params
        return None


def apis_of(stack: StackSpec, template_path: str | Path) -> dict[str, ApiSpec]:
    """Every ``AWS::Serverless::Api`` the deployment published, with its functions' routes.

    The settings (stage, authorizer, API key, usage plan, gateway responses) are the values the
    deployment resolved (``StackSpec.apis``); the routes are the ``Api`` events of the functions
    it created, literal in the SAM template (SAM itself requires a literal Path and Method).
    Other API types (a WebSocket ``AWS::ApiGatewayV2::Api``) are not served here.
    """
    template = load_template(template_path)
    routes: dict[str, list[Route]] = {}
    for logical_id, resource in template["Resources"].items():
        # A function whose condition is false was not deployed: its routes do not exist either.
        if resource.get("Type") != "AWS::Serverless::Function" or logical_id not in stack.functions:
            continue
        for name, event in ((resource.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") != "Api":
                continue
            props = event.get("Properties") or {}
            api = (
                (props.get("RestApiId") or {}).get("Ref")
                if isinstance(props.get("RestApiId"), dict)
                else None
            )
            if api not in stack.apis:
                continue
            method, path = props.get("Method"), props.get("Path")
            if not isinstance(method, str) or not isinstance(path, str):
                raise TemplateError(f"{logical_id}'s Api event {name}: Path and Method must be literal")
            routes.setdefault(api, []).append(_route(method, path, logical_id, props.get("Auth")))
    apis = {}
    for logical_id, props in stack.apis.items():
        auth = props.get("Auth") or {}
        plan = auth.get("UsagePlan") or {}
        throttle, quota = plan.get("Throttle") or {}, plan.get("Quota") or {}
        apis[logical_id] = ApiSpec(
            logical_id=logical_id,
            stage=str(props.get("StageName") or "Prod"),
            authorizer=str(auth.get("DefaultAuthorizer") or "NONE"),
            api_key_required=str(auth.get("ApiKeyRequired", False)).lower() == "true",
            rate_per_s=float(throttle["RateLimit"]) if "RateLimit" in throttle else None,
            burst=int(throttle["BurstLimit"]) if "BurstLimit" in throttle else None,
            daily_quota=int(quota["Limit"]) if "Limit" in quota and quota.get("Period") == "DAY" else None,
            routes=tuple(routes.get(logical_id, ())),
            gateway_responses=props.get("GatewayResponses") or {},
        )
    return apis


def read_apis(
    template_path: str | Path,
    parameters: Mapping[str, Any] | None = None,
    *,
    region: str = DEFAULT_REGION,
    stack_name: str = DEFAULT_STACK_NAME,
) -> dict[str, ApiSpec]:
    """The template's APIs as a throwaway deployment with ``parameters`` resolves them."""
    stack = read_stack(template_path, parameters=parameters, region=region, stack_name=stack_name)
    return apis_of(stack, template_path)


class TokenBucket:
    """API Gateway's throttle: ``rate`` requests a second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, max(1, burst), clock
        self._tokens, self._at = float(self.burst), clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


class UsagePlan:
    """Per API key: the throttle bucket and the day's request count (UTC days, as AWS counts)."""

    def __init__(self, spec: ApiSpec, clock: Callable[[], float] = time.monotonic) -> None:
        self._spec, self._clock = spec, clock
        self._buckets: dict[str, TokenBucket] = {}
        self._days: dict[str, tuple[str, int]] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> str | None:
        """None when the request may pass, else the gateway response type that refuses it."""
        spec = self._spec
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None and spec.rate_per_s is not None:
                burst = spec.burst if spec.burst is not None else max(1, int(spec.rate_per_s))
                bucket = self._buckets[key] = TokenBucket(spec.rate_per_s, burst, self._clock)
            if spec.daily_quota is not None:
                today = datetime.now(UTC).date().isoformat()
                day, used = self._days.get(key, (today, 0))
                used = used if day == today else 0
                if used >= spec.daily_quota:
                    return "QUOTA_EXCEEDED"
                self._days[key] = (today, used + 1)
        if bucket is not None and not bucket.take():
            return "THROTTLED"
        return None


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


class SignatureError(Exception):
    def __init__(self, response_type: str, message: str) -> None:
        super().__init__(message)
        self.response_type, self.message = response_type, message


def verify_sigv4(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Credentials,
    region: str,
    now: float | None = None,
) -> str:
    """Check an AWS SigV4 signature (service execute-api) with botocore's signer; returns the key id."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BotoCredentials

    lowered = {k.lower(): v for k, v in headers.items()}
    authorization = lowered.get("authorization")
    if not authorization:
        raise SignatureError("MISSING_AUTHENTICATION_TOKEN", "Missing Authentication Token")
    parsed = _SIGV4.match(authorization.strip())
    if parsed is None:
        raise SignatureError("INVALID_SIGNATURE", "Authorization header is not an AWS SigV4 signature")
    if parsed["key"] != credentials.access_key:
        raise SignatureError("INVALID_SIGNATURE", "The security token included in the request is invalid")
    amz_date = lowered.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise SignatureError("INVALID_SIGNATURE", "X-Amz-Date is missing or malformed") from None
    if abs((now if now is not None else time.time()) - signed_at.timestamp()) > SIGNATURE_WINDOW_S:
        raise SignatureError("EXPIRED_TOKEN", "Signature expired")
    scope = parsed["scope"].split("/")
    if len(scope) != 4 or scope[1] != region or scope[2] != "execute-api" or scope[0] != amz_date[:8]:
        raise SignatureError("INVALID_SIGNATURE", "Credential scope does not match this API")
    signed = parsed["headers"].split(";")
    missing = [name for name in signed if name not in lowered]
    if missing or "host" not in signed:
        raise SignatureError("INVALID_SIGNATURE", "signed headers are missing from the request")
    request = AWSRequest(
        method=method,
        url=f"http://{lowered['host']}{raw_path}",
        data=body,
        headers={name: lowered[name] for name in signed},
    )
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(
        BotoCredentials(credentials.access_key, credentials.secret_key, lowered.get("x-amz-security-token")),
        "execute-api",
        region,
    )
    # Sign exactly the headers the client signed (botocore would otherwise pick its own set).
    signer.headers_to_sign = lambda _request: _signed_headers(request, signed)  # type: ignore[method-assign]
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, parsed["signature"]):
        raise SignatureError(
            "INVALID_SIGNATURE",
            "The request signature we calculated does not match the signature you provided",
        )
    return parsed["key"]


def _signed_headers(request: Any, names: list[str]) -> Any:
    from botocore.awsrequest import HTTPHeaders

    headers = HTTPHeaders()
    for name in names:
        headers[name] = request.headers[name]
    return headers


Invoke = Callable[[str, dict[str, Any]], dict[str, Any]]


# The methods a REST API's resources can have (ANY is these); others are refused with 405.
ALLOWED_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


class LocalApiGateway:
    """Serves one :class:`ApiSpec` on ``http://127.0.0.1:<port>/<stage>``.

    ``invoke(function_logical_id, event)`` runs the handler and returns its proxy response
    (or raises :class:`IntegrationError`).
    """

    def __init__(
        self,
        spec: ApiSpec,
        invoke: Invoke,
        *,
        api_key: str | None = None,
        credentials: Credentials | None = None,
        region: str = DEFAULT_REGION,
        account: str = DEFAULT_ACCOUNT,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
        self._invoke = invoke
        self.api_key = api_key or secrets.token_urlsafe(24)
        self.api_key_id = hashlib.sha256(self.api_key.encode()).hexdigest()[:10]
        self.credentials = credentials
        self.region, self.account = region, account
        self.plan = UsagePlan(spec, clock)
        self._host, self._port = host, port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        if spec.authorizer not in {"AWS_IAM", "NONE"}:
            log.warning(
                "%s: %s tokens are required but not verified locally", spec.logical_id, spec.authorizer
            )

    # --- lifecycle

    def start(self) -> LocalApiGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                gateway._serve_http(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def __getattr__(self, name: str) -> Any:
                # Any other method (TRACE, CONNECT, made-up ones): a JSON 405 in the API's error
                # shape, not http.server's HTML 501 page.
                if name.startswith("do_"):
                    return lambda: gateway._refuse_method(self)
                raise AttributeError(name)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s " + format, self.address_string(), *args)

        self._server = ThreadingHTTPServer((self._host, self._port), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}/{self.spec.stage}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="local-api-gateway", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> LocalApiGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- HTTP

    def _serve_http(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            reply = self.gateway_response("REQUEST_TOO_LARGE")
            http.close_connection = True
        else:
            body = http.rfile.read(length) if length else b""
            headers = {k: v for k, v in http.headers.items()}
            reply = self.handle(http.command, http.path, headers, body, http.client_address[0])
        http.send_response(reply.status)
        for name, value in reply.headers.items():
            http.send_header(name, value)
        http.send_header("Content-Length", str(len(reply.body)))
        http.end_headers()
        if http.command != "HEAD":
            http.wfile.write(reply.body)

    def _refuse_method(self, http: BaseHTTPRequestHandler) -> None:
        length = int(http.headers.get("Content-Length") or 0)
        if 0 < length <= MAX_PAYLOAD_BYTES:
            http.rfile.read(length)
        elif length:
            http.close_connection = True
        body = json.dumps({"error": f"method {http.command} is not allowed", "field": None}).encode()
        http.send_response(405)
        http.send_header("Content-Type", "application/json")
        http.send_header("Allow", ", ".join(ALLOWED_METHODS))
        http.send_header("Content-Length", str(len(body)))
        http.end_headers()
        http.wfile.write(body)

    def handle(
        self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes, source_ip: str
    ) -> Reply:
        """One request through the gateway's checks and the integration."""
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        split = urlsplit(raw_path)
        prefix = f"/{self.spec.stage}"
        path = split.path[len(prefix) :] if split.path.startswith(prefix + "/") else None
        found = self.spec.find(method.upper(), path) if path is not None else None
        if found is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id)
        route, path_params = found
        lowered = {k.lower(): v for k, v in headers.items()}
        caller = None
        authorizer = route.authorizer or self.spec.authorizer
        key_required = (
            self.spec.api_key_required if route.api_key_required is None else route.api_key_required
        )
        if authorizer == "AWS_IAM" and self.credentials is not None:
            try:
                caller = verify_sigv4(method.upper(), raw_path, headers, body, self.credentials, self.region)
            except SignatureError as exc:
                return self.gateway_response(exc.response_type, request_id, exc.message)
        elif authorizer not in {"AWS_IAM", "NONE"} and not lowered.get("authorization"):
            return self.gateway_response("UNAUTHORIZED", request_id)
        key = lowered.get(API_KEY_HEADER)
        if key_required and not (key and hmac.compare_digest(key, self.api_key)):
            return self.gateway_response("INVALID_API_KEY", request_id)
        refused = self.plan.admit(key or source_ip)
        if refused is not None:
            return self.gateway_response(refused, request_id)
        event = self.proxy_event(method.upper(), route, path, split.query, headers, body, path_params)
        event["requestContext"].update(requestId=request_id)
        identity = event["requestContext"]["identity"]
        identity.update(sourceIp=source_ip, apiKey=key, apiKeyId=self.api_key_id if key else None)
        if caller:
            identity.update(
                caller=caller, accessKey=caller, user=caller, accountId=self.account,
                userArn=f"arn:aws:iam::{self.account}:user/local",
            )  # fmt: skip
        try:
            response = self._invoke(route.function, event)
        except IntegrationTimeout:
            return self.gateway_response("INTEGRATION_TIMEOUT", request_id)
        except IntegrationError:
            return self.gateway_response("INTEGRATION_FAILURE", request_id)
        reply = proxy_reply(response)
        if reply is None:  # a malformed proxy response is API Gateway's 502
            return self.gateway_response("INTEGRATION_FAILURE", request_id)
        reply.headers.setdefault("x-amzn-RequestId", request_id)
        log.debug(
            "%s %s -> %s in %.1f ms", method, route.resource, reply.status, (time.monotonic() - started) * 1e3
        )
        return reply

    def proxy_event(
        self,
        method: str,
        route: Route,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        path_params: Mapping[str, str],
    ) -> dict[str, Any]:
        """An API Gateway REST (v1) proxy event, as Lambda receives it."""
        multi_headers: dict[str, list[str]] = {}
        for name, value in headers.items():
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            multi_query.setdefault(name, []).append(value)
        now = time.time()
        return {
            "resource": route.resource,
            "path": unquote(path),
            "httpMethod": method,
            "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": dict(path_params) or None,
            "stageVariables": None,
            "requestContext": {
                "resourceId": hashlib.sha256(route.resource.encode()).hexdigest()[:6],
                "resourcePath": route.resource,
                "httpMethod": method,
                "path": f"/{self.spec.stage}{path}",
                "accountId": self.account,
                "protocol": "HTTP/1.1",
                "stage": self.spec.stage,
                "requestTimeEpoch": int(now * 1000),
                "requestTime": datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestId": "",
                "apiId": "local",
                "domainName": {k.lower(): v for k, v in headers.items()}.get("host", "127.0.0.1"),
                "identity": {
                    "sourceIp": "",
                    "userAgent": {k.lower(): v for k, v in headers.items()}.get("user-agent"),
                    "accountId": None,
                    "caller": None,
                    "accessKey": None,
                    "user": None,
                    "userArn": None,
                    "apiKey": None,
                    "apiKeyId": None,
                    "cognitoIdentityPoolId": None,
                    "cognitoIdentityId": None,
                    "cognitoAuthenticationType": None,
                    "cognitoAuthenticationProvider": None,
                    "principalOrgId": None,
                },
            },
            "body": body.decode("utf-8", "replace") if body else None,
            "isBase64Encoded": False,
        }

    def gateway_response(self, kind: str, request_id: str | None = None, message: str | None = None) -> Reply:
        """A response API Gateway makes itself, shaped by the template's GatewayResponses."""
        status, default_message = DEFAULT_RESPONSES.get(kind, (500, "Internal server error"))
        message = message or default_message
        configured = self.spec.gateway_responses.get(kind)
        if configured is None:
            configured = (
                self.spec.gateway_responses.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX") or {}
            )
        else:
            status = int(configured.get("StatusCode") or status)
        template = (configured.get("ResponseTemplates") or {}).get("application/json")
        if template:
            body = template.replace("$context.error.messageString", json.dumps(message))
            body = body.replace("$context.error.message", message.replace('"', "'"))
        else:
            body = json.dumps({"message": message})
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": kind}
        if request_id:
            headers["x-amzn-RequestId"] = request_id
        return Reply(status, headers, body.encode())


class IntegrationError(RuntimeError):
    """The function failed (an unhandled error): API Gateway answers 502."""


class IntegrationTimeout(IntegrationError):
    """The function ran past its timeout: API Gateway answers 504."""


def proxy_reply(response: Any) -> Reply | None:
    """A Lambda proxy response as HTTP, or None when it is not one (API Gateway's 502)."""
    if not isinstance(response, Mapping) or not isinstance(response.get("statusCode"), int):
        return None
    headers: dict[str, str] = {}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        if values:
            headers[name] = ", ".join(str(v) for v in values)
    for name, value in (response.get("headers") or {}).items():
        headers[name] = str(value)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        import base64

        data = base64.b64decode(body)
    else:
        data = str(body).encode()
    return Reply(response["statusCode"], headers, data)


def invoke_through(processes: Mapping[str, Any]) -> Invoke:
    """``invoke`` over the local stack's warm function processes (``FunctionProcess.invoke``)."""

    def invoke(function: str, event: dict[str, Any]) -> dict[str, Any]:
        invocation = processes[function].invoke(event)
        if invocation.ok:
            return invocation.result
        kind = (invocation.error or {}).get("errorType", "")
        if kind == "Sandbox.Timedout":
            raise IntegrationTimeout(kind)
        raise IntegrationError(kind or "function error")

    return invoke


def serve_apis(
    stack: StackSpec,
    template: str | Path,
    processes: Mapping[str, Any],
    *,
    api_key: str | None = None,
    credentials: Credentials | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
) -> dict[str, LocalApiGateway]:
    """Start a gateway for each API of the template whose functions run here (caller stops them)."""
    gateways: dict[str, LocalApiGateway] = {}
    for logical_id, spec in apis_of(stack, template).items():
        if not spec.routes or any(route.function not in processes for route in spec.routes):
            continue
        gateways[logical_id] = LocalApiGateway(
            spec,
            invoke_through(processes),
            api_key=api_key,
            credentials=credentials,
            region=region,
            account=account,
        ).start()
    return gateways
