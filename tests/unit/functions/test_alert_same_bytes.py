"""Issue 22 §0: the same alert, whoever sends it, on moto through the real handlers.

Each fault sequence is compared with the undisturbed path for the same call scored at the same
moment: the same reasons, topics, offer and bytes, and any second copy SNS gets is identical
(the same ``dedupe_key``). Enrichment that fails (offer history throttled, rules nested past the
parser, a 300 KB categorical in the profile) degrades the alert and never stops it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from churn_contracts.endpoint import FeatureSpec, RiskBasis, parse_request, prediction
from churn_contracts.topics import summarise
from churn_lambda.retry import Backoff
from score_call import handler, reconcile
from score_call.adapters import clients
from score_call.adapters.alerts import AlertPublisher, S3TranscriptLinks
from score_call.adapters.calls import CallsRepository
from score_call.adapters.endpoint import EndpointScorer
from score_call.adapters.offers import DynamoOfferHistory, S3OfferRules
from score_call.adapters.profiles import ProfileStore
from score_call.adapters.suppression import AlertWindow
from score_call.adapters.transcribe import TranscriptionJobs
from score_call.adapters.transcripts import TranscriptStore
from score_call.alert import MAX_MESSAGE_BYTES
from score_call.config import load_settings
from score_call.offers import Advisor, load_offer_settings
from score_call.service import Collaborators

from tests.unit.functions.conftest import BUCKET, CALLS, CUSTOMER_ALERTS, PROFILES
from tests.unit.functions.faults import Fault, Faulty, Killed, sns_failure, throttled
from tests.unit.functions.score_support import (
    ANGRY,
    GOLD_PROFILE,
    CannedRuntime,
    add_profile,
    completion,
    env_values,
    transcribed_call,
)

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 28, 14, 11, 3, tzinfo=UTC)
NO_WAIT = Backoff(attempts=3, base_s=0.0, cap_s=0.0)
RULES_KEY = "offers/rules.json"
HISTORY = "churn-test-offer-history"
# 5 calls to customer service, a cancel sentence and two about another provider: the competitor offer.
PROFILE = {**GOLD_PROFILE, "CustServ Calls": 5, "Day Charge": 30.7, "Eve Charge": 16.8, "Night Charge": 9.1}


class ExplainingRuntime(CannedRuntime):
    """The canned endpoint, answering ``explain`` with reasons and the whole call's topics, as the
    real endpoint's contract has them (churn_contracts.endpoint.prediction)."""

    basis: RiskBasis | None = None  # the model's risk_basis, where a test gives it one
    unknown: dict[str, str] | None = None  # the record's unknown categories, likewise

    def invoke_endpoint(self, *, EndpointName, ContentType, Accept, Body):
        self.requests.append(json.loads(Body))
        if self.errors:
            raise self.errors.pop(0)
        request = parse_request(Body, ContentType, FeatureSpec())
        (record,) = request.records
        text = record.features.get("text") or ""
        sentences = [s.strip() + "." for s in text.replace("!", ".").split(".") if s.strip()]
        reasons = [
            {"kind": "profile", "name": "CustServ Calls", "value": record.features.get("CustServ Calls"),
             "reference": 1.0, "effect": 0.18, "method": "reference-replacement"},
            {"kind": "profile", "name": "Day Mins", "value": record.features.get("Day Mins"),
             "reference": 179.8, "effect": 0.05, "method": "reference-replacement"},
            {"kind": "profile", "name": "Day Charge", "value": record.features.get("Day Charge"),
             "reference": 30.6, "effect": 0.04, "method": "reference-replacement"},
            {"kind": "phrase", "name": "text", "value": sentences[0], "effect": 0.09, "sentence": 0,
             "method": "leave-one-sentence-out", "topic": "contract", "topic_similarity": 0.4},
            {"kind": "profile", "name": "Night Mins", "value": 45.0, "reference": 100.0, "effect": 0.01,
             "method": "reference-replacement"},
        ][: request.explain]  # fmt: skip
        labels = [[("cancel", 0.8)] if "cancel" in s.lower() else [("competitor", 0.7)] for s in sentences]
        topics = summarise(sentences, labels, method="canned")
        answer = prediction(
            0.92, self.model_version, record.missing, reasons, topics, self.unknown, self.basis
        )
        body = json.dumps(answer).encode()
        return {"Body": io.BytesIO(body), "ContentType": "application/json"}


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _second_sender(p: Any, name: str, path: str) -> None:
    """After a sender died between SNS and its record: Lambda's redelivery half an hour on, or the
    reconciler once the claim's lease is up (the event in between finds the call in progress)."""
    if path == "redelivery":
        p.deliver(completion(name), T0 + timedelta(minutes=30))
    else:
        assert p.deliver(completion(name), T0 + timedelta(minutes=1))["result"] == "in-progress"
        p.reconcile(T0 + timedelta(minutes=15))


