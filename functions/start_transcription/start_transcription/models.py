"""The start function's domain types: a created object, a recording, a job request, an outcome.

Adapters build and consume these; the domain never imports an adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from churn_contracts.locations import S3Location


class InvalidEventError(ValueError):
    """Neither an S3 notification nor an EventBridge S3 event: rejected once, counted, not retried."""


class RecordingNotFoundError(LookupError):
    """The object is gone (deleted before we got to it)."""


class InvalidVersionError(ValueError):
    """S3 refused the event's version id as malformed (400): no retry can make it valid."""


class TranscriptionRejectedError(ValueError):
    """Transcribe refused the request itself (BadRequestException): retrying will not help."""


class Rejection(StrEnum):
    """Why a recording is not transcribed. Values are metric/log labels, never key contents."""

    OUTSIDE_PREFIX = "outside-prefix"
    FOREIGN_BUCKET = "foreign-bucket"
    FOLDER_MARKER = "folder-marker"
    UNSUPPORTED_FORMAT = "unsupported-format"
    NO_CUSTOMER = "no-customer"
    NO_CALL_ID = "no-call-id"
    ID_TOO_LONG = "id-too-long"
    INVALID_KEY = "invalid-key"
    EMPTY_OBJECT = "empty-object"
    NOT_FOUND = "not-found"
    INVALID_VERSION = "invalid-version"


class RecordingRejected(ValueError):
    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str
    version_id: str | None
    size: int | None
    # The id that ties this invocation's logs to the S3 request or EventBridge event.
    correlation_id: str | None
    etag: str | None = None


@dataclass(frozen=True)
class RecordingMetadata:
    size: int
    customer_id: str | None
    etag: str | None = None
    version_id: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class Recording:
    bucket: str
    key: str
    version_id: str | None
    customer_id: str
    call_id: str
    media_format: str
    customer_id_source: str  # "metadata" or "path"
    content_id: str | None = None  # the ETag, where the bucket has no versions
    agent_id: str | None = None  # from the ``agent-id`` metadata: the alert names the agent

    @property
    def location(self) -> S3Location:
        return S3Location(self.bucket, self.key)

    @property
    def uri(self) -> str:
        return self.location.uri


@dataclass(frozen=True)
class JobRequest:
    job_name: str
    media_uri: str
    media_format: str
    language_code: str
    output_bucket: str
    output_key: str
    mode: str  # "channels" or "speakers"
    pii_redaction: bool
    tags: list[dict[str, str]]
    # Transcribe queues jobs past its concurrency quota (up to 10,000) instead of refusing them.
    data_access_role_arn: str | None = None

    def to_api(self) -> dict[str, Any]:
        settings: dict[str, Any] = (
            {"ChannelIdentification": True}
            if self.mode == "channels"
            else {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 2}
        )
        request: dict[str, Any] = {
            "TranscriptionJobName": self.job_name,
            "LanguageCode": self.language_code,
            "MediaFormat": self.media_format,
            "Media": {"MediaFileUri": self.media_uri},
            "OutputBucketName": self.output_bucket,
            "OutputKey": self.output_key,
            "Settings": settings,
        }
        if self.pii_redaction:
            # Only the redacted transcript is written, so nothing downstream can read the original.
            request["ContentRedaction"] = {"RedactionType": "PII", "RedactionOutput": "redacted"}
        if self.data_access_role_arn:
            request["JobExecutionSettings"] = {
                "AllowDeferredExecution": True,
                "DataAccessRoleArn": self.data_access_role_arn,
            }
        if self.tags:
            request["Tags"] = self.tags
        return request


class Result(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    result: Result
    job_name: str | None = None
    rejection: Rejection | None = None
    reason: str | None = None
