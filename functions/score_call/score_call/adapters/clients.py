"""boto3 clients, made on first use so the endpoint variables boto3 reads
(``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``...) and test set-up apply."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from churn_lambda.clients import Clients

# InvokeEndpoint retries are ours (only throttling, 5xx and ModelNotReady), so botocore tries once;
# 4 attempts x 20 s plus backoff stay inside the function's 120 s timeout.
_CLIENTS = Clients(
    endpoint=Config(
        retries={"total_max_attempts": 1, "mode": "standard"}, read_timeout=20, connect_timeout=5
    ),
    standard=Config(retries={"max_attempts": 3, "mode": "standard"}),
)
client = _CLIENTS.client
table = _CLIENTS.table


@cache
def presigning_s3() -> Any:
    """S3 for presigned links: SigV4 (the only signature that carries a session token and an
    expiry of up to 7 days), virtual-hosted addresses."""
    config = _CLIENTS.standard_config.merge(
        Config(signature_version="s3v4", s3={"addressing_style": "virtual"})
    )
    return boto3.client("s3", config=config)


def reset() -> None:
    """Forget the cached clients (tests switch credentials and endpoints)."""
    _CLIENTS.reset()
    presigning_s3.cache_clear()