@dataclass
class Recorder:
    """The SNS client as the publisher sees it, keeping every request that reached SNS."""

    target: Any
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, **kwargs: Any) -> Any:
        answer = self.target.publish(**kwargs)
        self.published.append(kwargs)
        return answer


@dataclass
class Pipeline:
    aws: Any
    clock: Clock
    runtime: ExplainingRuntime
    sns: Faulty
    recorder: Recorder
    history: Faulty
    alerts_table: Faulty
    context: Any

    def deliver(self, event: dict[str, Any], at: datetime) -> dict[str, Any]:
        self.clock.moment = at
        return handler.lambda_handler(event, self.context)

    def reconcile(self, at: datetime) -> dict[str, Any]:
        self.clock.moment = at
        return reconcile.lambda_handler({"source": "aws.events"}, self.context)

    def heal(self) -> None:
        for proxy in (self.sns, self.history, self.alerts_table):
            proxy.faults.clear()

    def messages(self) -> list[str]:
        """Every message body SNS accepted, as published (the MessageStructure=json string)."""
        return [p["Message"] for p in self.recorder.published]


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


RISK_PARAMETERS = {"HIGH_RISK_PRECISION": "0.6", "HIGH_RISK_CUSTOMERS": "84", "CHURN_PERIOD": "3 months"}


def _pipeline(
    aws,
    monkeypatch,
    context,
    *,
    rules: bytes | None = None,
    links: bool = False,
    risk: dict[str, str] = RISK_PARAMETERS,
) -> Pipeline:
    """``risk``: the stack's HighRiskPrecision, HighRiskCustomers and ChurnPeriod (absent: empty)."""
    env = {**env_values(aws.topic_arn), "OFFER_RULES_KEY": RULES_KEY, "OFFER_HISTORY_TABLE": HISTORY}
    env.update(risk)
    for name in RISK_PARAMETERS.keys() - risk.keys():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    handler.reset()
    settings = load_settings(env)
    aws.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    body = rules if rules is not None else (ROOT / "offers" / "default-rules.json").read_bytes()
    aws.s3.put_object(Bucket=BUCKET, Key=RULES_KEY, Body=body)
    history = Faulty(_history_table(aws))
    alerts_table = Faulty(aws.dynamodb.Table(CUSTOMER_ALERTS))
    recorder = Recorder(aws.sns)
    sns = Faulty(recorder)  # a fault "after" lets the request reach SNS (and the recorder) first
    clock = Clock(T0)
    runtime = ExplainingRuntime()
    advisor = Advisor(
        load_offer_settings(env),
        S3OfferRules(aws.s3, BUCKET, RULES_KEY, ttl_s=0.0),
        DynamoOfferHistory(history),
    )
    deps = Collaborators(
        jobs=TranscriptionJobs(aws.transcribe),
        transcripts=TranscriptStore(aws.s3),
        profiles=ProfileStore(aws.dynamodb.Table(PROFILES)),
        scorer=EndpointScorer(runtime, settings.endpoint_name, NO_WAIT),
        calls=CallsRepository(aws.dynamodb.Table(CALLS)),
        alert_window=AlertWindow(alerts_table, timedelta(days=settings.alert_suppression_days)),
        publisher=AlertPublisher(sns, aws.topic_arn),
        bookkeeping=NO_WAIT,
        sleep=lambda _s: None,
        advisor=advisor,
        links=S3TranscriptLinks(clients.presigning_s3()) if links else None,
    )
    monkeypatch.setattr(handler, "collaborators", lambda: deps)
    monkeypatch.setattr(handler, "_now", clock)
    return Pipeline(aws, clock, runtime, sns, recorder, history, alerts_table, context)


