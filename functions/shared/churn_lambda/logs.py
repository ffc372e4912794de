"""Keep call content out of logs, whatever level the application logs at.

At DEBUG, botocore, boto3 and urllib3 print request parameters, URLs and response bodies: the
object key (which can hold a name or a phone number), the text sent to the endpoint, the
excerpt. Those loggers are pinned to WARNING, and their DEBUG records are dropped at the
source too, so ``LogLevel=DEBUG`` (Lambda's ``ApplicationLogLevel``) stays safe.
"""

from __future__ import annotations

import logging
import re

PINNED_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")
# The ones that print request URLs, parameters or bodies: their DEBUG records are dropped even
# if someone sets them to DEBUG by name (a parent's level or filter does not reach them then).
PAYLOAD_LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.auth",
    "botocore.httpsession",
    "botocore.regions",  # the endpoint ruleset's parameters: Bucket and Key
    "botocore.endpoint_provider",
    "boto3.resources.action",
    "urllib3.connectionpool",
)
_URI = re.compile(r"(?:s3|https?)://\S+", re.IGNORECASE)
_DIGITS = re.compile(r"\+?\d[\d\s().-]{5,}\d")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
MAX_REASON_CHARS = 200


class _DropDebug(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_FILTER = _DropDebug()


def pin_library_loggers() -> None:
    """Idempotent; call at import time of each handler."""
    for name in PINNED_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in PINNED_LOGGERS + PAYLOAD_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def safe_reason(text: object, limit: int = MAX_REASON_CHARS) -> str:
    """A bounded, log-safe form of a service's free-text reason (URIs and long numbers masked)."""
    value = str(text if text is not None else "")
    value = _URI.sub("<uri>", value)
    value = _DIGITS.sub("<number>", value)
    value = _CONTROL.sub(" ", value)
    value = value.encode("utf-8", "replace").decode("utf-8", "replace")
    value = " ".join(value.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"
