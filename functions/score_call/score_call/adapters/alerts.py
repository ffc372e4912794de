"""SNS: publish an alert to the (KMS-encrypted) alert topic."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..alert import Alert


@dataclass(frozen=True)
class AlertPublisher:
    sns: Any
    topic_arn: str

    def publish(self, alert: Alert) -> str:
        response = self.sns.publish(
            TopicArn=self.topic_arn,
            Subject=f"High churn risk: customer {alert.customer_id}"[:100],
            Message=alert.message(),
            MessageStructure="json",
            MessageAttributes=alert.attributes(),
        )
        return str(response["MessageId"])
