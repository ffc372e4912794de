"""SageMaker Runtime InvokeEndpoint with our retries and one error mapping, for every function.

- throttling (429), 5xx, ``ModelNotReadyException``, a dropped connection, and a ``ModelError``
  whose container answered 429 or 5xx (TorchServe's 503 "no worker" under load): retried with
  full-jitter backoff, then :class:`EndpointUnavailable`;
- a ``ModelError`` whose container answered 4xx: :class:`EndpointRejected` (the input itself is
  refused; retrying cannot help);
- anything else (no such endpoint, access denied): raised unchanged.

Each function maps the two errors onto its own domain's (a Lambda retry, a 503, a 422...).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from botocore.exceptions import BotoCoreError, ClientError

from .retry import Backoff, call_with_backoff

JSON = "application/json"
_RETRYABLE_CODES = {
    "ThrottlingException",
    "ModelNotReadyException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalDependencyException",
}

log = logging.getLogger(__name__)


class EndpointUnavailable(Exception):
    """Transient: the endpoint was throttled or down for every attempt."""


class EndpointRejected(Exception):
    """Permanent: the model container refused the record with a 4xx."""

    def __init__(self, message: str, status: int | None) -> None:
        super().__init__(message)
        self.status = status


def error_code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return type(exc).__name__


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def original_status(exc: ClientError) -> int | None:
    """The container's own status behind a ModelError (top level or inside ``Error``)."""
    raw = exc.response.get("OriginalStatusCode") or exc.response.get("Error", {}).get("OriginalStatusCode")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def retryable(exc: Exception) -> bool:
    if isinstance(exc, BotoCoreError):  # connection reset, read timeout
        return True
    if not isinstance(exc, ClientError):
        return False
    if error_code(exc) == "ModelError":
        status = original_status(exc)
        return status is not None and (status == 429 or status >= 500)
    status = http_status(exc)
    return error_code(exc) in _RETRYABLE_CODES or status == 429 or status >= 500


def invoke_json(
    runtime: Any,
    endpoint_name: str,
    body: bytes,
    *,
    backoff: Backoff,
    sleep: Callable[[float], None] | None = None,
) -> bytes:
    """POST a JSON body to the endpoint; the raw response body, or one of the two errors above."""
    kwargs: dict[str, Any] = {"retryable": retryable, "backoff": backoff, "on_retry": _log_retry}
    if sleep is not None:
        kwargs["sleep"] = sleep
    try:
        response = call_with_backoff(
            lambda: runtime.invoke_endpoint(
                EndpointName=endpoint_name, ContentType=JSON, Accept=JSON, Body=body
            ),
            **kwargs,
        )
    except (ClientError, BotoCoreError) as exc:
        if retryable(exc):
            status = (
                (original_status(exc) if error_code(exc) == "ModelError" else http_status(exc))
                if isinstance(exc, ClientError)
                else None
            )
            raise EndpointUnavailable(
                f"endpoint unavailable after {backoff.attempts} attempts: {error_code(exc)} {status or ''}".rstrip()
            ) from exc
        if error_code(exc) == "ModelError":
            status = original_status(exc)
            message = str(exc.response.get("OriginalMessage") or exc.response.get("Error", {}).get("Message"))
            raise EndpointRejected(
                f"model error (status {status or 'unknown'}): {message[:300]}", status
            ) from None
        raise
    return response["Body"].read()


class JsonEndpoint:
    """One endpoint, called with a JSON record: each function subclasses it with its own
    backoff and its own domain errors for the two outcomes (the classes' ``str(exc)``)."""

    default_backoff: ClassVar[Backoff] = Backoff()
    # Set by a subclass to map the two errors onto its domain's; None: raised as they are.
    unavailable_error: ClassVar[type[Exception] | None] = None
    rejected_error: ClassVar[type[Exception] | None] = None

    def __init__(
        self,
        runtime: Any,
        endpoint_name: str,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._runtime = runtime
        self._endpoint_name = endpoint_name
        self._backoff = backoff or self.default_backoff
        self._sleep = sleep

    def invoke(self, payload: Mapping[str, Any]) -> bytes:
        """The raw response body for ``payload``, or the domain errors (:meth:`unavailable`, :meth:`rejected`)."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        try:
            return invoke_json(
                self._runtime, self._endpoint_name, body, backoff=self._backoff, sleep=self._sleep
            )
        except EndpointUnavailable as exc:
            mapped = self.unavailable(exc)
            if mapped is exc:
                raise
            raise mapped from exc
        except EndpointRejected as exc:
            mapped = self.rejected(exc)
            if mapped is exc:
                raise
            # The container's message can quote the record: not chained into the traceback.
            raise mapped from None

    def unavailable(self, exc: EndpointUnavailable) -> Exception:
        return self.unavailable_error(str(exc)) if self.unavailable_error else exc

    def rejected(self, exc: EndpointRejected) -> Exception:
        return self.rejected_error(str(exc)) if self.rejected_error else exc


def _log_retry(exc: Exception, attempt: int) -> None:
    status = original_status(exc) if isinstance(exc, ClientError) else None
    log.warning(
        "Endpoint throttled or unavailable, retrying",
        extra={"error_code": error_code(exc), "original_status": status, "attempt": attempt},
    )