@pytest.fixture
def make(aws, monkeypatch, context):
    made: list[Pipeline] = []

    def build(**options: Any) -> Pipeline:
        made.append(_pipeline(aws, monkeypatch, context, **options))
        return made[-1]

    yield build
    handler.settings.cache_clear()


def _undisturbed(p: Pipeline, name: str, at: datetime) -> str:
    """The reference: the same call, from scratch, delivered once with no fault at ``at``."""
    table = p.aws.dynamodb.Table(CALLS)
    item = table.get_item(Key={"job_name": name})["Item"]
    keep = ("job_name", "customer_id", "call_id", "recording_uri", "created_at")
    table.put_item(
        Item={
            **{k: item[k] for k in keep},
            "status": "TRANSCRIBING",
            "open_status": "TRANSCRIBING",
            "updated_at": item["created_at"],
        }
    )
    p.aws.dynamodb.Table(CUSTOMER_ALERTS).delete_item(Key={"customer_id": item["customer_id"]})
    for offer in p.aws.dynamodb.Table(HISTORY).scan()["Items"]:
        p.aws.dynamodb.Table(HISTORY).delete_item(
            Key={"customer_id": offer["customer_id"], "offer_id": offer["offer_id"]}
        )
    before = len(p.recorder.published)
    assert p.deliver(completion(name), at)["result"] == "alerted"
    (reference,) = p.messages()[before:]
    return reference


def _document(message: str) -> dict[str, Any]:
    return json.loads(json.loads(message)["default"])


def _call(p: Pipeline, customer: str = "C-1") -> str:
    add_profile(p.aws, customer, PROFILE)
    return transcribed_call(p.aws, customer, "call-1", ANGRY)


def test_the_undisturbed_alert_carries_reasons_topics_and_the_complaints_offer(make):
    p = make()
    name = _call(p)
    assert p.deliver(completion(name), T0)["result"] == "alerted"
    (message,) = p.messages()
    document = _document(message)
    assert document["dedupe_key"] == f"{name}/alert"
    assert p.recorder.published[0]["MessageAttributes"]["dedupe_key"]["StringValue"] == f"{name}/alert"
    # Day minutes and day charge are one reason; night minutes (1 point) is dropped.
    assert [r["text"] for r in document["reasons"]] == [
        "Calls customer service often: 5 calls, typical 1",
        "Said \u201cI want to cancel my contract.\u201d (about cancelling or the contract)",
        "Heavy daytime use: 180.5 minutes, typical 179.8 minutes",
    ]
    assert document["reasons"][2]["features"] == ["Day Mins", "Day Charge"]
    assert document["topics"]["counts"] == {"cancel": 1, "competitor": 2}
    assert document["offer"]["offer_id"] == "match-competitor-12m"
    assert document["value"] == {"monthly": 56.6, "at_risk": round(12 * 56.6 * 0.92, 2)}
    stored = p.aws.call(name)
    assert stored["alert"]["message"] == message  # what went out is what was stored first
    assert stored["topics"]["counts"] == {"cancel": 1, "competitor": 2}


