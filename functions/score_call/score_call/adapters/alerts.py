"""SNS: publish an alert to the (KMS-encrypted) alert topic, exactly as it was prepared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
