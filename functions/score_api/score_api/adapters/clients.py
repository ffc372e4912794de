"""boto3 clients, made on first use so ``AWS_ENDPOINT_URL*`` and test set-up apply."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# An API caller waits on us: the endpoint gets one botocore try (our own retries are few and
# short), and timeouts well inside API Gateway's 29 s integration limit.
_ENDPOINT = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=10, connect_timeout=2)
_STANDARD = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=5, connect_timeout=2)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_ENDPOINT if service == "sagemaker-runtime" else _STANDARD)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_STANDARD).Table(name)


def reset() -> None:
    client.cache_clear()
    table.cache_clear()
