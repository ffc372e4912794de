"""SageMaker Runtime through the shared client (same retries and error mapping as the post-call path)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churn_contracts.endpoint import Score, parse_score
from churn_lambda.endpoint import JsonEndpoint
from churn_lambda.retry import Backoff

from ..models import EndpointUnavailableError, ModelRejectedError


class EndpointScorer(JsonEndpoint):
    # Short: a shard waits while we retry, and the next turn re-scores anyway.
    default_backoff = Backoff(attempts=3, base_s=0.1, cap_s=1.0)
    unavailable_error = EndpointUnavailableError
    rejected_error = ModelRejectedError

    def score(self, record: Mapping[str, Any]) -> Score:
        return parse_score(self.invoke(record))
