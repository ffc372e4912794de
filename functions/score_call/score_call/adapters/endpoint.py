"""SageMaker Runtime: score one record on the churn endpoint.

The retries and error mapping are the shared ``churn_lambda.endpoint``'s; here a transient
failure raises :class:`EndpointUnavailableError` (the invocation fails; Lambda retries, then the
on-failure queue keeps the event) and a container 4xx raises :class:`ModelRejectedError`,
recorded on the call as SCORING_FAILED.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churn_contracts.endpoint import Score, parse_score
from churn_lambda.endpoint import JsonEndpoint
from churn_lambda.retry import Backoff

from ..models import EndpointUnavailableError, ModelRejectedError


class EndpointScorer(JsonEndpoint):
    default_backoff = Backoff(attempts=4, base_s=0.25, cap_s=4.0)
    unavailable_error = EndpointUnavailableError
    rejected_error = ModelRejectedError

    def score(self, record: Mapping[str, Any]) -> Score:
        return parse_score(self.invoke(record))
