"""The domain: a created object -> a recording -> a call item and a transcription job.

Plain functions over their collaborators (a recording store, a transcription service and a
calls repository), so tests pass moto-backed adapters or fakes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from .config import Settings
from .models import (
    CreatedObject,
    InvalidVersionError,
    JobRequest,
    Outcome,
    Recording,
    RecordingMetadata,
    RecordingNotFoundError,
    RecordingRejected,
    Rejection,
    Result,
    TranscriptionRejectedError,
)
from .recording import MEDIA_FORMATS, job_name, job_tags, parse_key, valid_id


class RecordingStore(Protocol):
    def metadata(self, bucket: str, key: str, version_id: str | None) -> RecordingMetadata: ...


class Transcriber(Protocol):
    def start(self, request: JobRequest) -> bool: ...


class CallsStore(Protocol):
    def begin(self, job_name: str, recording: Recording, now: datetime) -> bool: ...

    def fail(self, job_name: str, reason: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class Collaborators:
    recordings: RecordingStore
    transcriber: Transcriber
    calls: CallsStore


def identify(obj: CreatedObject, settings: Settings, recordings: RecordingStore) -> Recording:
    """Customer and call from the key; the ``customer-id`` metadata overrides the key's customer.

    Raises :class:`RecordingRejected`.
    """
    if obj.bucket != settings.recordings_bucket:
        raise RecordingRejected(Rejection.FOREIGN_BUCKET)
    parts = parse_key(obj.key, settings.recordings_prefix)
    if obj.size == 0:
        raise RecordingRejected(Rejection.EMPTY_OBJECT)
    try:
        metadata = recordings.metadata(obj.bucket, obj.key, obj.version_id)
    except RecordingNotFoundError:
        raise RecordingRejected(Rejection.NOT_FOUND) from None
    except InvalidVersionError:
        raise RecordingRejected(Rejection.INVALID_VERSION) from None
    if metadata.size == 0:
        raise RecordingRejected(Rejection.EMPTY_OBJECT)
    if metadata.customer_id and valid_id(metadata.customer_id.strip()):
        customer, source = metadata.customer_id.strip(), "metadata"
    elif parts.customer_id:
        customer, source = parts.customer_id, "path"
    else:
        raise RecordingRejected(Rejection.NO_CUSTOMER)
    version = obj.version_id or metadata.version_id
    return Recording(
        bucket=obj.bucket,
        key=obj.key,
        version_id=version,
        customer_id=customer,
        call_id=parts.call_id,
        media_format=MEDIA_FORMATS[parts.extension],
        customer_id_source=source,
        content_id=version or metadata.etag or obj.etag,
        agent_id=metadata.agent_id.strip() if valid_id((metadata.agent_id or "").strip()) else None,
    )


def job_request(recording: Recording, name: str, settings: Settings) -> JobRequest:
    return JobRequest(
        job_name=name,
        media_uri=recording.uri,
        media_format=recording.media_format,
        language_code=settings.language_code,
        output_bucket=settings.recordings_bucket,
        # A file name ending in .json; Transcribe writes exactly there, outside recordings/.
        output_key=f"{settings.transcripts_prefix}{name}.json",
        mode=settings.transcription_mode,
        pii_redaction=settings.pii_redaction,
        tags=job_tags(recording.customer_id, recording.call_id),
        data_access_role_arn=settings.data_access_role_arn if settings.deferred_execution else None,
    )


def start_transcription(
    obj: CreatedObject, settings: Settings, deps: Collaborators, *, now: datetime
) -> Outcome:
    """Write the call item (TRANSCRIBING), then start the job. Safe to run any number of times."""
    try:
        recording = identify(obj, settings, deps.recordings)
    except RecordingRejected as rejected:
        return Outcome(Result.REJECTED, rejection=rejected.reason)

    name = job_name(settings.job_name_prefix, obj.bucket, obj.key, recording.content_id)
    if not deps.calls.begin(name, recording, now):
        return Outcome(Result.DUPLICATE, job_name=name)
    try:
        started = deps.transcriber.start(job_request(recording, name, settings))
    except TranscriptionRejectedError as exc:
        reason = f"Transcribe refused the job: {exc}"
        deps.calls.fail(name, reason, now)
        return Outcome(Result.FAILED, job_name=name, reason=reason)
    return Outcome(Result.STARTED if started else Result.DUPLICATE, job_name=name)
