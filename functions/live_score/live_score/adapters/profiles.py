"""The profiles table (DynamoDB): one item per customer, attribute names = feature names."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from churn_contracts.features import CUSTOMER_ID


@dataclass(frozen=True)
class ProfileStore:
    table: Any

    def get(self, customer_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={CUSTOMER_ID: customer_id}).get("Item")
