"""boto3 clients, made on first use so the endpoint variables boto3 reads and test set-up apply."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# InvokeEndpoint retries are ours (churn_lambda.endpoint); a live call cannot wait long, so the
# read timeout is short and the whole retry budget stays well inside the function's timeout.
_ENDPOINT = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=5, connect_timeout=2)
_STANDARD = Config(retries={"max_attempts": 3, "mode": "standard"})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_ENDPOINT if service == "sagemaker-runtime" else _STANDARD)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_STANDARD).Table(name)


def reset() -> None:
    client.cache_clear()
    table.cache_clear()
