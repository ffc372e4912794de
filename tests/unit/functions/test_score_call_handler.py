"""ScoreCallFunction on moto: statuses, alerts, duplicates, suppression, and no call text in logs."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from churn_lambda import logs
from score_call import handler
from score_call.adapters.calls import CallsRepository
from score_call.config import load_settings
from score_call.events import parse_job_state_change
from score_call.models import Result
from score_call.service import handle_job_state_change

from tests.conftest import load_format
from tests.unit.functions.conftest import BUCKET, CALLS, emitted_metrics
from tests.unit.functions.score_support import (
    ANGRY,
    HAPPY,
    NEUTRAL,
    CannedRuntime,
    add_profile,
    client_error,
    collaborators,
    completion,
    env_values,
    model_error,
    transcribed_call,
)

T0 = datetime(2026, 11, 28, 14, 11, 3, tzinfo=UTC)


@pytest.fixture
def runtime() -> CannedRuntime:
    return CannedRuntime()


@pytest.fixture
def score(aws, monkeypatch, runtime):
    """Run the real handler with moto adapters and the canned endpoint."""
    for name, value in env_values(aws.topic_arn).items():
        monkeypatch.setenv(name, value)
    handler.reset()
    deps = collaborators(aws, runtime)
    monkeypatch.setattr(handler, "collaborators", lambda: deps)
    yield lambda event, context: handler.lambda_handler(event, context)
    handler.settings.cache_clear()


def _settings(aws, **change):
    return load_settings({**env_values(aws.topic_arn), **change})


def test_high_risk_call_is_scored_stored_and_alerted_once(aws, score, context, runtime, capsys):
    add_profile(aws, "C-1")
    name = transcribed_call(aws, "C-1", "call-1", ANGRY)
    result = score(completion(name), context)

    assert result["result"] == "alerted" and result["risk_level"] == "high"
    item = aws.call(name)
    assert item["status"] == "ALERTED" and item["alert_status"] == "SENT" and item["alert_message_id"]
    assert float(item["probability"]) == 0.92 and item["risk_level"] == "high"
    assert (float(item["medium_threshold"]), float(item["high_threshold"])) == (0.35, 0.6)
    assert item["profile_found"] is True and item["model_version"] == "test-model-1"
    assert item["transcript_uri"].endswith(f"/transcripts/{name}.json")
    assert item["scored_at"].endswith("Z") and int(item["expires_at"]) > int(datetime.now(UTC).timestamp())
    assert "cancel my contract" in item["excerpt"]
    assert "Day Mins" not in item["missing_features"] and "Eve Mins" in item["missing_features"]

    (request,) = runtime.requests
    assert request["plan"] == "gold" and request["Account Length"] == 128.0 and request["Eve Mins"] is None
    assert request["text"] == (
        "I want to cancel my contract. Your network dropped my calls all week. "
        "Sorry is not enough, I am switching to another provider."
    )

    (envelope,) = aws.alerts()
    document = json.loads(envelope["Message"])
    assert document["customer_id"] == "C-1" and document["call_id"] == "call-1"
    assert document["profile"]["plan"] == "gold" and document["profile"]["customer_service_calls"] == 4.0
    assert document["recording"] == f"s3://{BUCKET}/recordings/C-1/call-1.wav"
    assert envelope["MessageAttributes"]["risk_level"]["Value"] == "high"
    assert envelope["MessageAttributes"]["plan"]["Value"] == "gold"
    assert envelope["MessageAttributes"]["probability"] == {"Type": "Number", "Value": "0.9200"}

    metrics = emitted_metrics(capsys.readouterr().out)
    assert metrics["CallsTranscribed"] == [1.0] and metrics["CallsScored"] == [1.0]
    assert metrics["HighRiskAlerts"] == [1.0] and len(metrics["ScoringLatency"]) == 1


def test_low_and_medium_risk_are_stored_without_alert(aws, score, context):
    add_profile(aws, "C-2")
    low = transcribed_call(aws, "C-2", "happy", HAPPY)
    medium = transcribed_call(aws, "C-2", "question", NEUTRAL)
    assert score(completion(low), context)["risk_level"] == "low"
    assert score(completion(medium), context)["risk_level"] == "medium"
    assert aws.call(low)["status"] == "SCORED" and aws.call(medium)["status"] == "SCORED"
    assert "alerted_at" not in aws.call(low)
    assert aws.alerts() == []


def test_same_completion_event_five_times_gives_one_alert(aws, score, context, runtime):
    add_profile(aws, "C-3")
    name = transcribed_call(aws, "C-3", "dup", ANGRY)
    results = [score(completion(name), context)["result"] for _ in range(5)]
    assert results == ["alerted"] + ["duplicate"] * 4
    assert len(aws.alerts()) == 1 and len(runtime.requests) == 1


def test_concurrent_redelivery_cannot_take_the_scoring_lease_twice(aws, runtime):
    add_profile(aws, "C-3")
    name = transcribed_call(aws, "C-3", "race", ANGRY)
    calls = CallsRepository(aws.dynamodb.Table(CALLS))
    lease = timedelta(minutes=3)
    assert calls.begin_scoring(name, "first", T0, T0 + lease) is True
    # A second invocation that already read the item before the lease still loses at the write.
    assert calls.begin_scoring(name, "second", T0 + timedelta(seconds=1), T0 + lease) is False
    # ...unless the first died long ago: its lapsed lease is taken over, and the first can no longer write.
    later = T0 + lease + timedelta(seconds=1)
    assert calls.begin_scoring(name, "third", later, later + lease) is True
    assert calls.mark_scoring_failed(name, "first", "late", later) is False


def test_second_high_risk_call_inside_the_window_is_stored_not_alerted(aws, runtime):
    add_profile(aws, "C-4")
    deps = collaborators(aws, runtime)
    settings = _settings(aws)
    first = transcribed_call(aws, "C-4", "first", ANGRY)
    second = transcribed_call(aws, "C-4", "second", ANGRY)
    third = transcribed_call(aws, "C-4", "third", ANGRY)

    def run(name, moment):
        return handle_job_state_change(
            parse_job_state_change(completion(name)), settings, deps, now=lambda: moment
        )

    assert run(first, T0).result is Result.ALERTED
    inside = run(second, T0 + timedelta(days=6))
    assert inside.result is Result.SUPPRESSED
    item = aws.call(second)
    assert item["status"] == "SCORED" and item["risk_level"] == "high" and item["alert_suppressed"] is True
    assert item["suppressed_by"] == first and "alerted_at" not in item
    assert (
        run(second, T0 + timedelta(days=6, hours=1)).result is Result.DUPLICATE
    )  # stays quiet on redelivery
    assert run(third, T0 + timedelta(days=7, seconds=1)).result is Result.ALERTED
    sent = [json.loads(a["Message"]) for a in aws.alerts()]
    # The repeat call inside the window appends a short follow-up to the open alert (issue 22).
    assert [(m["call_id"], m["type"]) for m in sent] == [
        ("first", "churn-risk-alert"),
        ("second", "churn-risk-follow-up"),
        ("third", "churn-risk-alert"),
    ]
    assert sent[1]["follows"]["job_name"] == first and sent[1]["dedupe_key"] == f"{second}/follow-up"
    assert sent[1]["headline"][0] == "Repeat call: a customer on plan gold called again."
    assert sent[1]["headline"][-1].startswith("Follows the alert of 28 Nov 2026 14:11 UTC")
    assert aws.call(second)["follow_up_message_id"]


def test_follow_ups_off_keeps_the_repeat_call_silent(aws, runtime):
    add_profile(aws, "C-4")
    settings = _settings(aws, ALERT_FOLLOW_UPS="false")
    deps = collaborators(aws, runtime, settings)
    first = transcribed_call(aws, "C-4", "first", ANGRY)
    second = transcribed_call(aws, "C-4", "second", ANGRY)
    for name, moment in ((first, T0), (second, T0 + timedelta(days=1))):
        handle_job_state_change(
            parse_job_state_change(completion(name)), settings, deps, now=lambda m=moment: m
        )
    assert [json.loads(a["Message"])["call_id"] for a in aws.alerts()] == ["first"]
    assert "follow_up_message_id" not in aws.call(second)


def test_window_of_zero_days_never_suppresses(aws, runtime):
    add_profile(aws, "C-5")
    settings = _settings(aws, ALERT_SUPPRESSION_DAYS="0")
    deps = collaborators(aws, runtime, settings)
    names = [transcribed_call(aws, "C-5", f"c{i}", ANGRY) for i in range(2)]
    for name in names:
        handle_job_state_change(parse_job_state_change(completion(name)), settings, deps, now=lambda: T0)
    assert len(aws.alerts()) == 2


def test_missing_profile_is_scored_and_flagged(aws, score, context, runtime):
    name = transcribed_call(aws, "C-404", "call", ANGRY)
    result = score(completion(name), context)
    assert result["result"] == "alerted" and result["profile_found"] is False
    item = aws.call(name)
    assert item["profile_found"] is False and "plan" in item["missing_features"]
    document = json.loads(aws.alerts()[0]["Message"])
    assert document["profile"]["found"] is False and document["profile"]["plan"] is None
    assert runtime.requests[0]["plan"] is None


def test_transcription_failed_is_recorded_with_its_reason(aws, score, context, capsys):
    name = transcribed_call(aws, "C-6", "broken", ANGRY)
    event = load_format("eventbridge-transcribe-failed.json")
    event["detail"]["TranscriptionJobName"] = name
    assert score(event, context)["result"] == "transcription-failed"
    item = aws.call(name)
    assert item["status"] == "TRANSCRIPTION_FAILED" and item["failure_reason"] == "Unsupported media format"
    assert emitted_metrics(capsys.readouterr().out)["TranscriptionsFailed"] == [1.0]


def test_reference_completed_event_for_a_foreign_job_is_ignored(aws, score, context, runtime):
    assert score(load_format("eventbridge-transcribe-completed.json"), context)["result"] == "ignored"
    assert runtime.requests == []


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"{not json", "not valid JSON"),
        ({"jobName": "x", "status": "COMPLETED"}, "no 'results'"),
        ({"results": {"transcripts": [{"transcript": ""}], "items": []}}, "no spoken words"),
    ],
)
def test_unusable_transcripts_are_scoring_failures(aws, score, context, capsys, document, reason):
    name = transcribed_call(aws, "C-7", "bad", ANGRY, document=document)
    assert score(completion(name), context)["result"] == "scoring-failed"
    item = aws.call(name)
    assert item["status"] == "SCORING_FAILED" and reason in item["failure_reason"]
    assert emitted_metrics(capsys.readouterr().out)["ScoringFailed"] == [1.0]


def test_model_error_is_recorded_as_scoring_failed(aws, score, context, runtime):
    runtime.errors.append(model_error(400, "field 'Day Mins' must be a finite number or null"))
    name = transcribed_call(aws, "C-8", "rejected", ANGRY)
    assert score(completion(name), context)["result"] == "scoring-failed"
    item = aws.call(name)
    assert item["status"] == "SCORING_FAILED" and "400" in item["failure_reason"]
    assert aws.alerts() == []


def test_endpoint_throttling_is_retried_then_scored(aws, score, context, runtime):
    runtime.errors += [client_error("ThrottlingException", 429), client_error("ModelNotReadyException", 429)]
    name = transcribed_call(aws, "C-9", "busy", HAPPY)
    assert score(completion(name), context)["result"] == "scored"
    assert len(runtime.requests) == 3


def test_endpoint_down_fails_the_invocation_and_keeps_the_call(aws, score, context, runtime):
    runtime.errors += [client_error("ServiceUnavailable", 503)] * 3
    name = transcribed_call(aws, "C-10", "down", ANGRY)
    with pytest.raises(Exception, match="unavailable"):
        score(completion(name), context)
    item = aws.call(name)
    # The lease is given back: Lambda's retry scores at once (else the on-failure queue keeps the event).
    assert item["status"] == "SCORING" and "lease_until" not in item and item["open_status"] == "SCORING"
    assert score(completion(name), context)["result"] == "alerted"


def test_call_without_item_is_rejected_and_creates_nothing(aws, score, context, capsys):
    for status in ("COMPLETED", "FAILED"):
        name = "churn-test-never-started-0123456789ab"
        assert score(completion(name, status, "x"), context)["result"] == "rejected"
        assert aws.call(name) is None  # no orphan item
    assert emitted_metrics(capsys.readouterr().out)["EventsRejected"] == [1.0, 1.0]


def test_publish_failure_releases_the_claim_so_the_retry_alerts(aws, runtime):
    add_profile(aws, "C-11")
    settings = _settings(aws)
    deps = collaborators(aws, runtime)
    name = transcribed_call(aws, "C-11", "flaky", ANGRY)

    class FailingOnce:
        def __init__(self, real):
            self.real, self.failed = real, False

        def publish(self, alert):
            if not self.failed:
                self.failed = True
                raise client_error("KMSThrottlingException", 400)
            return self.real.publish(alert)

    flaky = type(deps)(**{**deps.__dict__, "publisher": FailingOnce(deps.publisher)})
    change = parse_job_state_change(completion(name))
    with pytest.raises(Exception, match="KMSThrottling"):
        handle_job_state_change(change, settings, flaky, now=lambda: T0)
    assert "alerted_at" not in aws.call(name) and aws.call(name)["alert_status"] == "PENDING"
    assert handle_job_state_change(change, settings, flaky, now=lambda: T0).result is Result.ALERTED
    assert len(aws.alerts()) == 1


def test_excerpts_can_be_turned_off(aws, runtime):
    add_profile(aws, "C-12")
    settings = _settings(aws, ALERT_EXCERPTS="false")
    name = transcribed_call(aws, "C-12", "quiet", ANGRY)
    handle_job_state_change(
        parse_job_state_change(completion(name)),
        settings,
        collaborators(aws, runtime, settings),
        now=lambda: T0,
    )
    assert "excerpt" not in aws.call(name)
    assert json.loads(aws.alerts()[0]["Message"])["excerpt"] is None


def test_no_call_text_reaches_any_log_even_at_debug(aws, score, context, capsys, caplog):
    """The canary: what the customer said goes to the model, the call item and the alert, never to logs."""
    canary = "Zebracanary Quuxbridge"
    turns = [
        ANGRY[0],
        type(ANGRY[1])(ANGRY[1].role, f"I want to cancel, {canary}, right now.", 3.0),
    ]
    add_profile(aws, "C-13")
    name = transcribed_call(aws, "C-13", "canary", turns)
    levels = {n: logging.getLogger(n).level for n in [*logging.root.manager.loggerDict, ""]}
    for logger_name in levels:
        logging.getLogger(logger_name).setLevel(logging.DEBUG)
    handler.logger.setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            result = score(completion(name), context)
    finally:
        for logger_name, level in levels.items():
            logging.getLogger(logger_name).setLevel(level)
        handler.logger.setLevel(logging.INFO)
    assert result["result"] == "alerted"
    assert any(r.name.startswith("botocore") for r in caplog.records), "DEBUG logging was not active"
    logged = capsys.readouterr().out + capsys.readouterr().err
    logged += "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    for record in caplog.records:
        text = f"{record.getMessage()} {record.__dict__}"
        assert "Zebracanary" not in text, (record.name, text[text.find("Zebracanary") - 300 :][:400])
    for word in canary.split():
        assert word not in logged
    assert canary in aws.call(name)["excerpt"]
    assert canary in json.loads(aws.alerts()[0]["Message"])["excerpt"]


def test_library_loggers_are_pinned_idempotently():
    logs.pin_library_loggers()
    logs.pin_library_loggers()
    assert sum(f is logs._FILTER for f in logging.getLogger("botocore.endpoint").filters) == 1
    for name in ("botocore", "urllib3", "boto3"):
        assert logging.getLogger(name).level == logging.WARNING
