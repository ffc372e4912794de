"""One transcription job, start to finish: media from S3, turns, output document, event.

The clients are passed in (S3 and EventBridge on local AWS), so the same code runs in
tests against a moto server and in the demo against the shared one.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from churn_contracts.conversation import Role, Turn
from churn_contracts.transcribe import build_transcript

from .asr import SpeechRecognizer, Word
from .audio import UnsupportedMediaError, decode
from .jobs import BadRequestError, JobStore, NotFoundError, S3Location, TranscriptionJob, redacted_location

logger = logging.getLogger(__name__)

SIDECAR_PREFIX = "local-transcripts/"
WRITE_ACCESS_CHECK = ".write_access_check_file.temp"
EVENT_SOURCE = "aws.transcribe"
EVENT_DETAIL_TYPE = "Transcribe Job State Change"
# A pause this long inside one channel starts a new turn.
TURN_PAUSE_SECONDS = 1.0
MISSING_MEDIA = "The requested media file doesn't exist. Check the media file URI and try your request again."
_PII = re.compile(r"\S*\d\S*|\S+@\S+")


class JobFailure(Exception):
    """The job cannot complete; the message is its FailureReason."""


@dataclass
class Outcome:
    source: str  # "sidecar" or "asr"
    audio_seconds: float = 0.0


def sidecar_key(recording_key: str) -> str:
    return f"{SIDECAR_PREFIX}{recording_key}.json"


def check_write_access(s3, output: S3Location) -> None:
    """Write the probe file AWS writes, and refuse the job if the bucket is not writable."""
    folder = output.key.rpartition("/")[0]
    key = f"{folder}/{WRITE_ACCESS_CHECK}" if folder else WRITE_ACCESS_CHECK
    try:
        s3.put_object(Bucket=output.bucket, Key=key, Body=b"")
    except ClientError as exc:
        raise BadRequestError(
            f"The output bucket {output.bucket!r} is not writable "
            f"({exc.response.get('Error', {}).get('Code', 'error')}). Check the bucket name and permissions."
        ) from exc


def turns_from_words(words: Sequence[Word], role: Role, pause: float = TURN_PAUSE_SECONDS) -> list[Turn]:
    turns: list[Turn] = []
    current: list[Word] = []
    for word in words:
        if current and word.start - current[-1].end > pause:
            turns.append(Turn(role, " ".join(w.text for w in current), current[0].start))
            current = []
        current.append(word)
    if current:
        turns.append(Turn(role, " ".join(w.text for w in current), current[0].start))
    return turns


def redact(turns: Sequence[Turn]) -> list[Turn]:
    """Mask what looks like personal data (numbers, e-mail addresses) as Transcribe's [PII]."""
    return [Turn(t.role, _PII.sub("[PII]", t.text), t.start_time) for t in turns]


