"""SageMaker Runtime: score one record on the churn endpoint.

The retries and error mapping are the shared ``churn_lambda.endpoint``'s; here a transient
failure raises :class:`EndpointUnavailableError` (the invocation fails; Lambda retries, then the
on-failure queue keeps the event) and a container 4xx raises :class:`ModelRejectedError`,
recorded on the call as SCORING_FAILED.
"""

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
        self._backoff = backoff or Backoff(attempts=4, base_s=0.25, cap_s=4.0)
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
