"""ScoreCallFunction's parts: event parsing, model text, alert message, endpoint error mapping."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from churn_contracts.endpoint import parse_score, request_record
from churn_contracts.locations import LocationError as TranscriptLocationError
from churn_contracts.locations import parse_location
from churn_contracts.profile import item_to_record
from churn_contracts.transcribe import (
    EmptyTranscriptError,
    MalformedTranscriptError,
    build_transcript,
    parse_transcript,
)
from churn_lambda.retry import Backoff
from score_call.adapters.endpoint import EndpointScorer
from score_call.alert import MAX_MESSAGE_BYTES, Alert
from score_call.config import ConfigError, load_settings
from score_call.events import InvalidEventError, parse_job_state_change
from score_call.models import (
    EndpointContractError,
    EndpointUnavailableError,
    ModelRejectedError,
    TranscriptionJob,
    TranscriptUnavailableError,
)
from score_call.service import transcript_location
from score_call.transcript import excerpt, model_text

from tests.conftest import EVENTS, load_format
from tests.unit.functions.conftest import BUCKET
from tests.unit.functions.score_support import ANGRY, client_error, env_values, model_error

SETTINGS = load_settings(env_values("arn:aws:sns:us-east-1:123456789012:alerts"))


# --- events -------------------------------------------------------------------------------------


def test_reference_completed_event_with_documentation_placeholders_parses():
    change = parse_job_state_change(load_format("eventbridge-transcribe-completed.json"))
    assert (change.job_name, change.status, change.failure_reason) == (
        "my-first-transcription-job",
        "COMPLETED",
        None,
    )


def test_reference_failed_event_carries_its_reason():
    change = parse_job_state_change(load_format("eventbridge-transcribe-failed.json"))
    assert change.status == "FAILED" and change.failure_reason == "Unsupported media format"


@pytest.mark.parametrize("name", ["transcribe-completed.json", "transcribe-failed.json"])
def test_sample_events_parse(name):
    change = parse_job_state_change(json.loads((EVENTS / name).read_text()))
    assert change.job_name.startswith("churn-local-") and change.event_id


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e.update(source="aws.s3"),
        lambda e: e.update({"detail-type": "Object Created"}),
        lambda e: e.pop("detail"),
        lambda e: e["detail"].pop("TranscriptionJobName"),
        lambda e: e["detail"].update(TranscriptionJobStatus="IN_PROGRESS"),
    ],
)
def test_events_that_are_not_job_state_changes_raise(mutate):
    event = load_format("eventbridge-transcribe-completed.json")
    mutate(event)
    with pytest.raises(InvalidEventError):
        parse_job_state_change(event)


# --- the model's text: the shared renderer, and nothing else ----------------------------------------


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [("transcribe-output-channel-identification.json", {}), ("transcribe-output-speaker-labels.json", {})],
)
def test_model_text_is_the_shared_renderers_customer_text(name, kwargs):
    document = load_format(name)
    assert model_text(document, SETTINGS) == parse_transcript(document).customer_text
    assert model_text(document) == model_text(document, SETTINGS) != ""


def test_model_text_follows_the_customer_channel_setting():
    document = build_transcript(ANGRY, mode="channels")
    agent_side = load_settings({**env_values("arn:x"), "CUSTOMER_CHANNEL": "ch_1"})
    assert "cancel my contract" in model_text(document, SETTINGS)
    assert "cancel" not in model_text(document, agent_side)


def test_model_text_of_a_mono_call_uses_the_customer_speaker():
    document = build_transcript(ANGRY, mode="speakers")
    assert model_text(document, SETTINGS).startswith("I want to cancel my contract.")


def test_unusable_transcripts_raise_transcript_errors():
    with pytest.raises(MalformedTranscriptError):
        model_text({"jobName": "x"}, SETTINGS)
    with pytest.raises(EmptyTranscriptError):
        model_text({"results": {"transcripts": [{"transcript": ""}], "items": []}}, SETTINGS)


def test_excerpt_is_short_and_cut_at_a_word():
    text = "I want to cancel my contract because the network keeps dropping my calls"
    short = excerpt(text, 30)
    assert len(short) <= 30 and short.endswith("…") and text.startswith(short[:-1])
    assert excerpt("short", 30) == "short"


def test_score_record_is_the_profile_plus_text_with_absent_features_null():
    record = request_record(item_to_record({"customer_id": "C-1", "plan": "gold", "Day Mins": 10}), "hello")
    assert record["text"] == "hello" and record["plan"] == "gold" and record["Day Mins"] == 10.0
    assert record["Eve Mins"] is None and "customer_id" not in record
    assert request_record(item_to_record({}), "x")["plan"] is None


# --- transcript location ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("https://s3.us-east-1.amazonaws.com/b-1/transcripts/j.json", "b-1", "transcripts/j.json"),
        ("https://b-1.s3.eu-west-1.amazonaws.com/transcripts/j.json", "b-1", "transcripts/j.json"),
        ("s3://b-1/transcripts/j.json", "b-1", "transcripts/j.json"),
        ("http://127.0.0.1:5000/b-1/transcripts/a%20b.json", "b-1", "transcripts/a b.json"),
    ],
)
def test_transcript_uris_map_to_bucket_and_key(uri, bucket, key):
    location = parse_location(uri)
    assert (location.bucket, location.key) == (bucket, key)


def test_bad_transcript_uris_raise():
    for uri in ("ftp://x/y", "https://s3.us-east-1.amazonaws.com/only-bucket"):
        with pytest.raises(TranscriptLocationError):
            parse_location(uri)


def _job(redacted: bool, uri: str | None, redacted_uri: str | None) -> TranscriptionJob:
    return TranscriptionJob("j", "COMPLETED", uri, redacted_uri, redacted, None)


def test_redaction_reads_only_the_redacted_transcript():
    plain = f"https://s3.us-east-1.amazonaws.com/{BUCKET}/transcripts/j.json"
    redacted = f"https://s3.us-east-1.amazonaws.com/{BUCKET}/transcripts/redacted-j.json"
    on = load_settings({**env_values("arn:x"), "PII_REDACTION": "true"})
    assert transcript_location(_job(False, plain, redacted), on).key == "transcripts/redacted-j.json"
    assert transcript_location(_job(True, plain, redacted), SETTINGS).key == "transcripts/redacted-j.json"
    assert transcript_location(_job(False, plain, None), SETTINGS).key == "transcripts/j.json"
    with pytest.raises(TranscriptUnavailableError):
        transcript_location(_job(False, plain, None), on)


def test_transcripts_outside_the_bucket_are_refused():
    with pytest.raises(TranscriptUnavailableError):
        transcript_location(_job(False, "https://s3.us-east-1.amazonaws.com/other/t.json", None), SETTINGS)


# --- config ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"MEDIUM_RISK_THRESHOLD": "0.7", "HIGH_RISK_THRESHOLD": "0.6"},
        {"HIGH_RISK_THRESHOLD": "1.5"},
        {"HIGH_RISK_THRESHOLD": "high"},
        {"ALERT_EXCERPTS": "maybe"},
        {"ALERT_SUPPRESSION_DAYS": "-1"},
        {"ENDPOINT_NAME": ""},
    ],
)
def test_bad_settings_fail_at_start(change):
    with pytest.raises(ConfigError):
        load_settings({**env_values("arn:x"), **change})


# --- the alert message -----------------------------------------------------------------------------


def _alert(**change) -> Alert:
    values = dict(
        customer_id="C-10042",
        call_id="call-7",
        job_name="churn-C-10042-call-7-0123456789ab",
        probability=0.91234,
        risk_level="high",
        medium_threshold=0.35,
        high_threshold=0.6,
        profile_found=True,
        plan="gold",
        limit="unlimited",
        account_length=128.0,
        customer_service_calls=4.0,
        missing_features=["Eve Mins"],
        excerpt="I want to cancel my contract.",
        recording_uri="s3://b/recordings/C-10042/call-7.wav",
        transcript_uri="s3://b/transcripts/j.json",
        model_version="rf-2026-11-28",
        scored_at="2026-11-28T14:11:03Z",
    )
    values.update(change)
    return Alert(**values)


def test_alert_message_has_a_machine_document_and_an_email_text():
    body = json.loads(_alert().message())
    document = json.loads(body["default"])
    assert document["schema_version"] == "1.2"  # 1.2: test_alert_briefing.py, test_alert_first_lines.py
    assert document["probability"] == 0.9123 and document["risk_level"] == "high"
    assert document["profile"] == {
        "found": True,
        "plan": "gold",
        "limit": "unlimited",
        "account_length": 128.0,
        "customer_service_calls": 4.0,
    }
    assert document["excerpt"] == "I want to cancel my contract."
    assert body["email"].startswith("High churn risk: a customer on plan gold\nRisk: high, 91%.")
    assert "Customer C-10042, call call-7" in body["email"]  # ids at the bottom
    assert "cancel my contract" in body["email"]


def test_alert_attributes_serve_filter_policies():
    attributes = _alert(plan=None).attributes()
    assert attributes["risk_level"] == {"DataType": "String", "StringValue": "high"}
    assert attributes["plan"]["StringValue"] == "unknown"
    assert attributes["probability"] == {"DataType": "Number", "StringValue": "0.9123"}


def test_an_oversized_excerpt_is_cut_to_its_cap():
    body = _alert(excerpt="x" * 300_000).message()
    assert len(body.encode()) <= 32 * 1024 < MAX_MESSAGE_BYTES  # bounded by construction
    excerpt = json.loads(json.loads(body)["default"])["excerpt"]
    assert len(excerpt) == 1000 and excerpt.endswith("\u2026")


def test_missing_profile_is_flagged_in_the_email():
    assert "Profile: none on file" in json.loads(_alert(profile_found=False).message())["email"]


# --- the endpoint adapter: error mapping on a real client with botocore's Stubber -------------------------


def _stubbed(sleeps: list[float]):
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    scorer = EndpointScorer(
        client, "churn-risk", Backoff(attempts=4, base_s=0.01, cap_s=0.05), sleep=sleeps.append
    )

    def ok(payload: dict) -> None:
        raw = json.dumps(payload).encode()
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"},
        )

    return scorer, stubber, ok


RECORD = {"plan": "gold", "text": "I want to cancel"}
OK = {"probability": 0.81, "model_version": "v1", "missing_features": ["Eve Mins"]}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("ModelNotReadyException", 429),
        ("ServiceUnavailable", 503),
        ("InternalFailure", 500),
    ],
)
def test_throttling_5xx_and_model_not_ready_are_retried(code, status):
    sleeps: list[float] = []
    scorer, stubber, ok = _stubbed(sleeps)
    stubber.add_client_error("invoke_endpoint", code, http_status_code=status)
    stubber.add_client_error("invoke_endpoint", code, http_status_code=status)
    ok(OK)
    with stubber:
        score = scorer.score(RECORD)
    assert (score.probability, score.model_version, score.missing_features) == (0.81, "v1", ["Eve Mins"])
    assert len(sleeps) == 2


def test_retries_are_bounded_then_the_endpoint_is_unavailable():
    sleeps: list[float] = []
    scorer, stubber, _ = _stubbed(sleeps)
    for _ in range(4):
        stubber.add_client_error("invoke_endpoint", "ServiceUnavailable", http_status_code=503)
    with stubber, pytest.raises(EndpointUnavailableError):
        scorer.score(RECORD)
    assert len(sleeps) == 3


def test_model_error_is_a_rejection_with_its_reason_and_not_retried():
    sleeps: list[float] = []
    scorer, stubber, _ = _stubbed(sleeps)
    stubber.add_client_error(
        "invoke_endpoint",
        "ModelError",
        "Received client error (400) from primary",
        424,
        modeled_fields={
            "OriginalStatusCode": 400,
            "OriginalMessage": "field 'Day Mins' must be a finite number",
        },
    )
    with stubber, pytest.raises(ModelRejectedError, match=r"400.*Day Mins"):
        scorer.score(RECORD)
    assert sleeps == []


def test_other_client_errors_are_raised_unchanged_and_not_retried():
    sleeps: list[float] = []
    scorer, stubber, _ = _stubbed(sleeps)
    stubber.add_client_error("invoke_endpoint", "ValidationError", "Endpoint churn-risk not found.", 400)
    with stubber, pytest.raises(Exception, match="ValidationError"):
        scorer.score(RECORD)
    assert sleeps == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"probability": "high"}',
        b'{"probability": 1.5}',
        b'{"probability": true}',
        b'{"probability": 0.2, "missing_features": "x"}',
    ],
)
def test_answers_outside_the_contract_are_errors(body):
    with pytest.raises(EndpointContractError):
        parse_score(body)


def test_batch_shaped_answer_is_read_too():
    assert parse_score(json.dumps({"predictions": [OK]}).encode()).probability == 0.81


def test_canned_runtime_errors_helpers_shape_like_botocore():
    assert model_error(400, "bad").response["OriginalStatusCode"] == 400
    assert client_error("ThrottlingException", 429).response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_every_field_at_its_cap_still_fits_half_of_snss_limit():
    """Bounded by construction: a hostile profile, rules file and endpoint answer (two-byte
    characters everywhere, 400,000 of them per field) give at most the caps' sum."""
    big = "\u00e9" * 400_000
    reason = {"kind": "phrase", "name": big, "value": big, "effect": 0.5, "method": big, "topic": big,
              "text": big, "group": big, "features": [big] * 9}  # fmt: skip
    strongest = {big[: i + 70]: {"text": big, "strength": 1.0, "sentence": 1} for i in range(30)}
    alert = _alert(
        plan=big,
        limit=big,
        missing_features=[big] * 100,
        excerpt=big,
        recording_uri="s3://b/" + big,
        transcript_uri="s3://b/" + big,
        model_version=big,
        reasons=[reason] * 20,
        offer={"offer_id": big, "text": big, "priority": 1, "rules_version": big},
        offer_reason=big,
        customer_name=big,
        customer_phone=big,
        period=big,
        agent_id=big,
        topics={"method": big, "counts": {t: 5 for t in strongest}, "strongest": strongest},
        transcript_link="https://x/" + big,
        degraded=[big] * 20,
    )
    prepared = alert.prepared()
    assert len(prepared.message.encode()) < 128 * 1024
    assert len(prepared.subject) < 100 and all(
        len(v["StringValue"]) <= 200 for v in prepared.attributes.values()
    )
