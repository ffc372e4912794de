"""Outcomes through the local stack: the local API Gateway (SigV4 and the API key on the outcomes
routes, none on the signed links, as the template's event Auth says) -> OutcomesApiFunction in
its worker, as its own role with IAM checked -> moto's DynamoDB and the stack's KMS HMAC key."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from churn_contracts.outcomes import MAC_ALGORITHM, make_links

from tests.integration.test_score_api_local import SigV4

pytestmark = [pytest.mark.local]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    from churn_local.stack import LocalStack

    with LocalStack(ROOT / "template.yaml", transcribe=False, log_sink=lambda function, line: None) as stack:
        yield stack


def test_outcomes_and_one_click_links_through_the_local_gateway(stack: Any) -> None:
    api = stack.apis["ScoreApi"]
    today = datetime.now(UTC).date().isoformat()
    url = f"{api.url}/v1/customers/C-1/outcomes"
    body = {"outcome": "contacted", "date": today, "call_id": "job-1"}
    # Without the key, or unsigned: the gateway refuses, like the rest of /v1.
    assert requests.post(url, json=body, auth=SigV4(), timeout=30).status_code == 403
    assert requests.post(url, json=body, headers={"x-api-key": api.api_key}, timeout=30).status_code == 403
    signed = {"headers": {"x-api-key": api.api_key}, "auth": SigV4(), "timeout": 30}
    assert requests.post(url, json=body, **signed).status_code == 201
    assert requests.post(url, json=body, **signed).status_code == 200

    # The alert email's links, signed with the stack's own HMAC key (as the score function would).
    kms = stack.client("kms")
    key = stack.spec.outputs["OutcomeLinkKeyArn"]
    sign = lambda message: kms.generate_mac(Message=message, KeyId=key, MacAlgorithm=MAC_ALGORITHM)["Mac"]  # noqa: E731
    links = make_links(sign, f"{api.url}/v1/outcome-links/", "C-1", "job-1", datetime.now(UTC))
    saved = links["saved"]
    page = requests.get(saved, timeout=30)  # no key, no signature: the token is the credential
    assert page.status_code == 200 and "the customer stays" in page.text
    assert requests.post(saved, timeout=30).status_code == 200
    replay = requests.post(saved, timeout=30)
    assert replay.status_code == 409 and replay.json()["field"] == "token"
    altered = saved[:-3] + ("AAA" if not saved.endswith("AAA") else "BBB")
    assert requests.post(altered, timeout=30).status_code == 403

    history = requests.get(url, **signed).json()["outcomes"]
    assert sorted((o["outcome"], o["source"]) for o in history) == [("contacted", "api"), ("saved", "link")]
