"""SageMaker Runtime: score one record on the churn endpoint.

Error mapping:
- throttling (429), 5xx and ``ModelNotReadyException``: retried with bounded backoff,
  then raised as :class:`EndpointUnavailableError` (the invocation fails and the event
  reaches the on-failure queue after Lambda's retries);
- ``ModelError`` (424: the model container refused the input): :class:`ModelRejectedError`,
  recorded on the call as SCORING_FAILED;
- anything else (no such endpoint, access denied): raised unchanged.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from churn_lambda.retry import Backoff, call_with_backoff

JSON = "application/json"
_RETRYABLE_CODES = {
    "ThrottlingException",
    "ModelNotReadyException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalDependencyException",
}

log = logging.getLogger(__name__)


class ModelRejectedError(ValueError):
    """The model container answered 4xx/5xx to this input (InvokeEndpoint's 424 ModelError)."""


class EndpointUnavailableError(RuntimeError):
    """The endpoint kept throttling or failing after the bounded retries."""


class EndpointContractError(RuntimeError):
    """The endpoint answered 200 with something that is not the prediction contract."""


@dataclass(frozen=True)
class Score:
    probability: float
    model_version: str
    missing_features: list[str]


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def retryable(exc: Exception) -> bool:
    if not isinstance(exc, ClientError) or _code(exc) == "ModelError":
        return False
    status = _status(exc)
    return _code(exc) in _RETRYABLE_CODES or status == 429 or status >= 500


def parse_score(body: bytes) -> Score:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise EndpointContractError("endpoint response is not JSON") from None
    if (
        isinstance(payload, Mapping)
        and isinstance(payload.get("predictions"), list)
        and payload["predictions"]
    ):
        payload = payload["predictions"][0]
    if not isinstance(payload, Mapping):
        raise EndpointContractError("endpoint response is not a prediction object")
    probability = payload.get("probability")
    if isinstance(probability, bool) or not isinstance(probability, (int, float)):
        raise EndpointContractError("endpoint response has no numeric 'probability'")
    if not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
        raise EndpointContractError("endpoint probability is outside [0, 1]")
    missing = payload.get("missing_features") or []
    if not isinstance(missing, list):
        raise EndpointContractError("'missing_features' is not a list")
    return Score(
        float(probability), str(payload.get("model_version") or "unknown"), [str(m) for m in missing]
    )


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
            if _code(exc) == "ModelError":
                error = exc.response.get("Error", {})
                original = exc.response.get("OriginalStatusCode") or error.get("OriginalStatusCode")
                message = str(exc.response.get("OriginalMessage") or error.get("Message") or "")
                raise ModelRejectedError(
                    f"model error (status {original or 'unknown'}): {message[:300]}"
                ) from None
            if retryable(exc):
                raise EndpointUnavailableError(
                    f"endpoint unavailable after {self._backoff.attempts} attempts: {_code(exc) or _status(exc)}"
                ) from exc
            raise
        return parse_score(response["Body"].read())


def _log_retry(exc: Exception, attempt: int) -> None:
    code = _code(exc) if isinstance(exc, ClientError) else type(exc).__name__
    log.warning("Endpoint throttled or unavailable, retrying", extra={"error_code": code, "attempt": attempt})
