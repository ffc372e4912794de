"""EventBridge: publish one ``Churn Risk Updated`` event on the live bus."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..models import DETAIL_TYPE, EVENT_SOURCE


class PublishFailedError(RuntimeError):
    """EventBridge refused the entry (PutEvents answers 200 with FailedEntryCount)."""


@dataclass(frozen=True)
class RiskEvents:
    events: Any  # a boto3 EventBridge client
    bus_name: str

    def publish(self, detail: Mapping[str, Any]) -> str:
        response = self.events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail, separators=(",", ":"), sort_keys=True),
                    "EventBusName": self.bus_name,
                }
            ]
        )
        entry = (response.get("Entries") or [{}])[0]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            raise PublishFailedError(f"PutEvents refused the update: {entry.get('ErrorCode', 'no event id')}")
        return str(entry["EventId"])
