"""Issue 21 in the score function: the alert email's one-click outcome links (made once, stored
with the alert, followed through the real outcomes API) and the profile stored with the score."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from churn_contracts.profile import item_to_record, record_to_item
from outcomes_api import handler as outcomes_handler
from score_call.adapters.alerts import KmsOutcomeLinks
from score_call.alert import PreparedAlert
from score_call.config import load_settings
from score_call.events import parse_job_state_change
from score_call.models import Result
from score_call.service import handle_job_state_change

from tests.unit.functions.conftest import PROFILES, REGION
from tests.unit.functions.score_support import (
    ANGRY,
    GOLD_PROFILE,
    CannedRuntime,
    add_profile,
    client_error,
    collaborators,
    completion,
    env_values,
    transcribed_call,
)

T0 = datetime.now(UTC).replace(microsecond=0)  # links expire 14 days after the score
OUTCOMES = "churn-test-outcomes"
BASE_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/live/v1/outcome-links/"


def _outcomes_table_definition() -> dict[str, Any]:
    from churn_ops.template_rules import load_template

    from tests.conftest import ROOT

    props = load_template(ROOT / "template.yaml")["Resources"]["OutcomesTable"]["Properties"]
    return {
        "TableName": OUTCOMES,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }


@pytest.fixture
def links(aws, monkeypatch) -> dict[str, Any]:
    """The stack's HMAC link key (the template's KeySpec/KeyUsage), the outcomes table and API."""
    from churn_ops.template_rules import load_template

    from tests.conftest import ROOT

    props = load_template(ROOT / "template.yaml")["Resources"]["OutcomeLinkKey"]["Properties"]
    kms = boto3.client("kms", region_name=REGION)
    key = kms.create_key(KeySpec=props["KeySpec"], KeyUsage=props["KeyUsage"])["KeyMetadata"]["Arn"]
    aws.dynamodb.create_table(**_outcomes_table_definition())
    monkeypatch.setenv("OUTCOMES_TABLE", OUTCOMES)
    monkeypatch.setenv("OUTCOME_LINK_KEY_ID", key)
    outcomes_handler.reset()
    yield {"kms": kms, "key": key, "signer": KmsOutcomeLinks(kms, key, BASE_URL)}
    outcomes_handler.reset()


def _deps(aws, links: Any, **change: Any):
    deps = collaborators(aws, CannedRuntime())
    return type(deps)(**{**deps.__dict__, "outcome_links": links, **change})


def _score(aws, deps, name: str):
    settings = load_settings(env_values(aws.topic_arn))
    return handle_job_state_change(parse_job_state_change(completion(name)), settings, deps, now=lambda: T0)


def _published(aws) -> list[dict[str, Any]]:
    """The JSON documents the team's queue received (SQS gets the ``default`` part)."""
    return [json.loads(envelope["Message"]) for envelope in aws.alerts()]


def _email(aws, name: str) -> str:
    """The email part of the alert as stored with the claim (the bytes every sender publishes)."""
    return PreparedAlert.from_item(aws.call(name)["alert"]).email()


class _Context:
    function_name = "outcomes-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:outcomes-api"
    aws_request_id = "req-1"


def _follow(url: str) -> tuple[int, str]:
    """The retention team clicks the button: the API's POST for the link (as the page's form sends it)."""
    assert url.startswith(BASE_URL)
    token = url[len(BASE_URL) :]
    path = f"/v1/outcome-links/{token}"
    event = {
        "resource": "/v1/outcome-links/{token}",
        "path": path,
        "httpMethod": "POST",
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"token": token},
        "stageVariables": None,
        "requestContext": {
            "requestId": "r",
            "stage": "live",
            "path": f"/live{path}",
            "resourcePath": "/v1/outcome-links/{token}",
            "httpMethod": "POST",
            "identity": {},
        },
        "body": "",
        "isBase64Encoded": False,
    }
    answer = outcomes_handler.lambda_handler(event, _Context())
    return answer["statusCode"], answer["body"]


def _outcome_rows(aws) -> list[dict[str, Any]]:
    items = aws.dynamodb.Table(OUTCOMES).scan()["Items"]
    return [i for i in items if str(i["sk"]).startswith("outcome#")]


