"""S3: the recording's metadata (``customer-id`` overrides the key's customer)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from ..models import InvalidVersionError, RecordingMetadata, RecordingNotFoundError

CUSTOMER_ID_METADATA = "customer-id"
AGENT_ID_METADATA = "agent-id"  # the call's agent, where the contact centre's upload sets it


class RecordingStore:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def metadata(self, bucket: str, key: str, version_id: str | None) -> RecordingMetadata:
        args = {"Bucket": bucket, "Key": key}
        if version_id:
            args["VersionId"] = version_id
        try:
            head = self._s3.head_object(**args)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}:
                raise RecordingNotFoundError() from None
            # S3 answers a malformed versionId with 400 InvalidArgument (a HEAD has no body, so
            # botocore sees only the status): the event is bad, retrying cannot fix it.
            if version_id and code in {"400", "InvalidArgument"}:
                raise InvalidVersionError() from None
            raise
        # S3 lower-cases user metadata names.
        customer = (head.get("Metadata") or {}).get(CUSTOMER_ID_METADATA)
        agent = (head.get("Metadata") or {}).get(AGENT_ID_METADATA)
        return RecordingMetadata(
            size=int(head.get("ContentLength", 0)),
            customer_id=customer or None,
            etag=str(head.get("ETag") or "").strip('"') or None,
            version_id=head.get("VersionId") if head.get("VersionId") not in (None, "null") else None,
            agent_id=agent or None,
        )
