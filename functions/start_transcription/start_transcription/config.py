"""The start function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

TRANSCRIPTION_MODES = ("channels", "speakers")


class ConfigError(ValueError):
    """A setting is missing or invalid; the function cannot run until the template is fixed."""


@dataclass(frozen=True)
class Settings:
    calls_table: str
    recordings_bucket: str
    job_name_prefix: str
    recordings_prefix: str = "recordings/"
    transcripts_prefix: str = "transcripts/"
    language_code: str = "en-US"
    transcription_mode: str = "channels"
    pii_redaction: bool = False
    call_retention_days: int = 365

    def __post_init__(self) -> None:
        if self.transcription_mode not in TRANSCRIPTION_MODES:
            raise ConfigError(f"TRANSCRIPTION_MODE must be one of {TRANSCRIPTION_MODES}")
        if not self.transcripts_prefix.endswith("/") or not self.recordings_prefix.endswith("/"):
            raise ConfigError("RECORDINGS_PREFIX and TRANSCRIPTS_PREFIX must end with '/'")
        if self.transcripts_prefix.startswith(self.recordings_prefix):
            # Transcribe writes here; a prefix inside recordings/ would re-trigger this function.
            raise ConfigError("TRANSCRIPTS_PREFIX must not lie under RECORDINGS_PREFIX")


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    try:
        retention = int(env.get("CALL_RETENTION_DAYS", "365"))
    except ValueError as exc:
        raise ConfigError("CALL_RETENTION_DAYS must be an integer") from exc
    return Settings(
        calls_table=_required(env, "CALLS_TABLE"),
        recordings_bucket=_required(env, "RECORDINGS_BUCKET"),
        job_name_prefix=_required(env, "JOB_NAME_PREFIX"),
        recordings_prefix=env.get("RECORDINGS_PREFIX", "recordings/"),
        transcripts_prefix=env.get("TRANSCRIPTS_PREFIX", "transcripts/"),
        language_code=env.get("LANGUAGE_CODE", "en-US"),
        transcription_mode=env.get("TRANSCRIPTION_MODE", "channels"),
        pii_redaction=parse_bool(env.get("PII_REDACTION")),
        call_retention_days=retention,
    )