@pytest.mark.parametrize("path", ["retry-then-reconciler", "redelivery"])
def test_killed_after_sns_accepted_sends_a_byte_identical_second_copy(make, path):
    p = make()
    name = _call(p)
    p.sns.faults.append(Fault("publish", Killed, after=True))
    with pytest.raises(Killed):
        p.deliver(completion(name), T0)
    p.heal()
    _second_sender(p, name, path)
    first, second = p.messages()
    assert first == second  # the same bytes
    assert p.aws.call(name)["status"] == "ALERTED"
    assert len(p.runtime.requests) == 1  # scored once
    assert second == _undisturbed(p, name, T0)


def test_the_reconciler_after_a_lost_event_sends_the_undisturbed_alert(make):
    p = make()
    name = _call(p)
    p.reconcile(T0 + timedelta(minutes=15))  # the COMPLETED event never came
    (sent,) = p.messages()
    assert _document(sent)["reasons"] and _document(sent)["offer"]["offer_id"] == "match-competitor-12m"
    assert sent == _undisturbed(p, name, T0 + timedelta(minutes=15))


def test_a_takeover_of_an_expired_claim_sends_the_stored_alert(make):
    """The scoring invocation dies after the score and claim are written (reading the window):
    the takeover 30 minutes later has no reasons in memory, yet sends the same alert."""
    p = make()
    name = _call(p)
    p.alerts_table.faults.append(Fault("get_item", Killed))
    with pytest.raises(Killed):
        p.deliver(completion(name), T0)
    p.heal()
    assert p.aws.call(name)["alert_status"] == "PENDING" and p.messages() == []
    assert p.deliver(completion(name), T0 + timedelta(minutes=30))["result"] == "alerted"
    (sent,) = p.messages()
    assert len(p.runtime.requests) == 1
    assert sent == _undisturbed(p, name, T0)


def test_a_throttled_offer_history_degrades_the_alert_and_never_fails_it(make):
    p = make()
    name = _call(p)
    reference = _document(_undisturbed(p, name, T0))
    p.recorder.published.clear()
    p.aws.dynamodb.Table(CUSTOMER_ALERTS).delete_item(Key={"customer_id": "C-1"})
    p.aws.dynamodb.Table(CALLS).update_item(
        Key={"job_name": name},
        UpdateExpression="SET #s = :t, open_status = :t REMOVE alert, alert_status",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":t": "TRANSCRIBING"},
    )
    p.history.faults.append(Fault("get_item", lambda: throttled("GetItem"), times=99))
    assert p.deliver(completion(name), T0)["result"] == "alerted"  # not raised: no failure queue
    (sent,) = p.messages()
    document = _document(sent)
    assert document["offer"] is None and "offer history could not be read" in document["offer_reason"]
    assert document["degraded"] == ["offer: the offer history could not be read"]
    assert document["reasons"] == reference["reasons"] and document["topics"] == reference["topics"]
    # A redelivery later finds the alert sent: nothing more, and no second, different alert.
    p.heal()
    assert p.deliver(completion(name), T0 + timedelta(minutes=30))["result"] == "duplicate"
    assert p.messages() == [sent]


def test_rules_nested_past_the_parser_give_offer_null_with_why(make):
    nested = b'{"rules": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    p = make(rules=nested)
    name = _call(p)
    assert p.deliver(completion(name), T0)["result"] == "alerted"
    (sent,) = p.messages()
    document = _document(sent)
    assert document["offer"] is None and document["offer_reason"] == "the offer rules could not be read"
    assert [r["group"] for r in document["reasons"]] == ["service-calls", "said", "day"]
    assert sent == _undisturbed(p, name, T0)  # and every sender sends exactly that


