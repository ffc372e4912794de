"""Keep call content out of logs, whatever level the loggers are set to.

At DEBUG, botocore and boto3 log every request's parameters and every response body: the text
sent to the endpoint, the excerpt written to DynamoDB and published to SNS. These
loggers are the ones that print payloads; their DEBUG records are dropped at the source.
"""

from __future__ import annotations

import logging

PAYLOAD_LOGGERS = ("botocore.endpoint", "botocore.parsers", "boto3.resources.action")


class DropPayloadRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_FILTER = DropPayloadRecords()


def install() -> None:
    """Idempotent: the same filter object is added at most once per logger."""
    for name in PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