class JobRunner:
    """Runs one job by name; collaborators are injected."""

    def __init__(
        self,
        *,
        store: JobStore,
        s3,
        events,
        recognizer: Callable[[], SpeechRecognizer],
        region: str,
        account_id: str,
        service_transcripts: dict[str, bytes],
        service_url: Callable[[], str],
        event_bus: str = "default",
    ) -> None:
        self.store = store
        self.s3 = s3
        self.events = events
        self.recognizer = recognizer
        self.region = region
        self.account_id = account_id
        self.service_transcripts = service_transcripts
        self.service_url = service_url
        self.event_bus = event_bus

    def __call__(self, name: str) -> None:
        try:
            job = self.store.get(name)
        except NotFoundError:
            return  # deleted before it ran
        began = time.monotonic()
        outcome: Outcome | None = None
        try:
            turns, outcome = self._turns(job)
            transcript = self._write(job, turns)
            failure = None
        except JobFailure as exc:
            transcript, failure = None, str(exc)
        except Exception as exc:  # anything else is our fault, not the caller's: say so, keep serving
            logger.exception("transcription job %s failed unexpectedly", name)
            transcript, failure = None, f"Internal failure ({type(exc).__name__})"

        if not self.store.finish(name, transcript=transcript, failure=failure):
            return
        status = "FAILED" if failure else "COMPLETED"
        self._emit(name, status, failure)
        logger.info(
            "transcription job %s %s in %.2fs (source=%s, audio=%.1fs)%s",
            name,
            status,
            time.monotonic() - began,
            outcome.source if outcome else "-",
            outcome.audio_seconds if outcome else 0.0,
            f" reason={failure!r}" if failure else "",
        )

    # --- the steps ---

    def _turns(self, job: TranscriptionJob) -> tuple[list[Turn], Outcome]:
        sidecar = self._get(job.media.bucket, sidecar_key(job.media.key), missing_ok=True)
        if sidecar is not None:
            return _sidecar_turns(sidecar), Outcome("sidecar")
        data = self._get(job.media.bucket, job.media.key)
        try:
            recording = decode(data, job.media_format)
        except UnsupportedMediaError as exc:
            raise JobFailure(str(exc)) from exc
        engine = self.recognizer()
        if len(recording.channels) >= 2 and (job.channel_identification or job.speaker_labels):
            # Two channels are two speakers: with speaker labels too, the channel is the diarization.
            turns = turns_from_words(
                engine.transcribe(recording.channels[0], recording.sample_rate), Role.CUSTOMER
            )
            turns += turns_from_words(
                engine.transcribe(recording.channels[1], recording.sample_rate), Role.AGENT
            )
        else:
            # No diarization of mono audio here: it is one speaker, whom the document calls the customer.
            turns = turns_from_words(
                engine.transcribe(recording.mono(), recording.sample_rate), Role.CUSTOMER
            )
        turns.sort(key=lambda t: t.start_time)
        return turns, Outcome("asr", recording.duration)

    def _mode(self, job: TranscriptionJob) -> str:
        if job.channel_identification:
            return "channels"
        if job.speaker_labels:
            return "speakers"
        return "plain"

    def _write(self, job: TranscriptionJob, turns: list[Turn]) -> dict[str, str]:
        mode = self._mode(job)
        documents: dict[str, tuple[S3Location | None, dict[str, Any]]] = {}
        if job.redaction_output != "redacted":
            documents["TranscriptFileUri"] = (
                job.output,
                build_transcript(turns, job_name=job.name, account_id=self.account_id, mode=mode),
            )
        if job.redaction_output is not None:
            redacted = build_transcript(
                redact(turns), job_name=job.name, account_id=self.account_id, mode=mode
            )
            documents["RedactedTranscriptFileUri"] = (
                redacted_location(job.output) if job.output else None,
                redacted,
            )

        uris: dict[str, str] = {}
        for field, (location, document) in documents.items():
            body = json.dumps(document).encode()
            if location is None:
                file_name = (
                    f"{job.name}.json" if field == "TranscriptFileUri" else f"redacted-{job.name}.json"
                )
                self.service_transcripts[file_name] = body
                uris[field] = f"{self.service_url()}/transcripts/{file_name}"
                continue
            try:
                self.s3.put_object(
                    Bucket=location.bucket, Key=location.key, Body=body, ContentType="application/json"
                )
            except ClientError as exc:
                raise JobFailure(
                    f"Amazon Transcribe can't write to the output bucket {location.bucket!r}."
                ) from exc
            uris[field] = location.https_uri(self.region)
        return uris

    def _get(self, bucket: str, key: str, *, missing_ok: bool = False) -> bytes | None:
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                if missing_ok:
                    return None
                raise JobFailure(MISSING_MEDIA) from exc
            if code == "NoSuchBucket":
                if missing_ok:
                    return None
                raise JobFailure(f"The media bucket {bucket!r} doesn't exist.") from exc
            raise JobFailure(f"Amazon Transcribe can't read the media file ({code}).") from exc

    def _emit(self, name: str, status: str, failure: str | None) -> None:
        detail: dict[str, str] = {"TranscriptionJobName": name, "TranscriptionJobStatus": status}
        if failure:
            detail["FailureReason"] = failure
        try:
            result = self.events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": EVENT_DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "Resources": [],
                        "EventBusName": self.event_bus,
                    }
                ]
            )
            if result.get("FailedEntryCount"):
                logger.error(
                    "EventBridge refused the state-change event of job %s: %s", name, result["Entries"]
                )
        except (ClientError, BotoCoreError) as exc:
            # The job's state stands; a caller polling GetTranscriptionJob still sees it.
            logger.error("could not emit the state-change event of job %s: %s", name, exc)


def _sidecar_turns(data: bytes) -> list[Turn]:
    try:
        document = json.loads(data)
        turns = [Turn.from_dict(t) for t in document["turns"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise JobFailure(
            f"The local sidecar transcript is not {{'turns': [{{'role', 'text', 'start_time'}}]}}: {exc}"
        ) from exc
    if not turns:
        raise JobFailure("The local sidecar transcript has no turns.")
    return turns
