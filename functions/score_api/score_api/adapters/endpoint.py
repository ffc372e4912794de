"""SageMaker Runtime: score one record on the churn endpoint, for a caller who is waiting.

The retries and error mapping are the shared ``churn_lambda.endpoint``'s, with fewer and shorter
retries: a transient failure is :class:`EndpointUnavailableError` (503 + Retry-After), a container
4xx is :class:`ModelRejectedError` (422), anything else (no such endpoint, access denied) is
raised unchanged (a logged 500).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churn_contracts.endpoint import parse_score
from churn_lambda.endpoint import EndpointRejected, EndpointUnavailable, JsonEndpoint
from churn_lambda.retry import Backoff

from ..domain import EndpointUnavailableError, ModelRejectedError, Score


class EndpointScorer(JsonEndpoint):
    default_backoff = Backoff(attempts=3, base_s=0.1, cap_s=1.0)

    def unavailable(self, exc: EndpointUnavailable) -> Exception:
        return EndpointUnavailableError(f"endpoint unavailable: {exc}")

    def rejected(self, exc: EndpointRejected) -> Exception:
        # The caller sees the status only, never the container's message.
        return ModelRejectedError(f"the model refused the record (status {exc.status or 'unknown'})")

    def score(self, record: Mapping[str, Any], explain: bool | int = False) -> Score:
        payload = dict(record)
        if explain:
            payload["explain"] = explain
        # The shared contract's reader (ResponseError: a broken endpoint is our 500, not the caller's).
        score = parse_score(self.invoke(payload))
        reasons = score.reasons if explain else None
        return Score(
            score.probability, score.model_version, score.missing_features, reasons, score.unknown_categories
        )
