"""Powertools Logger, Tracer and Metrics, configured by the POWERTOOLS_* environment variables.

Request bodies carry what customers said: they are never logged. botocore's payload loggers
(which print request parameters at DEBUG) are held at WARNING whatever the log level.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "score-api"
NAMESPACE = "ChurnAlerts"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)

for _name in ("botocore", "boto3", "urllib3"):
    logging.getLogger(_name).setLevel(logging.WARNING)
