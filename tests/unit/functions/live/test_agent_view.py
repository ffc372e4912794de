"""The agents' WebSocket view: subscribe per contact on $connect, push each update, drop gone connections."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from live_score.adapters.connections import Connections, Pusher
from live_score.agents import agent_message, push_update, subscribe
from moto import mock_aws

from .conftest import connections_table

NOW = datetime(2026, 12, 7, tzinfo=UTC)


@pytest.fixture
def store(aws_env: None, sdk: dict[str, Any]) -> Any:
    with mock_aws():
        yield connections_table(sdk["dynamodb"])


class Management:
    """API Gateway's @connections API: 410 GoneException for a closed connection."""

    def __init__(self, gone: set[str]) -> None:
        self.gone, self.sent = gone, []

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.gone:
            raise ClientError({"Error": {"Code": "GoneException", "Message": ""}}, "PostToConnection")
        self.sent.append((ConnectionId, json.loads(Data)))
        return {}


def connect_event(connection_id: str, query: dict[str, str] | None) -> dict[str, Any]:
    return {
        "requestContext": {
            "routeKey": "$connect",
            "connectionId": connection_id,
            "identity": {"userArn": "arn:aws:sts::123456789012:assumed-role/agents/anna"},
        },
        "queryStringParameters": query,
    }


DETAIL = {
    "contact_id": "contact-1",
    "risk_level": "high",
    "previous_level": "low",
    "probability": 0.92,
    "customer_turns": 2,
    "final": False,
    "scored_at": "2026-12-07T00:00:06.000Z",
    "dedupe_key": "contact-1:2",
    "customer_id": "C-1",
}


def test_an_agent_subscribes_and_gets_each_update(store: Connections) -> None:
    assert subscribe(connect_event("conn-a", {"contact_id": "contact-1"}), store, NOW) == {"statusCode": 200}
    assert subscribe(connect_event("conn-b", {"contact_id": "contact-2"}), store, NOW)["statusCode"] == 200
    management = Management(set())
    assert push_update(DETAIL, store, Pusher(management)) == {"sent": 1, "gone": 0, "rejected": 0}
    ((connection, message),) = management.sent
    assert connection == "conn-a"
    assert message["type"] == "churn-risk" and message["risk_level"] == "high"
    assert message["dedupe_key"] == "contact-1:2" and "customer_id" not in message


@pytest.mark.parametrize(
    "query", [None, {}, {"contact_id": ""}, {"contact_id": "x" * 300}, {"contact_id": "a b"}]
)
def test_a_connect_without_a_contact_is_a_400_with_a_message(store: Connections, query: Any) -> None:
    reply = subscribe(connect_event("conn-a", query), store, NOW)
    assert reply["statusCode"] == 400 and "contact_id" in json.loads(reply["body"])["message"]
    assert store.for_contact("contact-1") == []


def test_gone_connections_are_removed_and_the_others_still_get_the_update(store: Connections) -> None:
    for connection in ("conn-a", "conn-b", "conn-c"):
        subscribe(connect_event(connection, {"contact_id": "contact-1"}), store, NOW)
    management = Management({"conn-b"})
    assert push_update(DETAIL, store, Pusher(management)) == {"sent": 2, "gone": 1, "rejected": 0}
    assert sorted(store.for_contact("contact-1")) == ["conn-a", "conn-c"]


def test_disconnect_removes_every_subscription_of_the_connection(store: Connections) -> None:
    subscribe(connect_event("conn-a", {"contact_id": "contact-1"}), store, NOW)
    subscribe(connect_event("conn-a", {"contact_id": "contact-2"}), store, NOW)
    assert store.remove_connection("conn-a") == 2
    assert store.for_contact("contact-1") == [] and store.for_contact("contact-2") == []


def test_other_push_errors_raise_so_the_bus_retries(store: Connections) -> None:
    class Throttled(Management):
        def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
            raise ClientError(
                {"Error": {"Code": "LimitExceededException", "Message": ""}}, "PostToConnection"
            )

    subscribe(connect_event("conn-a", {"contact_id": "contact-1"}), store, NOW)
    with pytest.raises(ClientError):
        push_update(DETAIL, store, Pusher(Throttled(set())))
    assert store.for_contact("contact-1") == ["conn-a"]


def test_the_message_is_the_same_bytes_for_the_same_update() -> None:
    assert agent_message(DETAIL) == agent_message(dict(reversed(list(DETAIL.items()))))
    assert push_update({"risk_level": "high"}, None, None)["rejected"] == 1  # type: ignore[arg-type]
