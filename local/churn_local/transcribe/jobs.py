"""Transcription jobs: the request checks, the store, and the worker that runs them.

The rules follow the Amazon Transcribe API reference, so a caller that works here works
there: names unique until deleted, the output location derived from OutputBucketName and
OutputKey, IN_PROGRESS until the worker finishes, then COMPLETED or FAILED.
"""

from __future__ import annotations

import copy
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from churn_contracts.locations import LocationError, S3Location, parse_location

logger = logging.getLogger(__name__)

JOB_NAME = re.compile(r"^[0-9a-zA-Z._-]{1,200}$")
OUTPUT_KEY = re.compile(r"^[a-zA-Z0-9\-_.!*'()/]{1,1024}$")
MEDIA_FORMATS = frozenset({"mp3", "mp4", "wav", "flac", "ogg", "amr", "webm", "m4a"})
REDACTION_OUTPUTS = frozenset({"redacted", "redacted_and_unredacted"})
DEFAULT_LIST_SIZE = 5  # what ListTranscriptionJobs returns without MaxResults


class TranscribeError(Exception):
    """An API error; ``code`` is the exception name boto3 raises."""

    code = "InternalFailureException"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(TranscribeError):
    code = "BadRequestException"


class ConflictError(TranscribeError):
    code = "ConflictException"


class NotFoundError(TranscribeError):
    code = "NotFoundException"


class LimitExceededError(TranscribeError):
    code = "LimitExceededException"


class InternalFailureError(TranscribeError):
    code = "InternalFailureException"
    status = 500


