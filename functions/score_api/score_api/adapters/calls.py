"""The calls table (DynamoDB), read only: one call by id, a customer's calls newest first.

The API's call id is the item key (the transcription job name), the one id that is unique
across customers. Pages go through the by-customer index with an opaque cursor: the index's
last evaluated key, as base64url JSON, checked on the way back in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from churn_contracts.calls import CALLS_KEY

from ..domain import CallPage, InvalidCursorError

_CURSOR_KEYS = frozenset({CALLS_KEY, "customer_id", "created_at"})
MAX_CURSOR_CHARS = 2048


def encode_cursor(key: dict[str, Any]) -> str:
    raw = json.dumps({k: str(v) for k, v in key.items()}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, customer_id: str) -> dict[str, str]:
    """The index key a cursor stands for; a cursor of another customer or a forged one is refused."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursorError("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursorError("cursor is not one this API issued") from None
    if (
        not isinstance(key, dict)
        or set(key) != _CURSOR_KEYS
        or not all(isinstance(v, str) and v for v in key.values())
        or key["customer_id"] != customer_id
    ):
        raise InvalidCursorError("cursor is not one this API issued for this customer")
    return key


@dataclass(frozen=True)
class CallsReader:
    table: Any  # a boto3 DynamoDB Table resource
    by_customer_index: str = "by-customer"

    def get(self, call_id: str) -> dict[str, Any] | None:
        return self.table.get_item(Key={CALLS_KEY: call_id}).get("Item")

    def list_for_customer(self, customer_id: str, limit: int, cursor: str | None) -> CallPage:
        kwargs: dict[str, Any] = {
            "IndexName": self.by_customer_index,
            "KeyConditionExpression": "customer_id = :customer",
            "ExpressionAttributeValues": {":customer": customer_id},
            "ScanIndexForward": False,  # newest first: the index sorts on created_at
            "Limit": limit,
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = decode_cursor(cursor, customer_id)
        page = self.table.query(**kwargs)
        last = page.get("LastEvaluatedKey")
        return CallPage(items=page.get("Items", []), next_cursor=encode_cursor(last) if last else None)
