"""The agents' WebSocket connections (DynamoDB: contact_id + connection_id, an index by connection)
and the API Gateway Management API that pushes to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

BY_CONNECTION = "by-connection"
# API Gateway closes a WebSocket connection after 2 hours at most: the item outlives it a little.
CONNECTION_TTL = timedelta(hours=3)


@dataclass(frozen=True)
class Connections:
    table: Any

    def add(self, contact_id: str, connection_id: str, agent: str, now: datetime) -> None:
        self.table.put_item(
            Item={
                "contact_id": contact_id,
                "connection_id": connection_id,
                "agent": agent,
                "connected_at": now.isoformat(),
                "expires_at": int((now + CONNECTION_TTL).timestamp()),
            }
        )

    def for_contact(self, contact_id: str) -> list[str]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("contact_id").eq(contact_id)}
        while True:
            page = self.table.query(**kwargs)
            items += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return [str(i["connection_id"]) for i in items]
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def remove(self, contact_id: str, connection_id: str) -> None:
        self.table.delete_item(Key={"contact_id": contact_id, "connection_id": connection_id})

    def contacts_of(self, connection_id: str) -> list[str]:
        """The contacts a connection subscribed to at $connect (one, as the route takes one id)."""
        page = self.table.query(
            IndexName=BY_CONNECTION, KeyConditionExpression=Key("connection_id").eq(connection_id)
        )
        return [str(item["contact_id"]) for item in page.get("Items", [])]

    def remove_connection(self, connection_id: str) -> int:
        """$disconnect carries only the connection id: find its subscriptions through the index."""
        page = self.table.query(
            IndexName=BY_CONNECTION, KeyConditionExpression=Key("connection_id").eq(connection_id)
        )
        for item in page.get("Items", []):
            self.remove(str(item["contact_id"]), connection_id)
        return len(page.get("Items", []))


class GoneError(Exception):
    """The agent's connection is closed (API Gateway answered 410 GoneException)."""


@dataclass(frozen=True)
class Pusher:
    management: Any  # a boto3 apigatewaymanagementapi client with the stage's endpoint_url

    def push(self, connection_id: str, data: bytes) -> None:
        try:
            self.management.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "GoneException":
                raise GoneError(connection_id) from None
            raise