def test_the_alert_emails_saved_link_records_the_outcome_once_and_a_replay_nothing(aws, links):
    add_profile(aws, "C-1")
    name = transcribed_call(aws, "C-1", "call-1", ANGRY)
    assert _score(aws, _deps(aws, links["signer"]), name).result is Result.ALERTED
    (document,) = _published(aws)
    buttons = document["links"]["outcome"]
    assert set(buttons) == {"contacted", "saved", "lost"}
    assert document["links"]["outcome_expires_at"].startswith(str(T0.year))
    email = _email(aws, name)
    for url in buttons.values():
        assert url in email  # the email carries the very links the document lists
    assert "What happened? One click records it" in email

    status, page = _follow(buttons["saved"])
    assert status == 200, page
    (row,) = _outcome_rows(aws)
    assert (row["customer_id"], row["outcome"], row["call_id"], row["source"]) == (
        "C-1",
        "saved",
        name,
        "link",
    )
    status, replay = _follow(buttons["saved"])
    assert status == 409 and json.loads(replay)["field"] == "token"
    assert len(_outcome_rows(aws)) == 1


def test_a_retry_after_a_failed_publish_resends_the_links_made_at_composition(aws, links):
    add_profile(aws, "C-2")
    name = transcribed_call(aws, "C-2", "call-2", ANGRY)
    made: list[dict[str, str]] = []

    class Counting:
        days = links["signer"].days

        def make(self, customer_id: str, call_id: str, now: datetime) -> dict[str, str]:
            made.append(links["signer"].make(customer_id, call_id, now))
            return made[-1]

    class FailingOnce:
        def __init__(self, real: Any) -> None:
            self.real, self.failed = real, False

        def publish(self, alert: Any) -> str:
            if not self.failed:
                self.failed = True
                raise client_error("KMSThrottlingException", 400)
            return self.real.publish(alert)

    deps = _deps(aws, Counting())
    flaky = type(deps)(**{**deps.__dict__, "publisher": FailingOnce(deps.publisher)})
    with pytest.raises(Exception, match="KMSThrottling"):
        _score(aws, flaky, name)
    assert _score(aws, flaky, name).result is Result.ALERTED
    (document,) = _published(aws)
    # Minted once (each mint has a fresh nonce): the retry sent the stored ones.
    assert len(made) == 1
    assert document["links"]["outcome"] == made[0]


def test_kms_refusing_the_mac_sends_the_alert_without_links_and_says_so(aws, links):
    add_profile(aws, "C-3")
    name = transcribed_call(aws, "C-3", "call-3", ANGRY)
    missing_key = KmsOutcomeLinks(links["kms"], "arn:aws:kms:us-east-1:123456789012:key/nope", BASE_URL)
    assert _score(aws, _deps(aws, missing_key), name).result is Result.ALERTED
    (document,) = _published(aws)
    assert document["links"]["outcome"] is None
    assert any(note.startswith("outcome links: could not be made") for note in document["degraded"])
    assert "One click records it" not in _email(aws, name)
    assert "outcome links: could not be made" in _email(aws, name)


def test_no_link_settings_means_no_links(aws):
    settings = load_settings(env_values(aws.topic_arn))
    assert (settings.outcome_link_key_id, settings.outcome_link_base_url) == ("", "")
    add_profile(aws, "C-4")
    name = transcribed_call(aws, "C-4", "call-4", ANGRY)
    assert _score(aws, collaborators(aws, CannedRuntime()), name).result is Result.ALERTED
    (document,) = _published(aws)
    assert document["links"]["outcome"] is None and document["degraded"] == []


def test_the_score_stores_the_profile_it_used_not_a_later_one(aws):
    add_profile(aws, "C-5")
    name = transcribed_call(aws, "C-5", "call-5", ANGRY)
    deps = collaborators(aws, CannedRuntime())
    _score(aws, deps, name)
    # The customer's profile changes after the call: the call item keeps the one that was scored.
    aws.dynamodb.Table(PROFILES).put_item(Item=record_to_item("C-5", {**GOLD_PROFILE, "plan": "bronze"}))
    stored = aws.call(name)["scored_profile"]
    expected = item_to_record(record_to_item("C-5", GOLD_PROFILE))
    assert item_to_record(stored) == expected
    assert stored["plan"] == "gold" and stored["CustServ Calls"] == 4
