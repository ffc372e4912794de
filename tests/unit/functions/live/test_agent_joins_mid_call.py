"""An agent who connects mid-call sees the contact's current risk at once (the ``current`` route),
over the state the live function itself wrote while the call went on."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from live_score.adapters.connections import Connections, Pusher
from live_score.adapters.contacts import SUMMARY_FIELDS, ContactsRepository
from live_score.agents import agent_message, current_detail, push_current, push_update, subscribe

from .conftest import CONTACTS, Live, connections_table
from .test_agent_view import Management, connect_event
from .test_live_sequences import C, call_turning_high, run


@pytest.fixture
def store(live: Live) -> Connections:
    return connections_table(live.dynamodb)


def _contacts(live: Live) -> ContactsRepository:
    return ContactsRepository(live.dynamodb.Table(CONTACTS), timedelta(0))


def _current(live: Live, store: Connections, connection_id: str, management: Management) -> dict[str, Any]:
    event = {"requestContext": {"routeKey": "current", "connectionId": connection_id}, "body": "{}"}
    return push_current(event, store, _contacts(live), Pusher(management), live.clock())


def test_an_agent_joining_after_the_turn_to_high_gets_high_at_once(live: Live, store: Connections) -> None:
    run(live, call_turning_high(live)[:4])  # the customer has said they want to cancel; still on the line
    updates = live.updates()
    assert updates[-1]["risk_level"] == "high"
    # The agent joins now: $connect subscribes, then the desktop asks for the current state.
    assert subscribe(connect_event("late", {"contact_id": C}), store, live.clock())["statusCode"] == 200
    management = Management(set())
    assert _current(live, store, "late", management) == {"statusCode": 200}
    ((connection, message),) = management.sent
    assert connection == "late"
    assert message["type"] == "churn-risk-current"
    last = updates[-1]
    for key in ("risk_level", "probability", "customer_turns", "scored_at", "dedupe_key", "final"):
        assert message[key] == last[key], key
    assert message["previous_level"] is None
    # The next update reaches the late agent too, and only the current route answered it alone.
    management.sent.clear()
    assert push_update({**last, "dedupe_key": f"{C}:9"}, store, Pusher(management))["sent"] == 1


def test_before_the_first_score_the_agent_is_told_there_is_none_yet(live: Live, store: Connections) -> None:
    run(live, call_turning_high(live)[:2])  # STARTED and the agent's greeting: nothing to score
    subscribe(connect_event("early", {"contact_id": C}), store, live.clock())
    management = Management(set())
    _current(live, store, "early", management)
    ((_, message),) = management.sent
    assert message["risk_level"] is None and message["probability"] is None
    assert message["dedupe_key"] == f"{C}:0" and message["customer_turns"] == 0
    # A contact the live function never saw reads the same.
    assert current_detail("other", None)["risk_level"] is None


def test_the_current_state_never_reads_what_the_customer_said(live: Live, store: Connections) -> None:
    run(live, call_turning_high(live)[:4])
    item = live.contact(C)
    assert item is not None and item["turns"]  # the live function keeps the turns ...
    summary = _contacts(live).summary(C, live.clock())
    assert summary is not None and "turns" not in summary  # ... the agents' read leaves them out
    assert set(summary) <= set(SUMMARY_FIELDS)
    subscribe(connect_event("a", {"contact_id": C}), store, live.clock())
    management = Management(set())
    _current(live, store, "a", management)
    assert "cancel" not in json.dumps(management.sent)


def test_an_unsubscribed_connection_is_refused_and_a_gone_one_is_removed(
    live: Live, store: Connections
) -> None:
    reply = _current(live, store, "stranger", Management(set()))
    assert reply["statusCode"] == 403 and "not subscribed" in json.loads(reply["body"])["message"]
    assert (
        push_current({"requestContext": {}}, store, _contacts(live), Pusher(Management(set())), live.clock())[
            "statusCode"
        ]
        == 400
    )
    subscribe(connect_event("gone", {"contact_id": C}), store, live.clock())
    assert _current(live, store, "gone", Management({"gone"})) == {"statusCode": 410}
    assert store.for_contact(C) == []


def test_an_expired_contact_reads_as_none(live: Live, store: Connections) -> None:
    run(live, call_turning_high(live)[:4])
    later = live.clock() + timedelta(hours=13)  # past the contact's TTL, before DynamoDB deleted it
    assert _contacts(live).summary(C, later) is None
    assert agent_message(current_detail(C, None), kind="churn-risk-current") == agent_message(
        current_detail(C, {}), kind="churn-risk-current"
    )