def parse_media_uri(uri: str) -> S3Location:
    """``s3://bucket/key`` or an S3 https URL (path or virtual-host style): the shared parser,
    limited to what Transcribe accepts (no other hosts)."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3" or (parsed.scheme == "https" and parsed.netloc.endswith(".amazonaws.com")):
        try:
            return parse_location(uri)
        except LocationError:
            pass
    raise BadRequestError(f"The media file URI {uri!r} is not valid. Specify an Amazon S3 URI.")


def output_location(job_name: str, bucket: str, output_key: str | None) -> S3Location:
    """Where the transcript goes: OutputKey ending in '/' is a folder, else the file name."""
    if not output_key:
        return S3Location(bucket, f"{job_name}.json")
    if output_key.endswith("/"):
        return S3Location(bucket, f"{output_key}{job_name}.json")
    return S3Location(bucket, output_key if output_key.endswith(".json") else f"{output_key}.json")


def redacted_location(location: S3Location) -> S3Location:
    folder, _, name = location.key.rpartition("/")
    return S3Location(location.bucket, f"{folder}/redacted-{name}" if folder else f"redacted-{name}")


@dataclass
class TranscriptionJob:
    name: str
    media: S3Location
    media_uri: str
    language_code: str
    media_format: str | None
    output: S3Location | None  # None: the service keeps the transcript (SERVICE_BUCKET)
    settings: dict[str, Any]
    content_redaction: dict[str, Any] | None
    tags: list[dict[str, str]]
    media_sample_rate: int | None = None
    status: str = "IN_PROGRESS"
    failure_reason: str | None = None
    creation_time: float = field(default_factory=time.time)
    start_time: float | None = None
    completion_time: float | None = None
    transcript: dict[str, str] = field(default_factory=dict)

    @property
    def channel_identification(self) -> bool:
        return bool(self.settings.get("ChannelIdentification"))

    @property
    def speaker_labels(self) -> bool:
        return bool(self.settings.get("ShowSpeakerLabels"))

    @property
    def redaction_output(self) -> str | None:
        return self.content_redaction.get("RedactionOutput") if self.content_redaction else None

    def describe(self) -> dict[str, Any]:
        """The TranscriptionJob structure of GetTranscriptionJob."""
        out: dict[str, Any] = {
            "TranscriptionJobName": self.name,
            "TranscriptionJobStatus": self.status,
            "LanguageCode": self.language_code,
            "Media": {"MediaFileUri": self.media_uri},
            "CreationTime": self.creation_time,
            "Settings": {"ChannelIdentification": False, "ShowAlternatives": False, **self.settings},
        }
        optional = {
            "MediaFormat": self.media_format,
            "MediaSampleRateHertz": self.media_sample_rate,
            "StartTime": self.start_time,
            "CompletionTime": self.completion_time,
            "FailureReason": self.failure_reason,
            "ContentRedaction": self.content_redaction,
            "Tags": self.tags or None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        # Transcript is an empty structure until the job completes, as on AWS.
        out["Transcript"] = dict(self.transcript) if self.status == "COMPLETED" else {}
        return out

    def summary(self) -> dict[str, Any]:
        """The TranscriptionJobSummary structure of ListTranscriptionJobs."""
        described = self.describe()
        keys = ("TranscriptionJobName", "CreationTime", "StartTime", "CompletionTime", "LanguageCode")
        keys += ("TranscriptionJobStatus", "FailureReason", "ContentRedaction")
        out = {k: described[k] for k in keys if k in described}
        out["OutputLocationType"] = "SERVICE_BUCKET" if self.output is None else "CUSTOMER_BUCKET"
        return out


def new_job(request: Mapping[str, Any]) -> TranscriptionJob:
    """Check a StartTranscriptionJob request as the service does; raise BadRequestError."""
    name = request.get("TranscriptionJobName")
    if not isinstance(name, str) or not JOB_NAME.match(name):
        raise BadRequestError(
            "TranscriptionJobName must be 1-200 characters of letters, digits, '.', '_' or '-'."
        )
    media_uri = (request.get("Media") or {}).get("MediaFileUri")
    if not isinstance(media_uri, str) or not media_uri:
        raise BadRequestError("Media.MediaFileUri is required.")
    media = parse_media_uri(media_uri)

    language = request.get("LanguageCode")
    if not language:
        if not (request.get("IdentifyLanguage") or request.get("IdentifyMultipleLanguages")):
            raise BadRequestError("Specify a LanguageCode, IdentifyLanguage or IdentifyMultipleLanguages.")
        language = "en-US"  # the only language the local recogniser has
    if not str(language).startswith("en-"):
        raise BadRequestError(f"The local Transcribe transcribes English only, not {language}.")

    media_format = request.get("MediaFormat")
    if media_format is not None and media_format not in MEDIA_FORMATS:
        raise BadRequestError(f"MediaFormat {media_format!r} is not one of {sorted(MEDIA_FORMATS)}.")

    settings = dict(request.get("Settings") or {})
    if settings.get("ShowSpeakerLabels") and not settings.get("MaxSpeakerLabels"):
        raise BadRequestError("When ShowSpeakerLabels is true, you must also specify MaxSpeakerLabels.")
    if settings.get("MaxSpeakerLabels") and not settings.get("ShowSpeakerLabels"):
        raise BadRequestError("MaxSpeakerLabels needs ShowSpeakerLabels set to true.")
    if settings.get("ShowSpeakerLabels") and settings.get("ChannelIdentification"):
        raise BadRequestError("You can't use ChannelIdentification and ShowSpeakerLabels in the same job.")
    if settings.get("MaxSpeakerLabels") is not None and not 2 <= int(settings["MaxSpeakerLabels"]) <= 30:
        raise BadRequestError("MaxSpeakerLabels must be between 2 and 30.")

    redaction = request.get("ContentRedaction")
    if redaction is not None:
        if (
            redaction.get("RedactionType") != "PII"
            or redaction.get("RedactionOutput") not in REDACTION_OUTPUTS
        ):
            raise BadRequestError("ContentRedaction needs RedactionType PII and a valid RedactionOutput.")
        redaction = dict(redaction)

    bucket, key = request.get("OutputBucketName"), request.get("OutputKey")
    if key is not None and not bucket:
        raise BadRequestError("OutputKey needs OutputBucketName.")
    if key is not None and not OUTPUT_KEY.match(key):
        raise BadRequestError(f"OutputKey {key!r} contains characters Amazon Transcribe does not allow.")
    output = output_location(name, bucket, key) if bucket else None

    return TranscriptionJob(
        name=name,
        media=media,
        media_uri=media_uri,
        language_code=str(language),
        media_format=media_format,
        output=output,
        settings=settings,
        content_redaction=redaction,
        tags=list(request.get("Tags") or []),
        media_sample_rate=request.get("MediaSampleRateHertz"),
    )


class JobStore:
    """Jobs by name, safe to share between the API threads and the worker."""

    def __init__(self, *, max_pending: int = 100) -> None:
        self._jobs: dict[str, TranscriptionJob] = {}
        self._lock = threading.Lock()
        self.max_pending = max_pending

    def add(self, job: TranscriptionJob) -> dict[str, Any]:
        with self._lock:
            if job.name in self._jobs:
                raise ConflictError("The requested job name already exists. Use a different job name.")
            pending = sum(1 for j in self._jobs.values() if j.status == "IN_PROGRESS")
            if pending >= self.max_pending:
                raise LimitExceededError(
                    f"You have {pending} jobs in progress, the most the local Transcribe accepts. "
                    "Wait for some to finish and try your request again."
                )
            job.start_time = job.creation_time
            self._jobs[job.name] = job
            return job.describe()

    def get(self, name: str) -> TranscriptionJob:
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                raise NotFoundError(
                    "The requested job couldn't be found. Check the job name and try your request again."
                )
            return copy.deepcopy(job)

    def describe(self, name: str) -> dict[str, Any]:
        return self.get(name).describe()

    def delete(self, name: str) -> None:
        with self._lock:
            if self._jobs.pop(name, None) is None:
                raise BadRequestError(
                    "The requested job couldn't be found. Check the job name and try your request again."
                )

    def finish(
        self, name: str, *, transcript: dict[str, str] | None = None, failure: str | None = None
    ) -> bool:
        """Record the outcome; False if the job was deleted while it ran."""
        with self._lock:
            job = self._jobs.get(name)
            if job is None:
                return False
            job.completion_time = time.time()
            if failure is None:
                job.status, job.transcript = "COMPLETED", dict(transcript or {})
            else:
                job.status, job.failure_reason = "FAILED", failure
            return True

    def list(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> dict[str, Any]:
        if status is not None and status not in {"QUEUED", "IN_PROGRESS", "FAILED", "COMPLETED"}:
            raise BadRequestError(f"Status {status!r} is not a transcription job status.")
        size = DEFAULT_LIST_SIZE if max_results is None else int(max_results)
        if not 1 <= size <= 100:
            raise BadRequestError("MaxResults must be between 1 and 100.")
        try:
            offset = int(next_token) if next_token else 0
        except ValueError as exc:
            raise BadRequestError("The NextToken is not valid.") from exc
        with self._lock:
            jobs = sorted(self._jobs.values(), key=lambda j: j.creation_time, reverse=True)
            if status:
                jobs = [j for j in jobs if j.status == status]
            if name_contains:
                jobs = [j for j in jobs if name_contains.lower() in j.name.lower()]
            page = [j.summary() for j in jobs[offset : offset + size]]
        out: dict[str, Any] = {"TranscriptionJobSummaries": page}
        if status:
            out["Status"] = status
        if offset + size < len(jobs):
            out["NextToken"] = str(offset + size)
        return out


class Worker:
    """Runs jobs one at a time on a background thread (the recogniser is CPU-bound)."""

    def __init__(self, run_job: Callable[[str], None]) -> None:
        self._run_job = run_job
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="transcribe-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, job_name: str) -> None:
        self._queue.put(job_name)

    def stop(self, timeout: float = 60.0) -> None:
        """Finish the job in hand, drop the rest, and stop."""
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        if self._thread.is_alive():
            self._thread.join(timeout)

    def idle(self) -> bool:
        return self._queue.unfinished_tasks == 0

    def _loop(self) -> None:
        while True:
            name = self._queue.get()
            try:
                if name is None:
                    return
                self._run_job(name)
            except Exception:  # the worker must outlive any one job
                logger.exception("transcription worker crashed on job %s", name)
            finally:
                self._queue.task_done()