def test_a_300_kb_categorical_is_trimmed_and_the_alert_stays_bounded(make):
    p = make()
    add_profile(p.aws, "C-1", {**PROFILE, "plan": "p" * 300_000})
    name = transcribed_call(p.aws, "C-1", "call-1", ANGRY)
    p.alerts_table.faults.append(Fault("get_item", Killed))  # and a takeover sends it
    with pytest.raises(Killed):
        p.deliver(completion(name), T0)
    p.heal()
    assert p.deliver(completion(name), T0 + timedelta(minutes=30))["result"] == "alerted"
    (sent,) = p.messages()
    assert len(sent.encode()) < 32 * 1024 < MAX_MESSAGE_BYTES
    document = _document(sent)
    assert len(document["profile"]["plan"]) == 64 and document["reasons"]
    attributes = p.recorder.published[0]["MessageAttributes"]
    assert len(attributes["plan"]["StringValue"]) == 64
    assert sent == _undisturbed(p, name, T0)


def test_the_presigned_transcript_link_is_stored_and_sent_again_unchanged(make):
    p = make(links=True)
    name = _call(p)
    p.sns.faults.append(Fault("publish", Killed, after=True))
    with pytest.raises(Killed):
        p.deliver(completion(name), T0)
    p.heal()
    p.deliver(completion(name), T0 + timedelta(minutes=30))
    first, second = p.messages()
    assert first == second
    links = _document(first)["links"]
    url = links["transcript_download"]
    assert url.startswith("https://") and "X-Amz-Signature=" in url and "X-Amz-Expires=43200" in url
    assert f"transcripts/{name}.json" in url
    assert links["transcript_download_expires_at"] == "2026-11-29T02:11:03.000Z"
    # The link opens the transcript with no AWS credentials (moto answers the presigned GET).
    import requests

    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200 and json.loads(answer.content)["jobName"] == name


# --- §4: the first lines, and the customer's name and phone -------------------------------------------

NAME, PHONE = "Jane Q. Doe", "+1 555 014 2789"
CONTACT = {**PROFILE, "display_name": NAME, "phone": PHONE}


def _contact_call(p: Pipeline, profile: dict[str, Any]) -> str:
    from churn_contracts.profile import record_to_item

    item = record_to_item("C-7", profile)
    item.update({k: profile[k] for k in ("display_name", "phone") if k in profile})
    p.aws.dynamodb.Table(PROFILES).put_item(Item=item)
    return transcribed_call(p.aws, "C-7", "call-1", ANGRY)


def test_name_and_phone_reach_the_alert_where_allowed_and_never_the_logs(make, monkeypatch, capsys, caplog):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    p = make()
    monkeypatch.setenv("ALERT_CONTACT_DETAILS", "true")
    handler.settings.cache_clear()
    name = _contact_call(p, CONTACT)
    caplog.set_level("DEBUG")
    assert p.deliver(completion(name), T0)["result"] == "alerted"
    (sent,) = p.messages()
    body = json.loads(sent)
    email, chat = body["email"].splitlines(), json.loads(body["https"])
    assert email[0] == f"High churn risk: {NAME}, {PHONE}"
    assert email[1].startswith(
        "Risk: high, 92%. About 6 in 10 customers scored this high leave within 3 months"
    )
    assert "(measured on 84 customers scored this high)" in email[1]
    assert email[2].startswith("Why: Calls customer service often: 5 calls, typical 1; Said \u201cI want")
    assert email[3] == "Offer: Match the competitor's monthly price for 12 months on a 12-month plan."
    assert (
        email[4] == "Call: 28 Nov 2026 14:05 UTC, 15 s."
    )  # the recording's arrival, the transcript's length
    assert email[5] == "Value: $56.60 a month; $624.86 a year at risk."
    assert not any("C-7" in line or name in line for line in email[:6])  # ids go at the bottom
    assert email[-2].startswith("Customer C-7, call call-1, job ")
    assert chat["version"] == "1.0" and chat["source"] == "custom"
    assert chat["content"]["textType"] == "client-markdown"
    assert chat["content"]["title"] == f":rotating_light: High churn risk: {NAME}, {PHONE}"
    assert chat["content"]["description"].splitlines()[0] == email[1]
    assert chat["metadata"]["threadId"] == "churn-C-7" and chat["id"] == f"{name}/alert"
    document = json.loads(body["default"])
    assert document["customer"] == {"id": "C-7", "name": NAME, "phone": PHONE}
    logs = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert "Call scored" in logs  # the logs were captured...
    for secret in (NAME, "Doe", PHONE, "014 2789", "2789"):
        assert secret not in logs  # ...and hold neither the name nor the phone


