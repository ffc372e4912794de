"""A recording's identity: customer, call, media format and its transcription job name."""

from __future__ import annotations

import hashlib
import posixpath
import re
from dataclasses import dataclass

from .models import RecordingRejected, Rejection

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
_HASH_CHARS = 32
# Transcribe tag values: letters, digits, spaces and + - = . _ : / @ (at most 256 characters).
_TAG_VALUE = re.compile(r"^[\w\s+\-=.:/@]{1,256}$", re.ASCII)
JOB_NAME_PATTERN = re.compile(r"^[0-9a-zA-Z._-]+$")


@dataclass(frozen=True)
class KeyParts:
    customer_id: str | None
    call_id: str
    extension: str


def parse_key(key: str, prefix: str) -> KeyParts:
    """``<prefix><customer_id>/<call_id>.<ext>``; deeper folders keep the first as the customer.

    Raises :class:`RecordingRejected`.
    """
    if not key.startswith(prefix):
        raise RecordingRejected(Rejection.OUTSIDE_PREFIX)
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: not a key S3 could have written
        raise RecordingRejected(Rejection.INVALID_KEY) from None
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
    if len(call_id) > MAX_ID_CHARS:
        raise RecordingRejected(Rejection.ID_TOO_LONG)
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


def job_name(prefix: str, recording_bucket: str, key: str, content_id: str | None) -> str:
    """Opaque and deterministic: ``<prefix><32 hex of sha256(bucket, key, version or ETag)>``.

    The same object version always yields the same job, so duplicate events collide; a new
    version (or, without versioning, new content) yields a new job. Nothing from the key appears
    in the name, so job names in logs, tags and ARNs hold no names or phone numbers.
    """
    identity = f"{recording_bucket}\n{key}\n{content_id or ''}".encode("utf-8", "surrogatepass")
    name = f"{prefix}{hashlib.sha256(identity).hexdigest()[:_HASH_CHARS]}"
    if not JOB_NAME_PATTERN.match(name) or len(name) > MAX_JOB_NAME:
        raise ValueError("job name prefix is too long or holds characters Transcribe does not allow")
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
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:16]
