"""boto3 clients and DynamoDB tables, made on first use and cached per container.

Made lazily so the endpoint variables boto3 reads (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME``...) and a test's set-up apply; :meth:`Clients.reset`
forgets them (tests switch credentials and endpoints). Each function passes its own botocore
configs: the SageMaker Runtime one is the function's, since InvokeEndpoint's retries are ours
(``churn_lambda.endpoint``) and its timeouts depend on who waits.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

ENDPOINT_SERVICE = "sagemaker-runtime"


class Clients:
    def __init__(self, *, endpoint: Config, standard: Config) -> None:
        self.endpoint_config = endpoint
        self.standard_config = standard
        self.client = cache(self._client)
        self.table = cache(self._table)

    def _client(self, service: str) -> Any:
        config = self.endpoint_config if service == ENDPOINT_SERVICE else self.standard_config
        return boto3.client(service, config=config)

    def _table(self, name: str) -> Any:
        return boto3.resource("dynamodb", config=self.standard_config).Table(name)

    def reset(self) -> None:
        self.client.cache_clear()
        self.table.cache_clear()
