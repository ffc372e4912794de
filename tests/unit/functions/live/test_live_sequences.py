"""Fault sequences of the live path (issue 23), over in-process moto: duplicates, out of order,
partials alone, no customer speech, FAILED, a contact that never completes, endpoint errors."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from churn_contracts.endpoint import request_record
from churn_contracts.profile import item_to_record
from live_score.events import parse_segment_event
from live_score.models import EndpointUnavailableError, Outcome
from live_score.service import handle_event

from tests.unit.functions.score_support import client_error

from .conftest import Live, envelope, final, partial, segments

C = "contact-1"


def feed(live: Live, payload: dict[str, Any], settings: Any = None) -> Outcome:
    return handle_event(parse_segment_event(payload), settings or live.settings, live.deps, now=live.clock)


def texts(live: Live) -> list[str | None]:
    return [r.get("text") for r in live.runtime.requests]


def call_turning_high(live: Live) -> list[dict[str, Any]]:
    """STARTED; agent greets; the customer thanks (low); 6 s later wants to cancel (high); COMPLETED."""
    return [
        envelope(C, "STARTED"),
        segments(C, final("a1", "AGENT", "Thanks for calling, how can I help?", 1000)),
        segments(
            C,
            partial("c1", "CUSTOMER", "Thank", 4000),
            final("c1", "CUSTOMER", "Thank you, just checking my bill.", 4000),
        ),
        segments(C, final("c2", "CUSTOMER", "Actually I want to cancel my account.", 10000)),
        envelope(C, "COMPLETED"),
    ]


def run(live: Live, payloads: list[dict[str, Any]], gap_s: float = 6.0) -> list[Outcome]:
    out = []
    for payload in payloads:
        out.append(feed(live, payload))
        live.clock.advance(gap_s)
    return out


def test_a_call_turns_from_low_to_high_and_is_alerted_once(live: Live) -> None:
    run(live, call_turning_high(live))
    updates = live.updates()
    assert [(u["previous_level"], u["risk_level"], u["alert"]) for u in updates] == [
        (None, "low", False),
        ("low", "high", True),
    ]
    assert updates[1]["customer_id"] == "C-1" and updates[1]["customer_turns"] == 2
    assert texts(live) == [
        "Thank you, just checking my bill.",
        "Thank you, just checking my bill. Actually I want to cancel my account.",
    ]
    item = live.contact(C)
    assert item["status"] == "COMPLETED" and item["final"] is True and item["risk_level"] == "high"
    marker = live.dynamodb.Table("live-customer-alerts").get_item(Key={"customer_id": "C-1"})["Item"]
    assert marker["state"] == "DELIVERED" and marker["last_alert_job_name"] == f"live-{C}"
    assert live.directory.calls == 1  # the customer is looked up once per contact


def test_the_request_is_the_post_call_paths_record(live: Live) -> None:
    """Profile features from the profiles table plus the shared renderer's text: same request shape."""
    run(live, call_turning_high(live)[:3])
    profile = live.dynamodb.Table("live-profiles").get_item(Key={"customer_id": "C-1"})["Item"]
    expected = request_record(item_to_record(profile), "Thank you, just checking my bill.")
    assert live.runtime.requests == [json.loads(json.dumps(expected))]


def test_every_record_delivered_twice_scores_and_publishes_nothing_more(live: Live) -> None:
    payloads = call_turning_high(live)
    doubled = [p for p in payloads for _ in range(2)]
    outcomes = run(live, doubled, gap_s=3.0)
    assert len(live.runtime.requests) == 2
    assert len(live.updates()) == 2
    # STARTED and the agent's turn again change nothing; the customer's turns and the end are duplicates.
    assert [o.result for o in outcomes[1::2]] == [
        "no-change",
        "no-change",
        "duplicate",
        "duplicate",
        "duplicate",
    ]


