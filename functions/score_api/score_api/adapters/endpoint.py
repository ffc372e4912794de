"""SageMaker Runtime: score one record on the churn endpoint, for a caller who is waiting.

The retries and error mapping are the shared ``churn_lambda.endpoint``'s, with fewer and shorter
retries: a transient failure is :class:`EndpointUnavailableError` (503 + Retry-After), a container
4xx is :class:`ModelRejectedError` (422), anything else (no such endpoint, access denied) is
raised unchanged (a logged 500).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from churn_contracts.endpoint import parse_score
from churn_lambda.endpoint import EndpointRejected, EndpointUnavailable, invoke_json
from churn_lambda.retry import Backoff

from ..domain import EndpointUnavailableError, ModelRejectedError, Score


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
        try:
            raw = invoke_json(
                self._runtime, self._endpoint_name, body, backoff=self._backoff, sleep=self._sleep
            )
        except EndpointUnavailable as exc:
            raise EndpointUnavailableError(f"endpoint unavailable: {exc}") from exc
        except EndpointRejected as exc:
            raise ModelRejectedError(
                f"the model refused the record (status {exc.status or 'unknown'})"
            ) from None
        # The shared contract's reader (ResponseError: a broken endpoint is our 500, not the caller's).
        score = parse_score(raw)
        reasons = score.reasons if explain else None
        return Score(
            score.probability, score.model_version, score.missing_features, reasons, score.unknown_categories
        )