@pytest.mark.parametrize("allowed", ["false", None])
def test_name_and_phone_stay_out_unless_the_stack_allows_them(make, monkeypatch, allowed):
    p = make()
    if allowed:
        monkeypatch.setenv("ALERT_CONTACT_DETAILS", allowed)
    handler.settings.cache_clear()
    name = _contact_call(p, CONTACT)
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    assert "Doe" not in sent and "2789" not in sent and "014" not in json.loads(sent)["email"]
    assert json.loads(sent)["email"].startswith("High churn risk: a customer on plan gold\n")
    assert p.recorder.published[0]["Subject"] == "High churn risk: customer C-7"


def test_allowed_but_absent_from_the_profile_reads_as_a_customer(make, monkeypatch):
    p = make()
    monkeypatch.setenv("ALERT_CONTACT_DETAILS", "true")
    handler.settings.cache_clear()
    name = _contact_call(p, PROFILE)
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    assert _document(sent)["customer"] == {"id": "C-7", "name": None, "phone": None}


# --- §4: the daily digest -----------------------------------------------------------------------------


def test_the_daily_digest_ranks_the_days_new_customers_by_value_at_risk(make, monkeypatch):
    from score_call.digest import AlertMarkers, CallAlerts, TableDigestJournal, daily_digest

    p = make()
    charges = {"C-1": 20.0, "C-2": 90.0, "C-3": None}
    for customer, charge in charges.items():
        profile = {**PROFILE, "Day Charge": charge, "Eve Charge": None, "Night Charge": None}
        add_profile(p.aws, customer, {k: v for k, v in profile.items() if v is not None})
        name = transcribed_call(p.aws, customer, "call-1", ANGRY)
        assert p.deliver(completion(name), T0 + timedelta(hours=1))["result"] == "alerted"
    # A repeat call of C-2 the same day: a follow-up, not a second line in the digest.
    repeat = transcribed_call(p.aws, "C-2", "call-2", ANGRY)
    assert p.deliver(completion(repeat), T0 + timedelta(hours=2))["result"] == "suppressed"
    # An alert the day before is not in this digest.
    add_profile(p.aws, "C-0", PROFILE)
    old = transcribed_call(p.aws, "C-0", "call-1", ANGRY)
    p.deliver(completion(old), T0 - timedelta(days=1))
    before = len(p.recorder.published)

    publisher = AlertPublisher(p.sns, p.aws.topic_arn)
    table = p.aws.dynamodb.Table(CUSTOMER_ALERTS)

    def run(at: datetime) -> dict[str, Any]:
        parts = (AlertMarkers(table), CallAlerts(p.aws.dynamodb.Table(CALLS)), publisher.publish)
        return daily_digest(*parts, at, TableDigestJournal(table))

    p.sns.faults.append(Fault("publish", sns_failure))  # a failed run gives the day back...
    with pytest.raises(Exception, match="InternalError"):
        run(datetime(2026, 11, 29, 6, 0, tzinfo=UTC))
    p.heal()
    summary = run(datetime(2026, 11, 29, 6, 1, tzinfo=UTC))  # ...so the retry sends it
    assert summary["day"] == "2026-11-28" and summary["customers"] == 3
    assert run(datetime(2026, 11, 29, 6, 2, tzinfo=UTC))["already_sent"] is True  # once a day
    assert run(datetime(2026, 11, 27, 6, 0, tzinfo=UTC))["message_id"] is None  # a day with none
    (request,) = p.recorder.published[before:]
    body = json.loads(request["Message"])
    email = body["email"].splitlines()
    assert email[0] == "Churn digest 2026-11-28: 3 new high-risk customers"
    assert email[1] == "Value at risk: $1,214.40 a year, ranked by value x risk."
    assert email[3] == "1. a customer on plan gold: 92%, $993.60 a year at risk [customer C-2]"
    assert email[4].startswith("   Why: Calls customer service often")
    ranked = [e["customer_id"] for e in json.loads(body["default"])["entries"]]
    assert ranked == ["C-2", "C-1", "C-3"]  # value x risk; no charges last
    chat = json.loads(body["https"])
    assert chat["source"] == "custom" and chat["content"]["title"].endswith(email[0])
    assert request["MessageAttributes"]["dedupe_key"]["StringValue"] == "digest/2026-11-28"
    assert json.loads(body["default"])["text"] == body["email"]
    # The scheduled function reports the day before the schedule's own time: that day went out.
    from score_call import digest

    scheduled = {"detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-29T06:00:00Z"}
    assert digest.lambda_handler(scheduled, p.context)["already_sent"] is True