def test_segments_out_of_order_are_rendered_in_the_order_they_were_said(live: Live) -> None:
    feed(live, segments(C, final("c2", "CUSTOMER", "so I am leaving.", 9000)))
    live.clock.advance(6)
    feed(live, segments(C, final("c1", "CUSTOMER", "The price went up again,", 3000)))
    live.clock.advance(6)
    feed(live, envelope(C, "STARTED"))  # STARTED last: nothing lost, nothing re-scored
    assert texts(live) == ["so I am leaving.", "The price went up again, so I am leaving."]
    assert live.contact(C)["status"] == "LIVE"


def test_partials_without_finals_are_never_scored(live: Live) -> None:
    for n in range(5):
        feed(live, segments(C, partial(f"c{n}", "CUSTOMER", "I want to cancel", 1000 * n)))
        live.clock.advance(6)
    outcome = feed(live, envelope(C, "COMPLETED"))
    assert live.runtime.requests == []
    assert outcome.reason == "no customer speech"
    item = live.contact(C)
    assert item["status"] == "COMPLETED" and item["customer_turns"] == 0 and "risk_level" not in item
    assert live.updates() == []


def test_turns_inside_the_interval_wait_and_are_scored_once_it_has_passed(live: Live) -> None:
    feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    live.clock.advance(1)
    feed(live, segments(C, final("c2", "CUSTOMER", "I may cancel.", 2000)))
    live.clock.advance(1)
    feed(live, segments(C, final("a1", "AGENT", "Let me check.", 3000)))
    assert len(live.runtime.requests) == 1 and live.contact(C)["pending"] is True
    live.clock.advance(4)  # 6 s after the first score: the agent's next segment triggers it
    feed(live, segments(C, final("a2", "AGENT", "One moment.", 4000)))
    assert texts(live)[-1] == "Thank you. I may cancel."
    assert live.contact(C)["pending"] is False


def test_completed_scores_what_is_still_pending(live: Live) -> None:
    feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    live.clock.advance(1)
    feed(live, segments(C, final("c2", "CUSTOMER", "I will cancel.", 2000)))
    live.clock.advance(1)
    feed(live, envelope(C, "COMPLETED"))
    assert texts(live) == ["Thank you.", "Thank you. I will cancel."]
    assert live.contact(C)["risk_level"] == "high" and live.contact(C)["final"] is True


def test_endpoint_error_mid_call_keeps_the_last_score_and_the_next_turn_retries(live: Live) -> None:
    feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    live.clock.advance(6)
    throttled = client_error("ThrottlingException", 429)
    live.runtime.errors = [throttled, throttled, throttled]  # every bounded retry
    outcome = feed(live, segments(C, final("c2", "CUSTOMER", "I want to cancel.", 2000)))
    assert not outcome.scored and "unavailable" in (outcome.reason or "")
    item = live.contact(C)
    assert item["risk_level"] == "low" and item["pending"] is True and item["customer_turns"] == 2
    live.clock.advance(6)
    feed(live, segments(C, final("a1", "AGENT", "I understand.", 3000)))
    assert live.contact(C)["risk_level"] == "high"
    assert [u["risk_level"] for u in live.updates()] == ["low", "high"]


def test_endpoint_error_at_completed_fails_the_record_and_its_redelivery_finishes(live: Live) -> None:
    feed(live, segments(C, final("c1", "CUSTOMER", "I want to cancel.", 1000)))
    live.clock.advance(1)
    feed(live, segments(C, final("c2", "CUSTOMER", "Today.", 2000)))
    live.runtime.errors = [client_error("ServiceUnavailable", 503)] * 3
    with pytest.raises(EndpointUnavailableError):
        feed(live, envelope(C, "COMPLETED"))
    assert live.contact(C)["status"] == "LIVE"  # nothing written: the redelivery starts clean
    feed(live, envelope(C, "COMPLETED"))
    item = live.contact(C)
    assert item["status"] == "COMPLETED" and item["scored_turns"] == 2


