"""The agents' view: a WebSocket API an agent desktop subscribes to per contact.

- ``connect_handler`` ($connect, authorised by IAM on the route): ``?contact_id=...`` subscribes
  the connection to that contact; a missing or malformed id is a 400 with a message.
- ``disconnect_handler`` ($disconnect): the connection's subscriptions are removed.
- ``push_handler`` (the live bus's rule on ``Churn Risk Updated``): each subscribed connection gets
  the update (``post_to_connection``); a gone connection (410) is removed, the others still get it.
- ``current_handler`` (the ``current`` route: the desktop sends ``{"action": "current"}`` once
  connected): an agent who joins mid-call gets the contact's state at once, a ``churn-risk-current``
  message with the same fields. API Gateway accepts no ``post_to_connection`` to a connection
  until its $connect has returned, so the $connect handler cannot push it itself.

Updates are at least once (the bus retries): each message carries the update's ``dedupe_key``
(the current state carries the key of the score it shows, so a desktop drops an update it already
showed that way).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from churn_contracts.calls import timestamp
from churn_lambda.logs import pin_library_loggers

from .adapters.connections import Connections, GoneError, Pusher
from .adapters.contacts import ContactsRepository
from .observability import logger, metrics

pin_library_loggers()
_CONTACT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")
# What an agent desktop needs to show; the probability and the level, never what was said.
MESSAGE_FIELDS = (
    "contact_id",
    "risk_level",
    "previous_level",
    "probability",
    "customer_turns",
    "final",
    "scored_at",
    "dedupe_key",
)


@cache
def connections() -> Connections:
    return Connections(boto3.resource("dynamodb").Table(os.environ["CONNECTIONS_TABLE"]))


@cache
def pusher() -> Pusher:
    config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=3)
    return Pusher(
        boto3.client(
            "apigatewaymanagementapi", endpoint_url=os.environ["CONNECTIONS_ENDPOINT"], config=config
        )
    )


@cache
def contacts() -> ContactsRepository:
    # Read-only here (summary); the TTL is the live function's business.
    return ContactsRepository(boto3.resource("dynamodb").Table(os.environ["CONTACTS_TABLE"]), timedelta(0))


def reset() -> None:
    connections.cache_clear()
    pusher.cache_clear()
    contacts.cache_clear()


def _reply(status: int, message: str) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps({"message": message})}


def subscribe(event: Mapping[str, Any], store: Connections, now: datetime) -> dict[str, Any]:
    context = event.get("requestContext") or {}
    connection_id = context.get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        return _reply(400, "not a WebSocket $connect request")
    contact_id = (event.get("queryStringParameters") or {}).get("contact_id")
    if not isinstance(contact_id, str) or not _CONTACT_ID.match(contact_id):
        return _reply(400, "contact_id query parameter is missing or not a contact id")
    identity = context.get("identity") or {}
    agent = str(identity.get("userArn") or identity.get("caller") or "unknown")
    store.add(contact_id, connection_id, agent, now)
    return {"statusCode": 200}


def agent_message(detail: Mapping[str, Any], kind: str = "churn-risk") -> bytes:
    body = {"type": kind, **{key: detail.get(key) for key in MESSAGE_FIELDS}}
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def push_update(detail: Mapping[str, Any], store: Connections, push: Pusher) -> dict[str, int]:
    contact_id = detail.get("contact_id")
    if not isinstance(contact_id, str) or not contact_id:
        return {"sent": 0, "gone": 0, "rejected": 1}
    data = agent_message(detail)
    sent = gone = 0
    for connection_id in store.for_contact(contact_id):
        try:
            push.push(connection_id, data)
            sent += 1
        except GoneError:
            store.remove(contact_id, connection_id)
            gone += 1
    return {"sent": sent, "gone": gone, "rejected": 0}


def current_detail(contact_id: str, summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """The contact's state as an update's fields; risk_level None until its first score."""
    summary = summary or {}
    scores = int(summary.get("scores", 0))
    probability = summary.get("probability")
    scored = scores > 0 and summary.get("risk_level") is not None
    return {
        "contact_id": contact_id,
        "risk_level": summary.get("risk_level") if scored else None,
        "previous_level": None,
        "probability": None if probability is None or not scored else round(float(probability), 4),
        "customer_turns": int(summary.get("scored_turns", 0)),
        "final": bool(summary.get("final")) and summary.get("status") == "COMPLETED",
        "scored_at": timestamp(datetime.fromtimestamp(float(summary["last_scored_epoch"]), UTC))
        if scored and summary.get("last_scored_epoch")
        else None,
        "dedupe_key": f"{contact_id}:{scores}",
    }


def push_current(
    event: Mapping[str, Any], store: Connections, contacts: ContactsRepository, push: Pusher, now: datetime
) -> dict[str, Any]:
    """The ``current`` route: the state of the contact this connection subscribed to, to it alone."""
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if not isinstance(connection_id, str) or not connection_id:
        return _reply(400, "not a WebSocket message")
    subscribed = store.contacts_of(connection_id)
    if not subscribed:
        return _reply(403, "this connection is not subscribed to a contact")
    for contact_id in subscribed:
        detail = current_detail(contact_id, contacts.summary(contact_id, now))
        try:
            push.push(connection_id, agent_message(detail, kind="churn-risk-current"))
        except GoneError:
            store.remove(contact_id, connection_id)
            return {"statusCode": 410}
    return {"statusCode": 200}


def connect_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return subscribe(event, connections(), datetime.now(UTC))


def disconnect_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if isinstance(connection_id, str) and connection_id:
        connections().remove_connection(connection_id)
    return {"statusCode": 200}


def current_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return push_current(event, connections(), contacts(), pusher(), datetime.now(UTC))


@metrics.log_metrics
def push_handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    detail = event.get("detail") if isinstance(event, Mapping) else None
    counts = push_update(detail if isinstance(detail, Mapping) else {}, connections(), pusher())
    for name, value in (("AgentPushes", counts["sent"]), ("AgentConnectionsGone", counts["gone"])):
        if value:
            metrics.add_metric(name=name, unit="Count", value=value)
    logger.info("Agent push", extra=counts)
    return counts