def test_the_agent_from_the_recordings_metadata_is_on_the_call_line(make):
    p = make()
    name = _call(p)
    # What the start function stores from the recording's agent-id metadata.
    p.aws.dynamodb.Table(CALLS).update_item(
        Key={"job_name": name},
        UpdateExpression="SET agent_id = :a",
        ExpressionAttributeValues={":a": "A-117"},
    )
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    assert json.loads(sent)["email"].splitlines()[4] == "Call: 28 Nov 2026 14:05 UTC, 15 s, agent A-117."
    assert _document(sent)["call"]["agent_id"] == "A-117"


def test_a_call_scored_before_alerts_were_stored_is_composed_stored_then_sent(make):
    """An item a 1.1 function left SCORED with a lapsed alert claim and no stored alert."""
    p = make()
    name = _call(p)
    p.aws.dynamodb.Table(CALLS).update_item(
        Key={"job_name": name},
        UpdateExpression=(
            "SET #s = :scored, risk_level = :high, probability = :p, scored_at = :t, updated_at = :t, "
            "alert_status = :pending, alert_token = :old, alert_lease_until = :t, open_status = :open, "
            "transcript_uri = :uri, model_version = :m, missing_features = :none"
        ),
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":scored": "SCORED",
            ":high": "high",
            ":p": Decimal("0.91"),
            ":t": "2026-11-28T14:11:03.000Z",
            ":pending": "PENDING",
            ":old": "dead-invocation",
            ":open": "ALERT_PENDING",
            ":uri": f"s3://{BUCKET}/transcripts/{name}.json",
            ":m": "m-1.1",
            ":none": [],
        },
    )
    p.reconcile(T0 + timedelta(minutes=15))
    (sent,) = p.messages()
    document = _document(sent)
    assert document["degraded"] == ["reasons: not stored with this older score"]
    assert document["offer"] is not None  # chosen from the profile and rules, as 1.1 did
    assert p.aws.call(name)["alert"]["message"] == sent  # stored before it was published
    assert p.runtime.requests == []  # not scored again


def test_no_transcript_link_where_alerts_may_not_carry_the_customers_words(make, monkeypatch):
    p = make(links=True)
    monkeypatch.setenv("ALERT_EXCERPTS", "false")
    handler.settings.cache_clear()
    name = _call(p)
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    document = _document(sent)
    assert document["links"]["transcript_download"] is None and document["excerpt"] is None
    for said in ("cancel my contract", "network dropped", "switching to another provider"):
        assert said not in sent  # nor in the reasons' words or the topics' sentences
    assert document["topics"]["counts"] == {"cancel": 1, "competitor": 2}  # the topics themselves stay
    assert all(s["text"] == "" for s in p.aws.call(name)["topics"]["strongest"].values())  # nor stored


# --- issue 22 s4: the risk words from the model itself ------------------------------------------

