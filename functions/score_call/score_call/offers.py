"""Why, and what to offer: an alert's reasons and retention offer (schema 1.1).

The endpoint explains on request (``"explain": k``); the phrase reasons' topics and the profile
pick the highest-priority eligible rule from the retention team's rules document in S3
(``churn_contracts.offers``). The offer made is recorded per customer, so a rule's
``not_offered_within_days`` holds. A rules document that cannot be read or parsed never stops
an alert: it goes out with ``offer: null`` and the reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from churn_contracts.endpoint import RiskBasis
from churn_contracts.offers import RulesError, RuleSet, choose_offer, reason_topics
from churn_contracts.topics import CallTopics
from churn_lambda.env import ConfigError, parse_bool

from .alert import Alert, without_phrases
from .wording import word_reasons

# Reasons asked of the endpoint per call: enough that grouping (daytime minutes and charge are
# one fact) still leaves three, and that the customer's strongest sentence is among them.
EXPLAIN_K = 8

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
    high_risk_customers: int | None = None  # the customers HIGH_RISK_PRECISION was measured on
    churn_period: str | None = None  # what "leave" means in time ("3 months")
    # Empty parameters (None) leave each figure to the model's own risk_basis (risk_figures).


# The model's precision is the stack's only where the stack alerts at the model's threshold
# (to 3 decimals: the demo and operators copy it from metrics.json, perhaps rounded).
THRESHOLD_TOLERANCE = 5e-4


def risk_figures(settings: OfferSettings, basis: RiskBasis | None, high_threshold: float) -> dict[str, Any]:
    """The alert's "about 6 in 10 ... leave within <period> (measured on <n> customers)" figures.

    An operator's parameter wins. Otherwise the model's ``risk_basis``, where it is true of this
    stack: measured on held-out customers, at the threshold the stack alerts at. The count only
    ever goes with the precision it was measured for: never the model's beside the operator's.
    """
    precision, customers = settings.high_risk_precision, settings.high_risk_customers
    period = settings.churn_period or (basis.period if basis is not None else None)
    if (
        precision is None
        and basis is not None
        and basis.held_out
        and math.isclose(basis.threshold, high_threshold, rel_tol=0.0, abs_tol=THRESHOLD_TOLERANCE)
    ):
        precision = basis.precision
        customers = customers or basis.flagged
    return {"high_precision": precision, "high_customers": customers, "period": period}


def load_offer_settings(env: Mapping[str, str] | None = None) -> OfferSettings:
    env = os.environ if env is None else env
    precision = env.get("HIGH_RISK_PRECISION", "").strip()
    try:
        value = float(precision) if precision else None
    except ValueError as exc:
        raise ConfigError(f"HIGH_RISK_PRECISION must be a number, got {precision!r}") from exc
    if value is not None and not 0.0 < value <= 1.0:
        raise ConfigError("HIGH_RISK_PRECISION must be in (0, 1]")
    customers = env.get("HIGH_RISK_CUSTOMERS", "").strip()
    if customers and (not customers.isdigit() or int(customers) == 0):
        raise ConfigError(f"HIGH_RISK_CUSTOMERS must be a positive whole number, got {customers!r}")
    return OfferSettings(
        rules_bucket=env.get("OFFER_RULES_BUCKET", "").strip()
        or env.get("RECORDINGS_BUCKET", "").strip()
        or None,
        rules_key=env.get("OFFER_RULES_KEY", "").strip() or None,
        history_table=env.get("OFFER_HISTORY_TABLE", "").strip() or None,
        high_risk_precision=value,
        alert_excerpts=parse_bool(env.get("ALERT_EXCERPTS"), True),
        region=env.get("AWS_REGION", "").strip() or env.get("AWS_DEFAULT_REGION", "").strip() or None,
        high_risk_customers=int(customers) if customers else None,
        churn_period=env.get("CHURN_PERIOD", "").strip()[:64] or None,
    )


def explain_request(record: Mapping[str, Any], k: int = EXPLAIN_K) -> dict[str, Any]:
    """The endpoint record, asking for the top ``k`` reasons (model/README.md, the contract)."""
    return {**record, "explain": k}


@dataclass
class Advisor:
    """Fills an alert's enrichment: reasons in words, the offer, the risk's meaning, the region.

    Enrichment degrades an alert, never stops it: a rules document that cannot be read or parsed
    (or nests too deep for the parser), an offer history that is throttled or missing, anything
    else that fails here gives ``offer: null`` with the reason and a ``degraded`` note.
    """

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
        topics: CallTopics | None = None,
        excerpts: bool | None = None,
        basis: RiskBasis | None = None,
    ) -> Alert:
        # The score function's own setting wins (one AlertExcerpts for the excerpt and the words).
        excerpts = self.settings.alert_excerpts if excerpts is None else excerpts
        worded = word_reasons(reasons, strongest_sentence=strongest_sentence(topics), excerpts=excerpts)
        shown = worded if excerpts else without_phrases(worded)
        offer, why, problem = self._offer(alert.customer_id, reasons, topics, profile, now or self.now())
        return replace(
            alert,
            reasons=shown,
            offer=offer,
            offer_reason=why,
            **risk_figures(self.settings, basis, alert.high_threshold),
            region=self.settings.region,
            topics=topics_document(topics, excerpts),
            degraded=[*alert.degraded, *([problem] if problem else [])],
        )

    def _offer(
        self,
        customer_id: str,
        reasons: list[dict[str, Any]],
        topics: CallTopics | None,
        profile: Mapping[str, Any],
        moment: datetime,
    ) -> tuple[dict[str, Any] | None, str, str | None]:
        if self.rules is None:
            return None, "no offer rules are configured", None
        try:
            rules = self.rules.current()
        except (RulesUnavailableError, RulesError, RecursionError, MemoryError) as exc:
            # RecursionError: a deeply nested document (json.loads in churn_contracts.offers).
            log.warning("Offer rules unavailable", extra={"error": type(exc).__name__})
            return None, "the offer rules could not be read", "offer: the rules could not be read"
        except Exception as exc:  # enrichment: whatever else failed, the alert still goes out
            log.warning("Offer rules unavailable", extra={"error": type(exc).__name__})
            return None, "the offer rules could not be read", "offer: the rules could not be read"
        history = self.history

        def offered_within(offer_id: str, days: float) -> bool:
            return history is not None and history.offered_within(customer_id, offer_id, days, moment)

        try:
            decision = choose_offer(rules, profile, rule_topics(reasons, topics), offered_within)
        except Exception as exc:  # a throttled or missing offer-history table, above all
            log.warning("Offer not chosen", extra={"error": type(exc).__name__})
            why = "the offer history could not be read, so no offer was chosen (it may repeat one)"
            return None, why, "offer: the offer history could not be read"
        offer = decision.document()
        if offer is not None:
            offer["rules_version"] = rules.version or None
        return offer, decision.reason, None

    def record(self, customer_id: str, offer_id: str | None, job_name: str, at: datetime) -> None:
        """After the alert went out: the customer has now had this offer."""
        if offer_id and self.history is not None:
            self.history.record(customer_id, offer_id, job_name, at)


def topics_document(topics: CallTopics | None, excerpts: bool) -> dict[str, Any] | None:
    """The call's topics as stored and shown; without excerpts, the sentences' words are blanked
    to "" (counts and strengths stay, so offer rules and the preview still read them), as the
    phrase reasons' are."""
    if not topics:
        return None
    document = topics.to_dict()
    if not excerpts:
        document["strongest"] = {t: {**s, "text": ""} for t, s in document.get("strongest", {}).items()}
    return document


def strongest_sentence(topics: CallTopics | None) -> dict[str, Any] | None:
    """The customer's strongest sentence of the call: of its main complaint, else of any topic."""
    if not topics:
        return None
    ranked = topics.complaints() or topics.ranked()
    best = max(
        (t for t in ranked if t in topics.strongest),
        key=lambda t: (t in topics.complaints(), topics.strongest[t].strength),
        default=None,
    )
    if best is None:
        return None
    found = topics.strongest[best]
    return {"text": found.text, "topic": best, "strength": found.strength}


def rule_topics(reasons: list[dict[str, Any]], topics: CallTopics | None) -> CallTopics | list[str]:
    """What offer rules match on: the whole call's topics (counts, strengths, main complaint), or
    for a model without them the phrase reasons' topic names."""
    return topics if topics else reason_topics(reasons)
