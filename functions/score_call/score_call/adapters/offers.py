"""The offer rules document in S3 and the per-customer offer history in DynamoDB."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from churn_contracts.calls import timestamp
from churn_contracts.offers import RuleSet, load_rules

from ..offers import Advisor, RulesUnavailableError, load_offer_settings

# A warm function re-reads the rules at most this often: edits take effect within a minute.
RULES_TTL_S = 60.0
# Offers are remembered for this long; no rule window may be longer (the schema caps it at 3650).
HISTORY_KEEP = timedelta(days=3650)


@dataclass
class S3OfferRules:
    s3: Any  # a boto3 S3 client
    bucket: str
    key: str
    ttl_s: float = RULES_TTL_S
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, RuleSet] | None = field(default=None, init=False, repr=False)

    def current(self) -> RuleSet:
        if self._cached is not None and self.clock() - self._cached[0] < self.ttl_s:
            return self._cached[1]
        try:
            response = self.s3.get_object(Bucket=self.bucket, Key=self.key)
            body = response["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise RulesUnavailableError(f"s3://{self.bucket}/{self.key}: {exc}") from None
        rules = load_rules(body)
        # The S3 object version pins exactly which document chose an offer.
        version = response.get("VersionId")
        if version and version != "null":
            rules = RuleSet(
                rules.rules, f"{rules.version} (s3 version {version})" if rules.version else version
            )
        self._cached = (self.clock(), rules)
        return rules


@dataclass(frozen=True)
class DynamoOfferHistory:
    table: Any  # a boto3 DynamoDB Table resource; key (customer_id, offer_id)

    def offered_within(self, customer_id: str, offer_id: str, days: float, now: datetime) -> bool:
        item = self.table.get_item(
            Key={"customer_id": customer_id, "offer_id": offer_id}, ConsistentRead=True
        ).get("Item")
        if not item or "offered_epoch" not in item:
            return False
        return int(item["offered_epoch"]) >= int((now - timedelta(days=days)).timestamp())

    def record(self, customer_id: str, offer_id: str, job_name: str, now: datetime) -> None:
        self.table.put_item(
            Item={
                "customer_id": customer_id,
                "offer_id": offer_id,
                "job_name": job_name,
                "offered_at": timestamp(now),
                "offered_epoch": int(now.timestamp()),
                "expires_at": int((now + HISTORY_KEEP).timestamp()),
            }
        )


def advisor_from_env(client: Callable[[str], Any], table: Callable[[str], Any]) -> Advisor:
    """The handler's advisor: rules and history where the template names them, else none."""
    settings = load_offer_settings()
    rules = (
        S3OfferRules(client("s3"), settings.rules_bucket, settings.rules_key)
        if settings.rules_bucket and settings.rules_key
        else None
    )
    history = DynamoOfferHistory(table(settings.history_table)) if settings.history_table else None
    return Advisor(settings, rules, history)