def test_failed_session_is_closed_with_its_reason_and_keeps_its_score(live: Live) -> None:
    feed(live, segments(C, final("c1", "CUSTOMER", "I want to cancel.", 1000)))
    live.clock.advance(6)
    feed(live, envelope(C, "FAILED"))
    live.clock.advance(6)
    late = feed(live, segments(C, final("c2", "CUSTOMER", "Hello?", 2000)))
    item = live.contact(C)
    assert item["status"] == "FAILED" and "FAILED" in item["reason"]
    assert item["risk_level"] == "high" and item["customer_turns"] == 1
    assert late.result == "duplicate" and len(live.runtime.requests) == 1


def test_a_contact_that_never_completes_expires_and_an_expired_item_reads_as_gone(live: Live) -> None:
    feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    item = live.contact(C)
    assert int(item["expires_at"]) == int((live.clock() + timedelta(hours=12)).timestamp())
    # DynamoDB deletes expired items within days, not on time: the function must not trust them.
    live.clock.advance(13 * 3600)
    outcome = feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    assert outcome.new_turns == 1 and len(live.runtime.requests) == 2


def test_a_rejected_text_is_not_retried_until_the_text_changes(live: Live) -> None:
    from tests.unit.functions.score_support import model_error

    live.runtime.errors = [model_error(400, "bad")]
    outcome = feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    assert not outcome.scored and live.contact(C)["pending"] is False
    live.clock.advance(6)
    feed(live, segments(C, final("a1", "AGENT", "Sure.", 2000)))
    assert len(live.runtime.requests) == 1


def test_an_unknown_customer_is_scored_on_text_alone(live: Live) -> None:
    feed(live, segments("contact-9", final("c1", "CUSTOMER", "I will cancel.", 1000)))
    (request,) = live.runtime.requests
    assert request["text"] == "I will cancel." and request["plan"] is None
    (update,) = live.updates()
    assert update["risk_level"] == "high" and update["customer_id"] is None and update["alert"] is False


def test_a_failed_customer_lookup_degrades_the_score_and_never_stops_it(live: Live) -> None:
    class Broken:
        def customer_id(self, instance_id: str, contact_id: str) -> str | None:
            raise client_error("ThrottlingException", 429)

    live.deps = replace(live.deps, directory=Broken())
    feed(live, segments(C, final("c1", "CUSTOMER", "Thank you.", 1000)))
    assert live.contact(C)["risk_level"] == "low" and "customer_id" not in live.contact(C)


def test_publish_refused_then_redelivered_sends_the_same_update(live: Live) -> None:
    class Refusing:
        def __init__(self, inner: Any) -> None:
            self.inner, self.sent = inner, []

        def publish(self, detail: Any) -> str:
            self.sent.append(json.dumps(detail, sort_keys=True))
            if len(self.sent) == 1:
                raise RuntimeError("PutEvents refused the update: ThrottlingException")
            return self.inner.publish(detail)

    refusing = Refusing(live.deps.events)
    live.deps = replace(live.deps, events=refusing)
    payload = segments(C, final("c1", "CUSTOMER", "I want to cancel.", 1000))
    with pytest.raises(RuntimeError):
        feed(live, payload)
    # The window was given back: nobody holds it for an alert that did not go out.
    assert (
        live.dynamodb.Table("live-customer-alerts").get_item(Key={"customer_id": "C-1"}).get("Item") is None
    )
    feed(live, payload)  # the event source mapping's retry of the same record
    assert refusing.sent[0] == refusing.sent[1]
    assert len(live.runtime.requests) == 1
    (update,) = live.updates()
    assert update["alert"] is True and update["dedupe_key"] == f"{C}:1"


def test_logs_never_carry_what_the_customer_said(live: Live, caplog: pytest.LogCaptureFixture) -> None:
    from churn_lambda.logs import pin_library_loggers

    pin_library_loggers()  # what the handler does at import
    caplog.set_level(logging.DEBUG)
    live.runtime.errors = [client_error("ThrottlingException", 429)] * 3
    feed(live, segments(C, final("c1", "CUSTOMER", "My number is 555 0101 and I will cancel.", 1000)))
    assert "555" not in caplog.text and "cancel" not in caplog.text
