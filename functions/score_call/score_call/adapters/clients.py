"""boto3 clients, made on first use so the endpoint variables boto3 reads
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``...) and test set-up apply."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# InvokeEndpoint retries are ours (only throttling, 5xx and ModelNotReady), so botocore tries once;
# 4 attempts x 20 s plus backoff stay inside the function's 120 s timeout.
_ENDPOINT = Config(retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=20, connect_timeout=5)
_STANDARD = Config(retries={"max_attempts": 3, "mode": "standard"})


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_ENDPOINT if service == "sagemaker-runtime" else _STANDARD)


@cache
def presigning_s3() -> Any:
    """S3 for presigned links: SigV4 (the only signature that carries a session token and an
    expiry of up to 7 days), virtual-hosted addresses."""
    config = _STANDARD.merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    return boto3.client("s3", config=config)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", config=_STANDARD).Table(name)


def reset() -> None:
    """Forget the cached clients (tests switch credentials and endpoints)."""
    client.cache_clear()
    presigning_s3.cache_clear()
    table.cache_clear()
