"""boto3 clients, made on first use so the endpoint variables boto3 reads and test set-up apply."""

from __future__ import annotations

from botocore.config import Config
from churn_lambda.clients import Clients

# InvokeEndpoint retries are ours (churn_lambda.endpoint); a live call cannot wait long, so the
# read timeout is short and the whole retry budget stays well inside the function's timeout.
_CLIENTS = Clients(
    endpoint=Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=5, connect_timeout=2),
    standard=Config(retries={"max_attempts": 3, "mode": "standard"}),
)
client = _CLIENTS.client
table = _CLIENTS.table
reset = _CLIENTS.reset
