"""Amazon Transcribe: where a finished job put its transcript."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TranscriptionJob:
    name: str
    status: str
    transcript_uri: str | None
    redacted_transcript_uri: str | None
    redacted: bool
    media_uri: str | None


class TranscriptionJobs:
    def __init__(self, transcribe: Any) -> None:
        self._transcribe = transcribe

    def get(self, job_name: str) -> TranscriptionJob:
        job = self._transcribe.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
        transcript = job.get("Transcript") or {}
        return TranscriptionJob(
            name=job_name,
            status=str(job.get("TranscriptionJobStatus", "")),
            transcript_uri=transcript.get("TranscriptFileUri"),
            redacted_transcript_uri=transcript.get("RedactedTranscriptFileUri"),
            redacted=bool((job.get("ContentRedaction") or {}).get("RedactionType")),
            media_uri=(job.get("Media") or {}).get("MediaFileUri"),
        )
