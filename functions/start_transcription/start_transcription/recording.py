"""A recording's identity: customer, call, media format and its transcription job name."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass
from enum import StrEnum

# Extension -> Transcribe MediaFormat.
MEDIA_FORMATS: dict[str, str] = {
    "mp3": "mp3",
    "mp4": "mp4",
    "m4a": "m4a",
    "wav": "wav",
    "flac": "flac",
    "ogg": "ogg",
    "amr": "amr",
    "webm": "webm",
}

MAX_JOB_NAME = 200
MAX_ID_CHARS = 128
_HASH_CHARS = 12
_UNSAFE = re.compile(r"[^0-9A-Za-z._-]+")
# Transcribe tag values: letters, digits, spaces and + - = . _ : / @ (at most 256 characters).
_TAG_VALUE = re.compile(r"^[\w\s+\-=.:/@]{1,256}$", re.ASCII)
JOB_NAME_PATTERN = re.compile(r"^[0-9a-zA-Z._-]+$")


class Rejection(StrEnum):
    """Why a recording is not transcribed. Values are metric/log labels, never key contents."""

    OUTSIDE_PREFIX = "outside-prefix"
    FOREIGN_BUCKET = "foreign-bucket"
    FOLDER_MARKER = "folder-marker"
    UNSUPPORTED_FORMAT = "unsupported-format"
    NO_CUSTOMER = "no-customer"
    NO_CALL_ID = "no-call-id"
    EMPTY_OBJECT = "empty-object"
    NOT_FOUND = "not-found"


class RecordingRejected(ValueError):
    def __init__(self, reason: Rejection) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class KeyParts:
    customer_id: str | None
    call_id: str
    extension: str


@dataclass(frozen=True)
class Recording:
    bucket: str
    key: str
    version_id: str | None
    customer_id: str
    call_id: str
    media_format: str
    customer_id_source: str  # "metadata" or "path"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def parse_key(key: str, prefix: str) -> KeyParts:
    """``<prefix><customer_id>/<call_id>.<ext>``; deeper folders keep the first as the customer.

    Raises :class:`RecordingRejected`.
    """
    if not key.startswith(prefix):
        raise RecordingRejected(Rejection.OUTSIDE_PREFIX)
    if key.endswith("/"):
        raise RecordingRejected(Rejection.FOLDER_MARKER)
    parts = key[len(prefix) :].split("/")
    filename = parts[-1]
    stem, dot, extension = filename.rpartition(".")
    if not dot:
        raise RecordingRejected(Rejection.UNSUPPORTED_FORMAT)
    extension = extension.lower()
    if extension not in MEDIA_FORMATS:
        raise RecordingRejected(Rejection.UNSUPPORTED_FORMAT)
    call_id = stem.strip()
    if not valid_id(call_id):
        raise RecordingRejected(Rejection.NO_CALL_ID)
    customer = parts[0].strip() if len(parts) > 1 else None
    return KeyParts(
        customer_id=customer if customer and valid_id(customer) else None,
        call_id=call_id,
        extension=extension,
    )


def valid_id(value: str | None) -> bool:
    return bool(value) and len(value) <= MAX_ID_CHARS and value.isprintable() and "/" not in value


def _sanitise(value: str, limit: int) -> str:
    return _UNSAFE.sub("-", value).strip("-")[:limit].strip("-") or "x"


def job_name(
    prefix: str, recording_bucket: str, key: str, version_id: str | None, customer_id: str, call_id: str
) -> str:
    """Deterministic and valid: the same object always yields the same job, so duplicates collide.

    ``<prefix><customer>-<call>-<hash>``; the hash covers bucket, key and version, so two
    objects whose ids sanitise alike still get distinct jobs.
    """
    digest = hashlib.sha256(f"{recording_bucket}\n{key}\n{version_id or ''}".encode()).hexdigest()
    budget = MAX_JOB_NAME - len(prefix) - _HASH_CHARS - 2
    if budget < 2:
        raise ValueError("job name prefix is too long")
    customer = _sanitise(customer_id, max(1, budget // 2))
    call = _sanitise(call_id, max(1, budget - len(customer)))
    name = f"{prefix}{customer}-{call}-{digest[:_HASH_CHARS]}"
    if not JOB_NAME_PATTERN.match(name) or len(name) > MAX_JOB_NAME:
        raise ValueError("job name prefix holds characters Transcribe does not allow")
    return name


def job_tags(customer_id: str, call_id: str) -> list[dict[str, str]]:
    """Ids as job tags where Transcribe's tag rules allow them; others are simply left out."""
    tags = []
    for key, value in (("customer_id", customer_id), ("call_id", call_id)):
        if _TAG_VALUE.match(value):
            tags.append({"Key": key, "Value": value})
    return tags


def extension_label(key: str) -> str:
    """A log-safe label for an unsupported file: its extension if short and plain, else '?'."""
    ext = posixpath.splitext(key)[1].lstrip(".").lower()
    return ext if ext.isalnum() and len(ext) <= 8 else "?"


def key_fingerprint(key: str) -> str:
    """Keys can hold names or numbers; logs carry this short hash instead."""
    return hashlib.sha256(key.encode()).hexdigest()[:16]
