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
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus


class InvalidEventError(ValueError):
    """The event is neither an S3 notification nor an EventBridge S3 event."""


@dataclass(frozen=True)
class CreatedObject:
    bucket: str
    key: str
    version_id: str | None
    size: int | None
    # The id that ties this invocation's logs to the S3 request or EventBridge event.
    correlation_id: str | None


def _version(value: Any) -> str | None:
    # Unversioned buckets send no version (notifications) or the string "null" (EventBridge).
    if value is None or value in ("", "null"):
        return None
    return str(value)


def _size(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
    try:
        bucket = str(detail["bucket"]["name"])
        obj = detail["object"]
        key = str(obj["key"])
    except (KeyError, TypeError) as exc:
        raise InvalidEventError("EventBridge S3 event has no detail.bucket.name / detail.object.key") from exc
    created = CreatedObject(
        bucket=bucket,
        key=key,
        version_id=_version(obj.get("version-id")),
        size=_size(obj.get("size")),
        correlation_id=str(event.get("id")) if event.get("id") else None,
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
        try:
            s3 = record["s3"]
            bucket = str(s3["bucket"]["name"])
            obj = s3["object"]
            key = unquote_plus(str(obj["key"]))
        except (KeyError, TypeError) as exc:
            raise InvalidEventError("S3 notification record has no s3.bucket.name / s3.object.key") from exc
        request_id = (record.get("responseElements") or {}).get("x-amz-request-id")
        created.append(
            CreatedObject(
                bucket=bucket,
                key=key,
                version_id=_version(obj.get("versionId")),
                size=_size(obj.get("size")),
                correlation_id=str(request_id) if request_id else None,
            )
        )
    return created, skipped
