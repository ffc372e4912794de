"""OutcomesApiFunction through its real handler: REST proxy events in, moto's DynamoDB and KMS."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from churn_contracts.outcomes import make_link_token, make_links
from outcomes_api import handler
from outcomes_api.adapters import KmsMacSigner


class Context:
    function_name = "outcomes-api"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:outcomes-api"
    aws_request_id = "req-1"


def event(method: str, path: str, body: Any = None, content_type: str = "application/json") -> dict[str, Any]:
    resource, params = path, {}
    if path.startswith("/v1/customers/"):
        params = {"customer_id": path.split("/")[3]}
        resource = "/v1/customers/{customer_id}/outcomes"
    elif path.startswith("/v1/outcome-links/"):
        params = {"token": path.split("/")[3]}
        resource = "/v1/outcome-links/{token}"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": content_type} if body is not None else {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "requestId": "r",
            "stage": "live",
            "path": f"/live{path}",
            "resourcePath": resource,
            "httpMethod": method,
            "identity": {},
        },
        "body": body if body is None or isinstance(body, str) else json.dumps(body),
        "isBase64Encoded": False,
    }


def call(method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
    answer = handler.lambda_handler(event(method, path, body, **kw), Context())
    text = answer["body"]
    try:
        return answer["statusCode"], json.loads(text)
    except ValueError:
        return answer["statusCode"], text


TODAY = datetime.now(UTC).date().isoformat()


def rows(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return aws["dynamodb"].scan(TableName=aws["table"])["Items"]


def test_an_outcome_is_recorded_once_and_listed(aws: dict[str, Any]) -> None:
    body = {"outcome": "saved", "date": TODAY, "call_id": "job-1", "offer_id": "loyalty-10", "by": "Sam"}
    status, first = call("POST", "/v1/customers/C-1/outcomes", body)
    assert status == 201 and first["created"] is True
    assert first["outcome"]["source"] == "api" and first["outcome"]["offer_id"] == "loyalty-10"
    # The same outcome again (another note) is the same record: 200, created false, nothing new.
    status, again = call("POST", "/v1/customers/C-1/outcomes", {**body, "note": "called back"})
    assert status == 200 and again["created"] is False
    assert again["outcome"]["dedupe_key"] == first["outcome"]["dedupe_key"]
    assert again["outcome"].get("note") is None
    status, _ = call("POST", "/v1/customers/C-1/outcomes", {"outcome": "contacted", "date": "2026-01-02"})
    assert status == 201
    status, history = call("GET", "/v1/customers/C-1/outcomes")
    assert status == 200
    assert [o["outcome"] for o in history["outcomes"]] == ["contacted", "saved"]  # oldest first
    assert call("GET", "/v1/customers/C-2/outcomes") == (200, {"outcomes": []})
    assert len(rows(aws)) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "happy", "date": TODAY}, "outcome"),
        ({"outcome": "saved"}, "date"),
        ({"outcome": "saved", "date": "2026-13-01"}, "date"),
        ({"outcome": "saved", "date": (date.today() + timedelta(days=5)).isoformat()}, "date"),
        ({"outcome": "saved", "date": TODAY, "call_id": "a b"}, "call_id"),
        ({"outcome": "saved", "date": TODAY, "extra": 1}, "extra"),
        ({"outcome": "saved", "date": TODAY, "note": "x" * 501}, "note"),
        ({"outcome": 3, "date": TODAY}, "outcome"),
    ],
)
def test_bad_outcomes_are_400_with_the_field_and_store_nothing(
    aws: dict[str, Any], body: Any, field: str
) -> None:
    status, answer = call("POST", "/v1/customers/C-1/outcomes", body)
    assert status == 400, answer
    assert answer["field"] == field and answer["error"]
    assert rows(aws) == []


def test_bodies_and_ids_the_api_refuses(aws: dict[str, Any]) -> None:
    assert call("POST", "/v1/customers/C-1/outcomes", "not json")[0] == 415
    assert (
        call("POST", "/v1/customers/C-1/outcomes", {"outcome": "saved"}, content_type="text/plain")[0] == 415
    )
    assert call("POST", "/v1/customers/C-1/outcomes", "[" * 10000)[0] == 415
    assert call("POST", "/v1/customers/C-1/outcomes", "x" * 20000)[0] == 413
    status, answer = call("GET", "/v1/customers/" + quote("a b") + "/outcomes")
    assert status == 400 and answer["field"] == "customer_id"
    assert rows(aws) == []


def now() -> datetime:
    return datetime.now(UTC)


def test_a_link_shows_a_page_then_records_once_and_a_replay_records_nothing(aws: dict[str, Any]) -> None:
    signer = KmsMacSigner(aws["kms"], aws["key"])
    links = make_links(signer, "https://api.example/live/v1/outcome-links/", "C-9", "job-9", now())
    assert set(links) == {"contacted", "saved", "lost"}
    token = links["lost"].rsplit("/", 1)[1]
    status, page = call("GET", f"/v1/outcome-links/{token}")
    assert status == 200 and "the customer left" in page and "method='post'" in page
    assert rows(aws) == []  # a mail scanner's GET records nothing
    status, page = call(
        "POST", f"/v1/outcome-links/{token}", "", content_type="application/x-www-form-urlencoded"
    )
    assert status == 200 and "churned" in page
    status, replay = call("POST", f"/v1/outcome-links/{token}")
    assert status == 409 and replay["field"] == "token"
    history = call("GET", "/v1/customers/C-9/outcomes")[1]["outcomes"]
    assert [(o["outcome"], o["source"], o.get("call_id")) for o in history] == [("churned", "link", "job-9")]
    # The same outcome through the API afterwards is the link's record, not a second one.
    status, same = call(
        "POST", "/v1/customers/C-9/outcomes", {"outcome": "churned", "date": TODAY, "call_id": "job-9"}
    )
    assert status == 200 and same["created"] is False and same["outcome"]["source"] == "link"
    assert len(call("GET", "/v1/customers/C-9/outcomes")[1]["outcomes"]) == 1


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


def test_altered_foreign_expired_and_garbage_links_are_refused_and_record_nothing(
    aws: dict[str, Any],
) -> None:
    signer = KmsMacSigner(aws["kms"], aws["key"])
    token = make_link_token(signer, "C-1", "job-1", "saved", now())
    payload, mac = token.split(".")
    altered_payload = _flip(payload, 10) + "." + mac
    altered_mac = payload + "." + _flip(mac, 5)
    other_key = aws["kms"].create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"][
        "KeyId"
    ]
    foreign = make_link_token(KmsMacSigner(aws["kms"], other_key), "C-1", "job-1", "saved", now())
    expired = make_link_token(signer, "C-1", "job-1", "saved", now() - timedelta(days=30), days=14)
    for bad, expected in (
        (altered_payload, 403),
        (altered_mac, 403),
        (foreign, 403),
        (expired, 410),
        ("abc.def", 403),
    ):
        for method in ("GET", "POST"):
            status, answer = call(method, f"/v1/outcome-links/{bad}")
            assert status == expected, (bad, method, answer)
            assert answer["field"] == "token" and answer["error"]
    assert call("POST", "/v1/outcome-links/not-a-token")[0] == 400
    assert rows(aws) == []


def test_a_link_signed_for_another_purpose_is_refused(aws: dict[str, Any]) -> None:
    import base64

    message = json.dumps(
        {"v": 1, "p": "unsubscribe", "c": "C-1", "j": None, "o": "saved", "e": 9999999999, "n": "x"}
    )
    signer = KmsMacSigner(aws["kms"], aws["key"])
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    token = enc(message.encode()) + "." + enc(signer(message.encode()))
    status, answer = call("POST", f"/v1/outcome-links/{token}")
    assert status == 403 and "not an outcome link" in answer["error"]
    assert rows(aws) == []


class Throttled:
    """The KMS client, refusing its first ``n`` VerifyMac calls as KMS does under load."""

    def __init__(self, kms: Any, n: int) -> None:
        self.kms, self.n = kms, n

    def verify_mac(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if self.n:
            self.n -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "VerifyMac")
        return self.kms.verify_mac(**kwargs)


def test_a_click_that_fails_on_kms_keeps_the_link_and_the_next_click_records_once(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from outcomes_api.adapters import KmsMacVerifier

    token = make_link_token(KmsMacSigner(aws["kms"], aws["key"]), "C-5", "job-5", "contacted", now())
    throttled = Throttled(aws["kms"], 1)
    monkeypatch.setattr(handler, "KmsMacVerifier", lambda kms, key: KmsMacVerifier(throttled, key))
    handler.reset()
    status, answer = call("POST", f"/v1/outcome-links/{token}")
    assert status == 503 and "try again" in answer["error"]
    assert rows(aws) == []  # nothing recorded, the link not burnt
    assert call("POST", f"/v1/outcome-links/{token}")[0] == 200
    assert call("POST", f"/v1/outcome-links/{token}")[0] == 409
    assert len(call("GET", "/v1/customers/C-5/outcomes")[1]["outcomes"]) == 1


def test_the_committed_openapi_document_is_current() -> None:
    from outcomes_api.openapi import render

    from tests.conftest import ROOT

    assert (ROOT / "functions" / "outcomes_api" / "openapi.json").read_text() == render()
