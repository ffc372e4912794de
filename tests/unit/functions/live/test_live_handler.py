"""The Kinesis batch through the handler: partial batch responses, a poison record failing alone,
and the quiet window shared with the post-call path."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from score_call.adapters.suppression import AlertWindow

from tests.conftest import load_format

from .conftest import ALERTS, Live, envelope, final, kinesis_record, segments

C = "contact-1"


class Context:
    function_name = "LiveScoreFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:LiveScoreFunction"
    aws_request_id = "req-1"


@pytest.fixture
def handler(live: Live, monkeypatch: pytest.MonkeyPatch) -> Any:
    from live_score import handler as module

    module.reset()
    # The handler's own wiring builds the same adapters from the environment; the tests hand it
    # the moto-backed ones with the canned endpoint (moto has no model behind InvokeEndpoint).
    monkeypatch.setattr(module, "collaborators", lambda: live.deps)
    monkeypatch.setattr(module, "settings", lambda: live.settings)
    return module


def invoke(handler: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    return handler.lambda_handler({"Records": records}, Context())


def test_the_documented_kinesis_event_is_processed(handler: Any, live: Live) -> None:
    event = load_format("kinesis-event-contact-lens.json")
    assert handler.lambda_handler(event, Context()) == {"batchItemFailures": []}
    item = live.contact("a1b2c3d4-5678-90ab-cdef-EXAMPLE22222")
    assert item["status"] == "COMPLETED" and item["customer_turns"] == 1
    (request,) = live.runtime.requests
    assert request["text"] == "Hi, I'd like to cancel my account. I'm not happy with the service."


def test_a_poison_record_is_reported_alone_and_the_rest_of_the_batch_counts(handler: Any, live: Live) -> None:
    records = [
        kinesis_record(envelope(C, "STARTED"), 1),
        kinesis_record({}, 2, raw=b"{not json"),
        kinesis_record(segments(C, final("c1", "CUSTOMER", "I will cancel.", 1000)), 3),
        kinesis_record({"EventType": "SEGMENTS", "ContactId": C, "Segments": "x"}, 4),
        kinesis_record(envelope(C, "COMPLETED"), 5),
    ]
    response = invoke(handler, records)
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [records[1]["kinesis"]["sequenceNumber"], records[3]["kinesis"]["sequenceNumber"]]
    assert live.contact(C)["status"] == "COMPLETED" and live.contact(C)["risk_level"] == "high"
    # The mapping retries from the first failure: the good records come again and change nothing.
    invoke(handler, records[1:])
    assert len(live.runtime.requests) == 1 and len(live.updates()) == 1


def test_a_batch_of_only_poison_fails_the_invocation_so_the_mapping_bisects(handler: Any, live: Live) -> None:
    from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

    with pytest.raises(BatchProcessingError):
        invoke(handler, [kinesis_record({}, 1, raw=b"\x00")])


def test_endpoint_outage_at_the_end_fails_that_record_only(handler: Any, live: Live) -> None:
    from tests.unit.functions.score_support import client_error

    records = [
        kinesis_record(segments(C, final("c1", "CUSTOMER", "I will cancel.", 1000)), 1),
        kinesis_record(segments("contact-2", final("x1", "CUSTOMER", "Thank you.", 1000)), 2),
    ]
    invoke(handler, records)
    live.runtime.errors = [client_error("ServiceUnavailable", 503)] * 6  # both records' retries
    done = kinesis_record(envelope("contact-3", "COMPLETED"), 3)
    ending = kinesis_record(segments("contact-3", final("z1", "CUSTOMER", "Bye.", 1)), 4)
    response = invoke(handler, [ending, done])
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [done["kinesis"]["sequenceNumber"]]


def test_a_live_alert_holds_the_post_call_paths_quiet_window(live: Live, handler: Any) -> None:
    invoke(handler, [kinesis_record(segments(C, final("c1", "CUSTOMER", "I will cancel.", 1000)), 1)])
    (update,) = live.updates()
    assert update["alert"] is True
    # The recording of the same call, scored after it ends by ScoreCallFunction's own window:
    post_call = AlertWindow(live.dynamodb.Table(ALERTS), timedelta(days=7))
    claim = post_call.claim("C-1", "churn-post-call-job", live.clock(), live.clock() + timedelta(minutes=3))
    assert claim.granted is False and claim.holder_job_name == f"live-{C}"


def test_a_post_call_alert_inside_the_window_means_the_live_update_is_no_alert(
    live: Live, handler: Any
) -> None:
    post_call = AlertWindow(live.dynamodb.Table(ALERTS), timedelta(days=7))
    moment = live.clock()
    assert post_call.claim("C-1", "churn-earlier", moment, moment + timedelta(minutes=3)).granted
    post_call.mark_delivered("C-1", "churn-earlier", "sns-message-1", moment)
    invoke(handler, [kinesis_record(segments(C, final("c1", "CUSTOMER", "I will cancel.", 1000)), 1)])
    (update,) = live.updates()
    assert update["risk_level"] == "high" and update["alert"] is False
    marker = live.dynamodb.Table(ALERTS).get_item(Key={"customer_id": "C-1"})["Item"]
    assert marker["last_alert_job_name"] == "churn-earlier"


def test_the_handler_reads_its_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from live_score.config import ConfigError, load_settings

    env = {
        "CONTACTS_TABLE": "t",
        "PROFILES_TABLE": "p",
        "CUSTOMER_ALERTS_TABLE": "a",
        "ENDPOINT_NAME": "e",
        "EVENT_BUS_NAME": "b",
        "RESCORE_INTERVAL_SECONDS": "3",
    }
    assert load_settings(env).rescore_interval_seconds == 3.0
    with pytest.raises(ConfigError, match="EVENT_BUS_NAME"):
        load_settings({k: v for k, v in env.items() if k != "EVENT_BUS_NAME"})
    with pytest.raises(ConfigError, match="RESCORE_INTERVAL_SECONDS"):
        load_settings({**env, "RESCORE_INTERVAL_SECONDS": "-1"})
    assert json.dumps(load_settings(env).thresholds.level(0.9)) == '"high"'
