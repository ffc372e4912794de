"""The two event shapes that announce a new recording, as one list of created objects.

- EventBridge "Object Created" (the deployed wiring): ``detail.object.key`` is the key as
  it is; decoding it would turn a literal ``+`` into a space.
- The classic S3 notification (``Records[].s3``): keys are URL-encoded, so they are
  decoded with ``unquote_plus``.

Powertools' data classes are not used for the key on purpose: its EventBridge class
decodes the key and its notification class does not, the opposite of what S3 sends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

from .models import CreatedObject, InvalidEventError

__all__ = ["CreatedObject", "InvalidEventError", "parse_created_objects"]


def _version(value: Any) -> str | None:
    # Unversioned buckets send no version (notifications) or the string "null" (EventBridge).
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value in ("", "null"):
        return None
    return str(value)


def _size(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: Any) -> str | None:
    return (
        str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "" else None
    )


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidEventError(f"{what} is not a non-empty string")
    return value


def parse_created_objects(event: Any) -> tuple[list[CreatedObject], int]:
    """The created objects in ``event``, and how many records were not object creations."""
    if not isinstance(event, Mapping):
        raise InvalidEventError("event is not a JSON object")
    if "Records" in event:
        return _from_notification(event["Records"])
    if event.get("source") == "aws.s3" and isinstance(event.get("detail"), Mapping):
        return _from_eventbridge(event)
    raise InvalidEventError("event is neither an S3 notification nor an EventBridge aws.s3 event")


def _from_eventbridge(event: Mapping[str, Any]) -> tuple[list[CreatedObject], int]:
    detail_type = event.get("detail-type")
    if not isinstance(detail_type, str):
        raise InvalidEventError("EventBridge event has no detail-type")
    if detail_type != "Object Created":
        return [], 1
    detail = event["detail"]
    bucket_info, obj = detail.get("bucket"), detail.get("object")
    if not isinstance(bucket_info, Mapping) or not isinstance(obj, Mapping):
        raise InvalidEventError("EventBridge S3 event has no detail.bucket / detail.object")
    created = CreatedObject(
        bucket=_name(bucket_info.get("name"), "detail.bucket.name"),
        key=_name(obj.get("key"), "detail.object.key"),
        version_id=_version(obj.get("version-id")),
        size=_size(obj.get("size")),
        correlation_id=_text(event.get("id")),
        etag=_text(obj.get("etag")),
    )
    return [created], 0


def _from_notification(records: Any) -> tuple[list[CreatedObject], int]:
    if not isinstance(records, list):
        raise InvalidEventError("'Records' is not a list")
    created: list[CreatedObject] = []
    skipped = 0
    for record in records:
        if not isinstance(record, Mapping) or record.get("eventSource") != "aws:s3":
            raise InvalidEventError("a record is not an S3 notification record")
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            skipped += 1
            continue
        s3 = record.get("s3")
        bucket_info = s3.get("bucket") if isinstance(s3, Mapping) else None
        obj = s3.get("object") if isinstance(s3, Mapping) else None
        if not isinstance(bucket_info, Mapping) or not isinstance(obj, Mapping):
            raise InvalidEventError("S3 notification record has no s3.bucket / s3.object")
        key = unquote_plus(_name(obj.get("key"), "s3.object.key"))
        elements = record.get("responseElements")
        request_id = elements.get("x-amz-request-id") if isinstance(elements, Mapping) else None
        created.append(
            CreatedObject(
                bucket=_name(bucket_info.get("name"), "s3.bucket.name"),
                key=key,
                version_id=_version(obj.get("versionId")),
                size=_size(obj.get("size")),
                correlation_id=_text(request_id),
                etag=_text(obj.get("eTag")),
            )
        )
    return created, skipped
