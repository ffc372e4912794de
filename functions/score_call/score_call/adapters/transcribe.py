"""Amazon Transcribe: a job's state and where it put its transcript."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..models import TranscriptionJob


class TranscriptionJobs:
    def __init__(self, transcribe: Any) -> None:
        self._transcribe = transcribe

    def get(self, job_name: str) -> TranscriptionJob | None:
        """The job, or ``None`` if Transcribe does not know it (never started, or deleted)."""
        try:
            job = self._transcribe.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"NotFoundException", "BadRequestException"}:
                return None
            raise
        transcript = job.get("Transcript") or {}
        return TranscriptionJob(
            name=job_name,
            status=str(job.get("TranscriptionJobStatus", "")),
            transcript_uri=transcript.get("TranscriptFileUri"),
            redacted_transcript_uri=transcript.get("RedactedTranscriptFileUri"),
            redacted=bool((job.get("ContentRedaction") or {}).get("RedactionType")),
            media_uri=(job.get("Media") or {}).get("MediaFileUri"),
            failure_reason=job.get("FailureReason"),
        )
