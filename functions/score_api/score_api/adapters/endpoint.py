"""SageMaker Runtime: score one record on the churn endpoint, for a caller who is waiting.

Errors map as in the score function, with fewer and shorter retries:
- throttling, 5xx, ``ModelNotReadyException`` and a ``ModelError`` whose original status is
  429 or 5xx: retried briefly, then :class:`EndpointUnavailableError` (503 + Retry-After);
- ``ModelError`` with a 4xx original status: :class:`ModelRejectedError` (422);
- anything else (no such endpoint, access denied): raised unchanged (a logged 500).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from churn_contracts.endpoint import parse_score
from churn_lambda.retry import Backoff, call_with_backoff

from ..domain import EndpointUnavailableError, ModelRejectedError, Score

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


def _original_status(exc: ClientError) -> int:
    raw = exc.response.get("OriginalStatusCode") or exc.response.get("Error", {}).get("OriginalStatusCode")
    try:
        return int(raw)
    except (TypeError, ValueError):
        return 0


def retryable(exc: Exception) -> bool:
    if isinstance(exc, BotoCoreError):  # connection reset, read timeout
        return True
    if not isinstance(exc, ClientError):
        return False
    if _code(exc) == "ModelError":
        original = _original_status(exc)
        return original == 429 or original >= 500
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
        self._backoff = backoff or Backoff(attempts=3, base_s=0.1, cap_s=1.0)
        self._sleep = sleep

    def score(self, record: Mapping[str, Any], explain: bool | int = False) -> Score:
        payload = dict(record)
        if explain:
            payload["explain"] = explain
        body = json.dumps(payload, ensure_ascii=False).encode()
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
        except (ClientError, BotoCoreError) as exc:
            if retryable(exc):
                code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
                raise EndpointUnavailableError(f"endpoint unavailable: {code}") from exc
            if isinstance(exc, ClientError) and _code(exc) == "ModelError":
                raise ModelRejectedError(
                    f"the model refused the record (status {_original_status(exc) or 'unknown'})"
                ) from None
            raise
        # The shared contract's reader (ResponseError: a broken endpoint is our 500, not the caller's).
        score = parse_score(response["Body"].read())
        reasons = score.reasons if explain else None
        return Score(score.probability, score.model_version, score.missing_features, reasons)


def _log_retry(exc: Exception, attempt: int) -> None:
    code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    log.warning("Endpoint throttled or unavailable, retrying", extra={"error_code": code, "attempt": attempt})
