"""The outcomes table and the link key as template.yaml declares them, in moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import ROOT

REGION = "us-east-1"
OUTCOMES = "churn-test-outcomes"


def table_definition(logical_id: str, name: str) -> dict[str, Any]:
    from churn_local.template import load_template

    props = load_template(ROOT / "template.yaml")["Resources"][logical_id]["Properties"]
    definition = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if "GlobalSecondaryIndexes" in props:
        definition["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    return definition


def link_key(kms: Any) -> str:
    """An HMAC key with the template's KeySpec and KeyUsage (moto's API honours them)."""
    from churn_local.template import load_template

    props = load_template(ROOT / "template.yaml")["Resources"]["OutcomeLinkKey"]["Properties"]
    return kms.create_key(KeySpec=props["KeySpec"], KeyUsage=props["KeyUsage"])["KeyMetadata"]["Arn"]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_KMS", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition("OutcomesTable", OUTCOMES))
        kms = boto3.client("kms", region_name=REGION)
        key = link_key(kms)
        monkeypatch.setenv("OUTCOMES_TABLE", OUTCOMES)
        monkeypatch.setenv("OUTCOME_LINK_KEY_ID", key)
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "ChurnAlerts")
        from outcomes_api import handler

        handler.reset()
        yield {"dynamodb": dynamodb, "kms": kms, "key": key, "table": OUTCOMES}
        handler.reset()
