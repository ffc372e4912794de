"""The calls table (DynamoDB): the call item the start function creates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError
from churn_contracts.calls import CALLS_KEY, OPEN_STATUS, CallStatus, OpenStatus, timestamp

from ..models import Recording


@dataclass(frozen=True)
class CallsRepository:
    table: Any  # a boto3 DynamoDB Table resource
    retention_days: int = 365

    def begin(self, job_name: str, recording: Recording, now: datetime) -> bool:
        """Create (or refresh) the item as TRANSCRIBING; ``False`` if the call is already past that.

        A redelivered upload event must not drag a scored call back to TRANSCRIBING.
        """
        stamp = timestamp(now)
        expires = int((now + timedelta(days=self.retention_days)).timestamp())
        values: dict[str, Any] = {
            ":customer": recording.customer_id,
            ":call": recording.call_id,
            ":bucket": recording.bucket,
            ":key": recording.key,
            ":uri": recording.uri,
            ":format": recording.media_format,
            ":source": recording.customer_id_source,
            ":status": CallStatus.TRANSCRIBING.value,
            ":open": OpenStatus.TRANSCRIBING.value,
            ":now": stamp,
            ":expires": expires,
        }
        assignments = [
            "customer_id = :customer",
            "call_id = :call",
            "recording_bucket = :bucket",
            "recording_key = :key",
            "recording_uri = :uri",
            "media_format = :format",
            "customer_id_source = :source",
            "#status = :status",
            "#open = :open",
            "created_at = if_not_exists(created_at, :now)",
            "updated_at = :now",
            "expires_at = :expires",
        ]
        if recording.version_id:
            values[":version"] = recording.version_id
            assignments.append("recording_version = :version")
        if recording.agent_id:
            values[":agent"] = recording.agent_id
            assignments.append("agent_id = :agent")
        try:
            self.table.update_item(
                Key={CALLS_KEY: job_name},
                UpdateExpression="SET " + ", ".join(assignments),
                ConditionExpression="attribute_not_exists(#key) OR #status = :status",
                ExpressionAttributeNames={"#status": "status", "#key": CALLS_KEY, "#open": OPEN_STATUS},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def fail(self, job_name: str, reason: str, now: datetime) -> None:
        self.table.update_item(
            Key={CALLS_KEY: job_name},
            UpdateExpression="SET #status = :failed, failure_reason = :reason, updated_at = :now REMOVE #open",
            ExpressionAttributeNames={"#status": "status", "#open": OPEN_STATUS},
            ExpressionAttributeValues={
                ":failed": CallStatus.TRANSCRIPTION_FAILED.value,
                ":reason": reason[:500],
                ":now": timestamp(now),
            },
        )
