"""Amazon Connect: the customer id the contact flow set as a contact attribute."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ConnectDirectory:
    connect: Any  # a boto3 Connect client
    attribute: str

    def customer_id(self, instance_id: str, contact_id: str) -> str | None:
        if not instance_id:
            return None
        attributes = self.connect.get_contact_attributes(
            InstanceId=instance_id, InitialContactId=contact_id
        ).get("Attributes", {})
        value = attributes.get(self.attribute)
        return value.strip() if isinstance(value, str) and value.strip() else None
