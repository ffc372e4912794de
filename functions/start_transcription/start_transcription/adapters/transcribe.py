"""Amazon Transcribe: start a job; an existing job is success, throttling is retried."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from churn_lambda.logs import safe_reason
from churn_lambda.retry import Backoff, call_with_backoff

from ..models import JobRequest, TranscriptionRejectedError

_THROTTLED = {
    "LimitExceededException",
    "LimitExceededConcurrentJobException",  # the deferred-job queue (10,000) is full
    "ThrottlingException",
    "TooManyRequestsException",
}
_TRANSIENT = {"InternalFailureException", "ServiceUnavailableException"}

log = logging.getLogger(__name__)


def _code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def _retryable(exc: Exception) -> bool:
    return _code(exc) in _THROTTLED | _TRANSIENT


class TranscriptionService:
    def __init__(
        self, transcribe: Any, backoff: Backoff | None = None, sleep: Callable[[float], None] | None = None
    ) -> None:
        self._transcribe = transcribe
        self._backoff = backoff or Backoff()
        self._sleep = sleep

    def start(self, request: JobRequest) -> bool:
        """Start the job; ``False`` if it already exists (a duplicate event), ``True`` if started.

        Raises the last throttling error when the backoff is spent, and
        :class:`TranscriptionRejectedError` for a request Transcribe refuses.
        """
        kwargs: dict[str, Any] = {
            "retryable": _retryable,
            "backoff": self._backoff,
            "on_retry": self._log_retry,
        }
        if self._sleep is not None:
            kwargs["sleep"] = self._sleep
        try:
            call_with_backoff(lambda: self._transcribe.start_transcription_job(**request.to_api()), **kwargs)
        except ClientError as exc:
            code = _code(exc)
            if code == "ConflictException":
                return False
            if code == "BadRequestException":
                message = exc.response.get("Error", {}).get("Message", "")
                raise TranscriptionRejectedError(safe_reason(message)) from None
            raise
        return True

    @staticmethod
    def _log_retry(exc: Exception, attempt: int) -> None:
        log.warning(
            "Transcribe throttled or unavailable, retrying",
            extra={"error_code": _code(exc), "attempt": attempt},
        )
