"""boto3 clients, made on first use so ``AWS_ENDPOINT_URL*`` and test set-up apply."""

from __future__ import annotations

from botocore.config import Config
from churn_lambda.clients import Clients

# An API caller waits on us: the endpoint gets one botocore try (our own retries are few and
# short), and timeouts well inside API Gateway's 29 s integration limit.
_CLIENTS = Clients(
    endpoint=Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=2
    ),
    standard=Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=5, connect_timeout=2),
)
client = _CLIENTS.client
table = _CLIENTS.table
reset = _CLIENTS.reset
