"""SNS: publish an alert to the (KMS-encrypted) alert topic, exactly as it was prepared."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from churn_contracts.outcomes import DEFAULT_LINK_DAYS, MAC_ALGORITHM, make_links

from ..alert import Alert, PreparedAlert


@dataclass(frozen=True)
class AlertPublisher:
    sns: Any
    topic_arn: str

    def publish(self, alert: PreparedAlert | Alert) -> str:
        """Publish the stored bytes (an :class:`Alert` is rendered first: bulk alerts)."""
        prepared = alert.prepared() if isinstance(alert, Alert) else alert
        response = self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=prepared.subject,
            Message=prepared.message,
            MessageStructure="json",
            MessageAttributes=prepared.attributes,
        )
        return str(response["MessageId"])


EVENT_SOURCE = "churn-alerts"
EVENT_DETAIL_TYPE = "Churn Risk Detected"


class EventNotPutError(RuntimeError):
    """EventBridge answered but did not accept the entry (``FailedEntryCount``)."""


@dataclass(frozen=True)
class AlertEvents:
    """The alert on the stack's event bus, for a CRM's rule and API destination (issue 21).

    The detail is the stored alert's JSON document (the SNS ``default`` part: the same content
    and ``dedupe_key``), so every put of one alert, a redelivery's included, is identical.
    """

    events: Any  # a boto3 EventBridge client
    bus_name: str

    def put(self, alert: PreparedAlert) -> None:
        detail = json.loads(alert.message)["default"]
        answer = self.events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": EVENT_DETAIL_TYPE,
                    "Detail": detail,
                    "EventBusName": self.bus_name,
                }
            ]
        )
        if answer.get("FailedEntryCount"):
            code = (answer.get("Entries") or [{}])[0].get("ErrorCode") or "unknown"
            raise EventNotPutError(f"EventBridge refused the alert event: {code}")


@dataclass(frozen=True)
class S3TranscriptLinks:
    """Presigned GET links to transcripts (the function's role may read ``transcripts/*``).

    A presigned URL is valid until its expiry or until the credentials that signed it expire,
    whichever comes first: a Lambda role's session lasts hours, so links are for the day.
    """

    s3: Any  # a boto3 S3 client

    def presign(self, location: Any, expires_s: int) -> str:
        return str(
            self.s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": location.bucket, "Key": location.key},
                ExpiresIn=int(expires_s),
            )
        )


@dataclass(frozen=True)
class KmsOutcomeLinks:
    """The alert email's one-click outcome links, MACed by the stack's KMS HMAC key.

    The role may only ``kms:GenerateMac`` on that key: the function mints links, the outcomes API
    verifies them, and no secret sits in either function's environment.
    """

    kms: Any  # a boto3 KMS client
    key_id: str
    base_url: str  # ends where the token goes: .../live/v1/outcome-links/
    days: int = DEFAULT_LINK_DAYS

    def _mac(self, message: bytes) -> bytes:
        answer = self.kms.generate_mac(KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM, Message=message)
        return bytes(answer["Mac"])

    def make(self, customer_id: str, call_id: str, now: Any) -> dict[str, str]:
        return make_links(self._mac, self.base_url, customer_id, call_id, now, self.days)
