"""The start function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from churn_lambda.env import ConfigError, number, parse_bool, required

__all__ = ["TRANSCRIPTION_MODES", "ConfigError", "Settings", "load_settings", "parse_bool"]

TRANSCRIPTION_MODES = ("channels", "speakers")


@dataclass(frozen=True)
class Settings:
    calls_table: str
    recordings_bucket: str
    job_name_prefix: str
    recordings_prefix: str = "recordings/"
    transcripts_prefix: str = "transcripts/"
    language_code: str = "en-US"
    transcription_mode: str = "channels"
    pii_redaction: bool = True  # redaction on by default (issue 13): no raw speech in alerts
    call_retention_days: int = 365
    # Past the concurrent-job quota, Transcribe queues deferred jobs (needs a data access role).
    deferred_execution: bool = False
    data_access_role_arn: str | None = None

    def __post_init__(self) -> None:
        if self.deferred_execution and not self.data_access_role_arn:
            raise ConfigError("DEFERRED_EXECUTION needs TRANSCRIBE_DATA_ACCESS_ROLE_ARN")
        if self.transcription_mode not in TRANSCRIPTION_MODES:
            raise ConfigError(f"TRANSCRIPTION_MODE must be one of {TRANSCRIPTION_MODES}")
        if not self.transcripts_prefix.endswith("/") or not self.recordings_prefix.endswith("/"):
            raise ConfigError("RECORDINGS_PREFIX and TRANSCRIPTS_PREFIX must end with '/'")
        if self.transcripts_prefix.startswith(self.recordings_prefix):
            # Transcribe writes here; a prefix inside recordings/ would re-trigger this function.
            raise ConfigError("TRANSCRIPTS_PREFIX must not lie under RECORDINGS_PREFIX")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        calls_table=required(env, "CALLS_TABLE"),
        recordings_bucket=required(env, "RECORDINGS_BUCKET"),
        job_name_prefix=required(env, "JOB_NAME_PREFIX"),
        recordings_prefix=env.get("RECORDINGS_PREFIX", "recordings/"),
        transcripts_prefix=env.get("TRANSCRIPTS_PREFIX", "transcripts/"),
        language_code=env.get("LANGUAGE_CODE", "en-US"),
        transcription_mode=env.get("TRANSCRIPTION_MODE", "channels"),
        pii_redaction=parse_bool(env.get("PII_REDACTION"), True),
        call_retention_days=number(env, "CALL_RETENTION_DAYS", 365, int),
        deferred_execution=parse_bool(env.get("DEFERRED_EXECUTION"), False),
        data_access_role_arn=env.get("TRANSCRIBE_DATA_ACCESS_ROLE_ARN", "").strip() or None,
    )
