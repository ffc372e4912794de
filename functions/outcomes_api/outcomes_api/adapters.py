"""The outcomes table (DynamoDB) and the link key (KMS VerifyMac): the function's only AWS calls."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from churn_contracts.outcomes import MAC_ALGORITHM, OUTCOME_PREFIX, LinkClaim, Outcome

_STANDARD = Config(retries={"max_attempts": 3, "mode": "standard"}, read_timeout=5, connect_timeout=2)
MAX_HISTORY = 500  # outcomes per customer shown; a customer has a handful


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_STANDARD)


def reset() -> None:
    client.cache_clear()


class LinkUsedError(Exception):
    """The link's single-use marker exists: it was used before."""


class OutcomeStore:
    """One item per outcome (key: customer, date and dedupe key) and one per used link."""

    def __init__(self, dynamodb: Any, table: str) -> None:
        self.dynamodb, self.table = dynamodb, table

    def put(self, outcome: Outcome, item: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Store once: (the stored item, whether this call created it)."""
        try:
            self.dynamodb.put_item(
                TableName=self.table,
                Item=_to_ddb(item),
                ConditionExpression="attribute_not_exists(customer_id)",
            )
            return item, True
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        stored = self.get(outcome.customer_id, outcome.sort_key)
        return stored or item, False

    def get(self, customer_id: str, sort_key: str) -> dict[str, Any] | None:
        answer = self.dynamodb.get_item(
            TableName=self.table,
            Key=_to_ddb({"customer_id": customer_id, "sk": sort_key}),
            ConsistentRead=True,
        )
        return _from_ddb(answer["Item"]) if "Item" in answer else None

    def history(self, customer_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "customer_id = :c AND begins_with(sk, :p)",
            "ExpressionAttributeValues": _to_ddb({":c": customer_id, ":p": OUTCOME_PREFIX}),
        }
        while len(items) < MAX_HISTORY:
            page = self.dynamodb.query(**request)
            items.extend(_from_ddb(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items[:MAX_HISTORY]

    def put_from_link(self, claim: LinkClaim, outcome: Outcome, item: dict[str, Any]) -> bool:
        """The link's marker and its outcome in one transaction: a used link records nothing, and a
        link is never burnt without its outcome. The outcome is written only where it is absent
        (the same outcome recorded through the API or an import stays as it was). Returns whether
        the outcome was new."""
        existed = self.get(outcome.customer_id, outcome.sort_key) is not None
        names = sorted(name for name in item if name not in {"customer_id", "sk"})
        update = "SET " + ", ".join(f"#{i} = if_not_exists(#{i}, :{i})" for i in range(len(names)))
        marker = {
            "customer_id": claim.customer_id,
            "sk": claim.marker_key,
            "button": claim.button,
            "outcome_sk": outcome.sort_key,
            "used_at": item["recorded_at"],
            # Kept past the link's own expiry, then DynamoDB's TTL removes it.
            "expires_at": int(claim.expires_at.timestamp()) + 86400,
        }
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": _to_ddb(marker),
                            "ConditionExpression": "attribute_not_exists(customer_id)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _to_ddb({"customer_id": outcome.customer_id, "sk": outcome.sort_key}),
                            "UpdateExpression": update,
                            "ExpressionAttributeNames": {f"#{i}": name for i, name in enumerate(names)},
                            "ExpressionAttributeValues": _to_ddb(
                                {f":{i}": item[n] for i, n in enumerate(names)}
                            ),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise LinkUsedError(claim.nonce) from None
            raise
        return not existed


class KmsMacVerifier:
    """VerifyMac with the stack's HMAC key: the API can check links, never mint them."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self.kms, self.key_id = kms, key_id

    def __call__(self, message: bytes, mac: bytes) -> bool:
        try:
            answer = self.kms.verify_mac(
                Message=message, KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM, Mac=mac
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "KMSInvalidMacException":
                return False
            raise
        return bool(answer.get("MacValid"))


class KmsMacSigner:
    """GenerateMac with the stack's HMAC key (the score function's side; here for tests and ops)."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self.kms, self.key_id = kms, key_id

    def __call__(self, message: bytes) -> bytes:
        return self.kms.generate_mac(Message=message, KeyId=self.key_id, MacAlgorithm=MAC_ALGORITHM)["Mac"]


def _to_ddb(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        if isinstance(value, bool):
            out[name] = {"BOOL": value}
        elif isinstance(value, int):
            out[name] = {"N": str(value)}
        else:
            out[name] = {"S": str(value)}
    return out


def _from_ddb(item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in item.items():
        kind, raw = next(iter(value.items()))
        out[name] = int(raw) if kind == "N" else raw
    return out
