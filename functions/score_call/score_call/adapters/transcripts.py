"""S3: read a Transcribe output document from where the job put it."""

from __future__ import annotations

import json
from typing import Any

from churn_contracts.locations import S3Location
from churn_contracts.transcribe import MalformedTranscriptError

MAX_TRANSCRIPT_BYTES = 50 * 1024 * 1024


class TranscriptStore:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def read(self, location: S3Location) -> dict[str, Any]:
        """The document; raises ``MalformedTranscriptError`` if it is not a JSON object."""
        response = self._s3.get_object(Bucket=location.bucket, Key=location.key)
        if int(response.get("ContentLength", 0)) > MAX_TRANSCRIPT_BYTES:
            raise MalformedTranscriptError("transcript is larger than the function will read")
        body = response["Body"].read()
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise MalformedTranscriptError("transcript is not valid JSON") from None
        if not isinstance(document, dict):
            raise MalformedTranscriptError("transcript document is not a JSON object")
        return document
