"""Why, and what to offer: an alert's reasons and retention offer (schema 1.1).

The endpoint explains on request (``"explain": k``); the phrase reasons' topics and the profile
pick the highest-priority eligible rule from the retention team's rules document in S3
(``churn_contracts.offers``). The offer made is recorded per customer, so a rule's
``not_offered_within_days`` holds. A rules document that cannot be read or parsed never stops
an alert: it goes out with ``offer: null`` and the reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from churn_contracts.offers import RulesError, RuleSet, choose_offer, reason_topics
from churn_lambda.env import ConfigError, parse_bool

from .alert import Alert, without_phrases

# Reasons asked of the endpoint per call: the email's "Why" reads two or three sentences.
EXPLAIN_K = 3

log = Logger(child=True)


class RulesUnavailableError(RuntimeError):
    """The rules document could not be read (missing object, access denied, not the format)."""


class RulesSource(Protocol):
    def current(self) -> RuleSet: ...


class OfferHistory(Protocol):
    def offered_within(self, customer_id: str, offer_id: str, days: float, now: datetime) -> bool: ...
    def record(self, customer_id: str, offer_id: str, job_name: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class OfferSettings:
    rules_bucket: str | None = None
    rules_key: str | None = None
    history_table: str | None = None
    high_risk_precision: float | None = None
    alert_excerpts: bool = True
    region: str | None = None


def load_offer_settings(env: Mapping[str, str] | None = None) -> OfferSettings:
    env = os.environ if env is None else env
    precision = env.get("HIGH_RISK_PRECISION", "").strip()
    try:
        value = float(precision) if precision else None
    except ValueError as exc:
        raise ConfigError(f"HIGH_RISK_PRECISION must be a number, got {precision!r}") from exc
    if value is not None and not 0.0 < value <= 1.0:
        raise ConfigError("HIGH_RISK_PRECISION must be in (0, 1]")
    return OfferSettings(
        rules_bucket=env.get("OFFER_RULES_BUCKET", "").strip()
        or env.get("RECORDINGS_BUCKET", "").strip()
        or None,
        rules_key=env.get("OFFER_RULES_KEY", "").strip() or None,
        history_table=env.get("OFFER_HISTORY_TABLE", "").strip() or None,
        high_risk_precision=value,
        alert_excerpts=parse_bool(env.get("ALERT_EXCERPTS"), True),
        region=env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip() or None,
    )


def explain_request(record: Mapping[str, Any], k: int = EXPLAIN_K) -> dict[str, Any]:
    """The endpoint record, asking for the top ``k`` reasons (model/README.md, the contract)."""
    return {**record, "explain": k}


@dataclass
class Advisor:
    """Fills an alert's 1.1 fields: reasons, offer, the risk's meaning and the console region."""

    settings: OfferSettings
    rules: RulesSource | None = None
    history: OfferHistory | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)

    def advise(
        self,
        alert: Alert,
        reasons: list[dict[str, Any]],
        profile: Mapping[str, Any],
        now: datetime | None = None,
    ) -> Alert:
        shown = reasons if self.settings.alert_excerpts else without_phrases(reasons)
        offer, why = self._offer(alert.customer_id, reasons, profile, now or self.now())
        return replace(
            alert,
            reasons=shown,
            offer=offer,
            offer_reason=why,
            high_precision=self.settings.high_risk_precision,
            region=self.settings.region,
        )

    def _offer(
        self, customer_id: str, reasons: list[dict[str, Any]], profile: Mapping[str, Any], moment: datetime
    ) -> tuple[dict[str, Any] | None, str]:
        if self.rules is None:
            return None, "no offer rules are configured"
        try:
            rules = self.rules.current()
        except (RulesUnavailableError, RulesError) as exc:
            log.warning("Offer rules unavailable", extra={"error": str(exc)[:300]})
            return None, "the offer rules could not be read"
        history = self.history

        def offered_within(offer_id: str, days: float) -> bool:
            return history is not None and history.offered_within(customer_id, offer_id, days, moment)

        decision = choose_offer(rules, profile, reason_topics(reasons), offered_within)
        offer = decision.document()
        if offer is not None:
            offer["rules_version"] = rules.version or None
        return offer, decision.reason

    def record(self, alert: Alert, at: datetime) -> None:
        """After the alert went out: the customer has now had this offer."""
        if alert.offer and self.history is not None:
            self.history.record(alert.customer_id, str(alert.offer["offer_id"]), alert.job_name, at)