# The model's high threshold is the stack's (env_values: HIGH_RISK_THRESHOLD 0.6, to 3 decimals).
MODEL_BASIS = RiskBasis(0.6002, 0.62, 525, 2233, 324, "90 days", "out_of_fold")


@pytest.mark.parametrize("path", ["redelivery", "retry-then-reconciler"])
def test_with_the_parameters_empty_the_alert_states_the_models_figures_and_every_copy_is_the_same(make, path):
    p = make(risk={})
    p.runtime.basis = MODEL_BASIS
    name = _call(p)
    p.sns.faults.append(Fault("publish", Killed, after=True))
    with pytest.raises(Killed):
        p.deliver(completion(name), T0)
    p.heal()
    # The second sender has no endpoint answer in hand: it sends the stored bytes.
    p.runtime.basis = None
    _second_sender(p, name, path)
    first, second = p.messages()
    assert first == second and len(p.runtime.requests) == 1
    words = "About 6 in 10 customers scored this high leave within 90 days (measured on 525 customers scored this high)."
    document = _document(second)
    assert document["risk"] == {
        "level": "high",
        "probability": 0.92,
        "words": words,
        "precision": 0.62,
        "customers": 525,
        "period": "90 days",
    }
    assert json.loads(second)["email"].splitlines()[1] == f"Risk: high, 92%. {words}"
    p.runtime.basis = MODEL_BASIS
    assert second == _undisturbed(p, name, T0)


def test_an_operators_parameters_win_and_the_models_count_never_goes_with_another_precision(make):
    p = make(risk={"HIGH_RISK_PRECISION": "0.7", "CHURN_PERIOD": "3 months"})
    p.runtime.basis = MODEL_BASIS
    name = _call(p)
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    risk = _document(sent)["risk"]
    assert (risk["precision"], risk["customers"], risk["period"]) == (0.7, None, "3 months")
    assert risk["words"] == (
        "About 7 in 10 customers scored this high leave within 3 months "
        "(the number of customers behind this figure is not known)."
    )


@pytest.mark.parametrize(
    "basis",
    [
        RiskBasis(0.35, 0.62, 525, 2233, 324, "90 days", "out_of_fold"),  # measured at another threshold
        RiskBasis(0.6, 0.95, 525, 2233, 324, "90 days", "train"),  # in-sample: optimistic
    ],
)
def test_a_model_figure_that_is_not_true_of_this_stack_is_not_stated(make, basis):
    p = make(risk={})
    p.runtime.basis = basis
    name = _call(p)
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    risk = _document(sent)["risk"]
    assert risk["words"] is None and risk["precision"] is None and risk["customers"] is None
    assert risk["period"] == "90 days"  # the label's period is the model's whatever the threshold
    assert json.loads(sent)["email"].splitlines()[1] == "Risk: high, 92%."


def test_an_older_model_and_empty_parameters_say_only_the_level(make):
    p = make(risk={})
    name = _call(p)
    p.deliver(completion(name), T0)
    (sent,) = p.messages()
    assert _document(sent)["risk"]["words"] is None
    assert json.loads(sent)["email"].splitlines()[1] == "Risk: high, 92%."


def test_unknown_categories_are_stored_on_the_call_and_never_logged(make, monkeypatch, capsys, caplog):
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    p = make()
    secret = "Plan-Zeta-Customer-Typo"
    p.runtime.unknown = {"plan": secret, "": "no name"}  # an empty column name: DynamoDB refuses it
    name = _call(p)
    caplog.set_level("DEBUG")
    assert p.deliver(completion(name), T0)["result"] == "alerted"
    assert p.aws.call(name)["unknown_categories"] == {"plan": secret}
    logs = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert "Call scored" in logs and secret not in logs
    # A score with none listed leaves none behind (the older model, or a clean profile).
    p.runtime.unknown = {}
    _undisturbed(p, name, T0)
    assert "unknown_categories" not in p.aws.call(name)
