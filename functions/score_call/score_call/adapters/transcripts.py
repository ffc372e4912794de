"""S3: read a Transcribe output document from the URI the job reports."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

from churn_contracts.transcribe import MalformedTranscriptError

MAX_TRANSCRIPT_BYTES = 50 * 1024 * 1024


class TranscriptLocationError(ValueError):
    """The URI is not an S3 object we may read."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_location(uri: str) -> S3Location:
    """``s3://b/k``, path-style ``https://s3.<region>.amazonaws.com/b/k`` (what Transcribe
    reports), virtual-hosted ``https://b.s3.<region>.amazonaws.com/k``, or a local endpoint's
    path-style URL."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        bucket, key = parsed.netloc, parsed.path.lstrip("/")
    elif parsed.scheme in {"http", "https"}:
        host = parsed.hostname or ""
        path = unquote(parsed.path)
        marker = ".s3."
        if host.endswith(".amazonaws.com") and marker in host and not host.startswith("s3."):
            bucket, key = host.split(marker, 1)[0], path.lstrip("/")
        elif ".s3-" in host and host.endswith(".amazonaws.com"):
            bucket, key = host.split(".s3-", 1)[0], path.lstrip("/")
        else:
            bucket, _, key = path.lstrip("/").partition("/")
    else:
        raise TranscriptLocationError("transcript URI is not an S3 location")
    if not bucket or not key:
        raise TranscriptLocationError("transcript URI has no bucket or key")
    return S3Location(bucket, key)


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
        except (UnicodeDecodeError, ValueError):
            raise MalformedTranscriptError("transcript is not valid JSON") from None
        if not isinstance(document, dict):
            raise MalformedTranscriptError("transcript document is not a JSON object")
        return document
