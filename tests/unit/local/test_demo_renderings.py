"""The demo prints what the team reads: each alert's email and chat card from the alert stored
with the call (issue 22 §4), and a follow-up's first lines."""

from __future__ import annotations

import json
from typing import ClassVar

from churn_local import demo
from score_call.alert import Alert, follow_up


def _alert() -> Alert:
    return Alert(
        customer_id="C001606",
        call_id="call-1",
        job_name="churn-local-0123456789abcdef0123456789abcdef",
        probability=0.83,
        risk_level="high",
        medium_threshold=0.11,
        high_threshold=0.46,
        profile_found=True,
        plan="B",
        limit="limited",
        account_length=72.0,
        customer_service_calls=5.0,
        missing_features=[],
        excerpt="I'm absolutely furious about the coverage.",
        recording_uri="s3://b/recordings/C001606/call-1.wav",
        transcript_uri="s3://b/transcripts/j.json",
        model_version="m-1",
        scored_at="2026-12-06T23:40:00Z",
        reasons=[
            {
                "kind": "profile",
                "name": "CustServ Calls",
                "value": 5.0,
                "reference": 1.0,
                "effect": 0.2,
                "text": "Calls customer service often: 5 calls, typical 1",
            }
        ],
        offer={
            "offer_id": "service-callback-senior",
            "text": "Book a senior-agent callback.",
            "priority": 90,
        },
        high_precision=0.6,
        monthly_value=61.2,
    )


def test_the_demo_reads_the_email_and_the_chat_card_from_the_stored_alert(capsys):
    item = {"customer_id": "C001606", "alert": _alert().prepared().to_item()}
    shown = demo.renderings(item)
    email = shown["email"].splitlines()
    assert email[0] == "High churn risk: a customer on plan B"
    assert email[1].startswith("Risk: high, 83%. About 6 in 10 customers scored this high leave")
    assert email[2] == "Why: Calls customer service often: 5 calls, typical 1."
    assert email[3] == "Offer: Book a senior-agent callback."
    assert email[5] == "Value: $61.20 a month; $609.55 a year at risk."
    assert shown["chat"]["content"]["title"] == ":rotating_light: High churn risk: a customer on plan B"
    assert demo.renderings({"status": "SCORED"}) == {}  # an older item: nothing to print

    class NoDigest:  # a stack without the digest function: the rest still prints
        invokers: ClassVar[dict] = {}

    followed = follow_up(_alert().prepared().document(), "churn-local-first", "2026-12-06T23:30:00.000Z")
    demo.print_renderings(NoDigest(), {"k": item}, [{"Message": followed.document()}], team=None)
    out = capsys.readouterr().out
    assert "==> The email for customer C001606" in out and "    High churn risk: a customer on plan B" in out
    assert '"source": "custom"' in out
    assert "==> Follow-up for customer C001606" in out
    assert "    Repeat call: a customer on plan B called again." in out


def test_the_demo_passes_what_the_risk_words_rest_on(tmp_path):
    metrics = {"thresholds": {"high": 0.5, "medium": 0.1, "at_high": {"precision": 0.625, "flagged": 96}}}
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert demo.demo_thresholds(tmp_path, {"angry": []}) == {
        "HighRiskThreshold": "0.5",
        "MediumRiskThreshold": "0.1",
        "HighRiskPrecision": "0.62",
        "HighRiskCustomers": "96",
    }
    metrics["thresholds"].pop("at_high")  # an older model: the template's defaults stand
    (tmp_path / "metrics.json").write_text(json.dumps(metrics))
    assert set(demo.demo_thresholds(tmp_path, {"angry": []})) == {"HighRiskThreshold", "MediumRiskThreshold"}


def test_the_demo_runs_the_digest_as_tomorrows_schedule_and_prints_what_the_team_got(capsys):
    from churn_local.runner import Outcome

    events = []

    class Invoker:
        def invoke_async(self, event):
            events.append(event)
            return Outcome("AlertDigestFunction", event, (), "Success")

    class Stack:
        region = "us-east-1"
        invokers: ClassVar[dict] = {"AlertDigestFunction": Invoker()}

    digest = {
        "type": "churn-risk-digest",
        "text": "Churn digest 2026-12-06: 1 new high-risk customer\nValue at risk: $1.00",
    }

    class Team:
        def poll(self, wait_s=0):
            return [{"Message": {"type": "churn-risk-alert"}}, {"Message": digest}]

    demo.print_renderings(Stack(), {}, [], Team())
    (event,) = events
    assert event["detail-type"] == "Scheduled Event" and event["time"].endswith("T06:00:00Z")
    out = capsys.readouterr().out
    assert "==> The daily digest" in out and "    Churn digest 2026-12-06: 1 new high-risk customer" in out
