"""SageMaker Runtime: score one record on the churn endpoint.

Error mapping:
- throttling (429), 5xx, ``ModelNotReadyException``, and a ``ModelError`` whose container
  answered 429 or 5xx (TorchServe's 503 "no worker" under load): retried with full-jitter
  backoff, then raised as :class:`EndpointUnavailableError` (the invocation fails; Lambda
  retries, then the on-failure queue keeps the event);
- a ``ModelError`` whose container answered 4xx: :class:`ModelRejectedError`, recorded on
  the call as SCORING_FAILED (the input itself is refused; retrying cannot help);
- anything else (no such endpoint, access denied): raised unchanged.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.endpoint import Score, parse_score
from churn_lambda.retry import Backoff, call_with_backoff

from ..models import EndpointUnavailableError, ModelRejectedError

JSON = "application/json"
_RETRYABLE_CODES = {
    "ThrottlingException",
    "ModelNotReadyException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalDependencyException",
}

log = logging.getLogger(__name__)


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def original_status(exc: ClientError) -> int | None:
    """The container's own status behind a ModelError (top level or inside ``Error``)."""
    raw = exc.response.get("OriginalStatusCode") or exc.response.get("Error", {}).get("OriginalStatusCode")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return None


def retryable(exc: Exception) -> bool:
    if not isinstance(exc, ClientError):
        return False
    if _code(exc) == "ModelError":
        status = original_status(exc)
        return status is not None and (status == 429 or status >= 500)
    status = _status(exc)
    return _code(exc) in _RETRYABLE_CODES or status == 429 or status >= 500


class EndpointScorer:
    def __init__(
        self,
        runtime: Any,
        endpoint_name: str,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self._runtime = runtime
        self._endpoint_name = endpoint_name
        self._backoff = backoff or Backoff(attempts=4, base_s=0.25, cap_s=4.0)
        self._sleep = sleep

    def score(self, record: Mapping[str, Any]) -> Score:
        body = json.dumps(record, ensure_ascii=False).encode()
        kwargs: dict[str, Any] = {"retryable": retryable, "backoff": self._backoff, "on_retry": _log_retry}
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        try:
            response = call_with_backoff(
                lambda: self._runtime.invoke_endpoint(
                    EndpointName=self._endpoint_name, ContentType=JSON, Accept=JSON, Body=body
                ),
                **kwargs,
            )
        except ClientError as exc:
            if retryable(exc):
                status = original_status(exc) if _code(exc) == "ModelError" else _status(exc)
                raise EndpointUnavailableError(
                    f"endpoint unavailable after {self._backoff.attempts} attempts: {_code(exc)} {status}"
                ) from exc
            if _code(exc) == "ModelError":
                message = str(
                    exc.response.get("OriginalMessage") or exc.response.get("Error", {}).get("Message")
                )
                raise ModelRejectedError(
                    f"model error (status {original_status(exc) or 'unknown'}): {message[:300]}"
                ) from None
            raise
        return parse_score(response["Body"].read())


def _log_retry(exc: Exception, attempt: int) -> None:
    code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    status = original_status(exc) if isinstance(exc, ClientError) else None
    log.warning(
        "Endpoint throttled or unavailable, retrying",
        extra={"error_code": code, "original_status": status, "attempt": attempt},
    )
