"""Alert 1.1: reasons, a retention offer from the rules in S3, eligibility, the email briefing,
and redaction on by default (a spoken phone number never reaches an alert)."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from churn_contracts.conversation import Role, Turn
from churn_contracts.endpoint import FeatureSpec, parse_request, prediction
from churn_contracts.transcribe import build_transcript
from score_call.adapters.offers import DynamoOfferHistory, S3OfferRules
from score_call.alert import NO_OFFER, Alert, console_url
from score_call.config import load_settings
from score_call.events import parse_job_state_change
from score_call.models import TranscriptionJob
from score_call.offers import Advisor, OfferSettings, load_offer_settings
from score_call.service import handle_job_state_change

from tests.unit.functions.conftest import BUCKET, PREFIX
from tests.unit.functions.score_support import (
    ANGRY,
    CannedRuntime,
    add_profile,
    collaborators,
    completion,
    env_values,
    transcribed_call,
)

ROOT = Path(__file__).resolve().parents[3]
RULES_KEY = "offers/rules.json"
HISTORY = "churn-test-offer-history"
T0 = datetime(2026, 11, 28, 14, 11, 3, tzinfo=UTC)
PHONE = "555 014 2789"


class ExplainingRuntime(CannedRuntime):
    """The canned endpoint, answering ``explain`` with reasons built from what the customer said."""

    def invoke_endpoint(self, *, EndpointName, ContentType, Accept, Body):
        self.requests.append(json.loads(Body))
        request = parse_request(Body, ContentType, FeatureSpec())
        (record,) = request.records
        text = record.features.get("text") or ""
        p = 0.92 if "cancel" in text.lower() else 0.08
        reasons = None
        if request.explain:
            first = text.split(". ")[0].rstrip(".") + "."
            reasons = [
                {"kind": "phrase", "name": "text", "value": first, "effect": 0.21, "sentence": 0,
                 "method": "leave-one-sentence-out", "topic": "network", "topic_similarity": 0.52},
                {"kind": "profile", "name": "CustServ Calls", "value": 4.0, "reference": 1.0, "effect": 0.12,
                 "method": "reference-replacement"},
            ][: request.explain]  # fmt: skip
        body = json.dumps(prediction(p, self.model_version, record.missing, reasons)).encode()
        return {"Body": io.BytesIO(body), "ContentType": "application/json"}


def _history_table(aws):
    return aws.dynamodb.create_table(
        TableName=HISTORY,
        KeySchema=[
            {"AttributeName": "customer_id", "KeyType": "HASH"},
            {"AttributeName": "offer_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "customer_id", "AttributeType": "S"},
            {"AttributeName": "offer_id", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _advisor(aws, *, excerpts=True):
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_object(
        Bucket=BUCKET, Key=RULES_KEY, Body=(ROOT / "offers" / "default-rules.json").read_bytes()
    )
    settings = OfferSettings(BUCKET, RULES_KEY, HISTORY, 0.6, excerpts, "us-east-1")
    return Advisor(settings, S3OfferRules(aws.s3, BUCKET, RULES_KEY), DynamoOfferHistory(_history_table(aws)))


def _run(aws, runtime, advisor, name, moment, env=None):
    settings = load_settings(env or env_values(aws.topic_arn))
    deps = replace(collaborators(aws, runtime, settings), advisor=advisor)
    return handle_job_state_change(
        parse_job_state_change(completion(name)), settings, deps, now=lambda: moment
    )


def _published(aws):
    return [(json.loads(n["Message"]), n["MessageAttributes"]) for n in aws.alerts()]


def test_a_high_risk_alert_says_why_and_what_to_offer(aws):
    runtime = ExplainingRuntime()
    add_profile(aws, "C-1")  # four customer-service calls
    name = transcribed_call(aws, "C-1", "call-1", ANGRY)
    assert _run(aws, runtime, _advisor(aws), name, T0).result.value == "alerted"

    assert runtime.requests[0]["explain"] == 8  # grouped and trimmed to three on the function side
    ((document, attributes),) = _published(aws)
    assert document["schema_version"] == "1.2"
    assert [r["kind"] for r in document["reasons"]] == ["phrase", "profile"]
    assert document["reasons"][0]["value"] == "I want to cancel my contract."
    # CustServ Calls >= 3 and a network phrase: the senior callback (priority 90) wins.
    assert document["offer"]["offer_id"] == "service-callback-senior"
    version = json.loads((ROOT / "offers" / "default-rules.json").read_text())["version"]
    assert document["offer"]["rules_version"].startswith(f"{version} (s3 version ")
    assert "service-callback-senior" in document["offer_reason"]
    assert attributes["offer_id"] == {"Type": "String", "Value": "service-callback-senior"}
    assert document["links"]["recording"].startswith("https://") and "s3://" not in json.dumps(
        document["links"]
    )
    # Every 1.0 field is still there, with its meaning.
    assert document["recording"].startswith("s3://") and document["probability"] == 0.92


def test_an_offer_is_not_made_twice_within_its_window(aws):
    runtime = ExplainingRuntime()
    advisor = _advisor(aws)
    add_profile(aws, "C-2")
    env = {**env_values(aws.topic_arn), "ALERT_SUPPRESSION_DAYS": "0"}
    first = transcribed_call(aws, "C-2", "call-1", ANGRY)
    second = transcribed_call(aws, "C-2", "call-2", ANGRY)
    third = transcribed_call(aws, "C-2", "call-3", ANGRY)
    _run(aws, runtime, advisor, first, T0, env)
    _run(aws, runtime, advisor, second, T0 + timedelta(days=10), env)
    _run(aws, runtime, advisor, third, T0 + timedelta(days=61), env)
    offers = [d["offer"]["offer_id"] if d["offer"] else None for d, _ in _published(aws)]
    # 60-day window on the callback: the next eligible rule (network booster) on day 10, the callback again on day 61.
    assert offers == ["service-callback-senior", "network-booster", "service-callback-senior"]
    recorded = aws.dynamodb.Table(HISTORY).get_item(Key={"customer_id": "C-2", "offer_id": "network-booster"})
    assert recorded["Item"]["job_name"] == second


def test_no_matching_rule_is_offer_null_with_the_reason(aws):
    advisor = _advisor(aws)
    alert = advisor.advise(_alert(), [], {"Account Length": 5.0, "CustServ Calls": 0.0})
    assert alert.offer is None and "no rule matched" in alert.offer_reason
    assert alert.attributes()["offer_id"]["StringValue"] == NO_OFFER
    assert "\nOffer: none (no rule matched" in alert.email_text()


def test_unreadable_rules_never_stop_an_alert(aws):
    aws.s3.put_object(Bucket=BUCKET, Key=RULES_KEY, Body=b'{"rules": [{"offer_id": 1}]}')
    broken = Advisor(OfferSettings(), S3OfferRules(aws.s3, BUCKET, RULES_KEY))
    assert broken.advise(_alert(), [], {}).offer_reason == "the offer rules could not be read"
    missing = Advisor(OfferSettings(), S3OfferRules(aws.s3, BUCKET, "offers/none.json"))
    assert missing.advise(_alert(), [], {}).offer is None


def test_alert_excerpts_off_drops_the_phrases_too(aws):
    runtime = ExplainingRuntime()
    add_profile(aws, "C-3")
    name = transcribed_call(aws, "C-3", "call-1", ANGRY)
    env = {**env_values(aws.topic_arn), "ALERT_EXCERPTS": "false"}
    _run(aws, runtime, _advisor(aws, excerpts=False), name, T0, env)
    ((document, _),) = _published(aws)
    assert document["excerpt"] is None
    phrase = document["reasons"][0]
    assert phrase["kind"] == "phrase" and phrase["value"] is None and phrase["topic"] == "network"
    assert "cancel" not in json.dumps(document)


def test_the_email_reads_as_a_briefing():
    reasons = [
        {
            "kind": "phrase",
            "name": "text",
            "value": "My calls keep dropping.",
            "effect": 0.21,
            "topic": "network",
        },
        {"kind": "profile", "name": "CustServ Calls", "value": 4.0, "reference": 1.0, "effect": 0.12},
    ]
    offer = {"offer_id": "network-booster", "text": "Send a free signal booster.", "priority": 50}
    advisor = Advisor(OfferSettings(high_risk_precision=0.6, region="eu-west-1", churn_period="3 months"))
    alert = advisor.advise(_alert(), reasons, {})
    text = replace(alert, offer=offer, offer_reason="rule network-booster").email_text()
    lines = text.splitlines()
    assert lines[0] == "High churn risk: a customer on plan gold"
    assert lines[1] == (
        "Risk: high, 91%. About 6 in 10 customers scored this high leave within 3 months "
        "(the number of customers behind this figure is not known)."
    )
    assert lines[2] == (
        "Why: Said \u201cMy calls keep dropping.\u201d (about coverage and network); "
        "Calls customer service often: 4 calls, typical 1."
    )
    assert lines[3] == "Offer: Send a free signal booster."
    assert "s3://" not in text and "C-10042" not in "\n".join(lines[:6])  # ids at the bottom only
    assert (
        "Recording (AWS console): https://console.aws.amazon.com/s3/object/b?region=eu-west-1&prefix=recordings%2FC-10042%2Fcall-7.wav"
        in text
    )


def test_console_links_are_https_or_nothing():
    assert (
        console_url("s3://bucket/a b/c.json", None)
        == "https://console.aws.amazon.com/s3/object/bucket?prefix=a%20b%2Fc.json"
    )
    assert console_url(None, "us-east-1") is None and console_url("https://x/y", "us-east-1") is None


def test_offer_settings_come_from_the_template_environment():
    settings = load_offer_settings(
        {
            "RECORDINGS_BUCKET": "b",
            "OFFER_RULES_KEY": "offers/r.json",
            "HIGH_RISK_PRECISION": "0.6",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert (settings.rules_bucket, settings.rules_key, settings.high_risk_precision) == (
        "b",
        "offers/r.json",
        0.6,
    )
    assert settings.alert_excerpts is True and settings.history_table is None
    with pytest.raises(ValueError):
        load_offer_settings({"HIGH_RISK_PRECISION": "6"})


# --- redaction on by default ----------------------------------------------------------------------------


class OneJob:
    def __init__(self, job: TranscriptionJob) -> None:
        self.job = job

    def get(self, job_name):
        return self.job


def test_a_spoken_phone_number_never_reaches_an_alert_with_the_defaults(aws):
    import yaml
    from churn_ops.template_rules import load_template

    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    assert (
        parameters["PiiRedaction"]["Default"] == "true" and parameters["AlertExcerpts"]["Default"] == "true"
    )
    defaults = {
        k: v for k, v in env_values(aws.topic_arn).items() if k not in ("PII_REDACTION", "ALERT_EXCERPTS")
    }
    settings = load_settings(defaults)
    assert settings.pii_redaction is True and settings.alert_excerpts is True
    assert yaml  # the template loader's dependency is present

    said = [
        Turn(Role.AGENT, "Can I have a number to call you back on?", 0.0),
        Turn(Role.CUSTOMER, f"It is {PHONE}. I want to cancel, the network is useless.", 2.0),
    ]
    masked = [Turn(Role.AGENT, said[0].text, 0.0), Turn(Role.CUSTOMER, "It is [PII]. I want to cancel, the network is useless.", 2.0)]  # fmt: skip
    name = transcribed_call(
        aws, "C-9", "call-1", said
    )  # the unredacted transcript, as Transcribe may also keep
    redacted_key = f"transcripts/redacted-{name}.json"
    aws.s3.put_object(
        Bucket=BUCKET, Key=redacted_key, Body=json.dumps(build_transcript(masked, job_name=name)).encode()
    )
    base = f"https://s3.us-east-1.amazonaws.com/{BUCKET}/transcripts"
    job = TranscriptionJob(
        name, "COMPLETED", f"{base}/{name}.json", f"{base}/redacted-{name}.json", True, None
    )

    runtime = ExplainingRuntime()
    deps = replace(collaborators(aws, runtime, settings), jobs=OneJob(job), advisor=_advisor(aws))
    outcome = handle_job_state_change(
        parse_job_state_change(completion(name)), settings, deps, now=lambda: T0
    )
    assert outcome.result.value == "alerted"
    assert PHONE not in json.dumps(runtime.requests)
    (notification,) = aws.alerts()
    # What the team reads: the alert and its attributes (the envelope's random ids could hold "014").
    readable = notification["Message"] + json.dumps(notification.get("MessageAttributes", {}))
    assert not re.search(r"\b2789\b|555\D{0,3}014|014\D{0,3}2789", readable)
    document = json.loads(notification["Message"])
    assert document["reasons"][0]["value"] == "It is [PII]." and "[PII]" in document["excerpt"]
    assert name.startswith(PREFIX)


def _alert(**change) -> Alert:
    values = dict(
        customer_id="C-10042",
        call_id="call-7",
        job_name="churn-C-10042-call-7-0123456789ab",
        probability=0.91234,
        risk_level="high",
        medium_threshold=0.12,
        high_threshold=0.42,
        profile_found=True,
        plan="gold",
        limit="unlimited",
        account_length=128.0,
        customer_service_calls=4.0,
        missing_features=[],
        excerpt=None,
        recording_uri="s3://b/recordings/C-10042/call-7.wav",
        transcript_uri="s3://b/transcripts/j.json",
        model_version="m-1",
        scored_at="2026-11-28T14:11:03Z",
    )
    values.update(change)
    return Alert(**values)


def test_the_risk_figures_come_from_the_model_only_where_they_are_true_of_the_stack():
    from churn_contracts.endpoint import RiskBasis
    from score_call.offers import risk_figures

    basis = RiskBasis(0.4604, 0.62, 525, 2233, 324, "90 days", "test")
    empty = OfferSettings()
    assert risk_figures(empty, basis, 0.46) == {
        "high_precision": 0.62,
        "high_customers": 525,
        "period": "90 days",
    }
    # Another threshold (past 3 decimals): the period is still the model's, the precision is not.
    assert risk_figures(empty, basis, 0.4594) == {
        "high_precision": None,
        "high_customers": None,
        "period": "90 days",
    }
    # An operator's count goes with the model's precision; an operator's precision takes no model count.
    assert risk_figures(OfferSettings(high_risk_customers=600), basis, 0.46)["high_customers"] == 600
    assert risk_figures(OfferSettings(high_risk_precision=0.5), basis, 0.46)["high_customers"] is None
    assert risk_figures(OfferSettings(churn_period="3 months"), None, 0.46) == {
        "high_precision": None,
        "high_customers": None,
        "period": "3 months",
    }
