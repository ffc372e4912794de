"""SageMaker Runtime through the shared client (same retries and error mapping as the post-call path)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from churn_contracts.endpoint import Score, parse_score
from churn_lambda.endpoint import EndpointRejected, EndpointUnavailable, invoke_json
from churn_lambda.retry import Backoff

from ..models import EndpointUnavailableError, ModelRejectedError


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
        # Short: a shard waits while we retry, and the next turn re-scores anyway.
        self._backoff = backoff or Backoff(attempts=3, base_s=0.1, cap_s=1.0)
        self._sleep = sleep

    def score(self, record: Mapping[str, Any]) -> Score:
        body = json.dumps(record, ensure_ascii=False).encode()
        try:
            raw = invoke_json(
                self._runtime, self._endpoint_name, body, backoff=self._backoff, sleep=self._sleep
            )
        except EndpointUnavailable as exc:
            raise EndpointUnavailableError(str(exc)) from exc
        except EndpointRejected as exc:
            raise ModelRejectedError(str(exc)) from None
        return parse_score(raw)
