"""boto3 clients, made on first use so the endpoint variables boto3 reads
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_TRANSCRIBE``...) and test set-up apply."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Transcribe throttling is retried by our own bounded backoff, so botocore tries once.
_ONE_ATTEMPT = Config(retries={"total_max_attempts": 1, "mode": "standard"})
_STANDARD = Config(retries={"max_attempts": 3, "mode": "standard"})


@cache
def client(service: str) -> Any:
    config = _ONE_ATTEMPT if service == "transcribe" else _STANDARD
    return boto3.client(service, config=config)


def reset() -> None:
    """Forget the cached clients (tests switch credentials and endpoints)."""
    client.cache_clear()
    table.cache_clear()


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_STANDARD).Table(name)
