"""Composing a call's alert once, before it is claimed and published.

Everything the alert says comes from here: the call item and the score, the profile (plan,
charges, and the customer's name and phone only where the stack allows it), the transcript's
duration, the endpoint's reasons and topics, the offer, a presigned link to the redacted
transcript. Enrichment degrades (a ``degraded`` note, a missing figure), never raises: the
caller stores the result with the alert claim and every sender publishes exactly that.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from churn_contracts.calls import CallItem, timestamp
from churn_contracts.endpoint import RiskBasis
from churn_contracts.features import monthly_value
from churn_contracts.locations import S3Location
from churn_contracts.profile import item_to_record
from churn_contracts.topics import CallTopics

from .alert import Alert, clip
from .config import Settings
from .offers import Advisor, OfferSettings, risk_figures, strongest_sentence, topics_document
from .wording import word_reasons

log = logging.getLogger(__name__)

# Profile attributes that may name and reach the customer (never model features, never logged).
NAME_ATTRIBUTES = ("display_name", "name")
PHONE_ATTRIBUTES = ("phone", "phone_number")


class TranscriptLinks(Protocol):
    def presign(self, location: S3Location, expires_s: int) -> str: ...


class OutcomeLinks(Protocol):
    """Signed one-click outcome links (issue 21): button -> URL, and when they expire."""

    days: int

    def make(self, customer_id: str, call_id: str, now: datetime) -> dict[str, str]: ...


@dataclass(frozen=True)
class CallFacts:
    """What the alert says about the call itself."""

    received_at: str | None = None  # when the recording arrived (the call had just ended)
    duration_s: float | None = None  # from the transcript's last word
    agent_id: str | None = None  # from the recording's metadata, where it has one


def transcript_duration(document: Any) -> float | None:
    """The call's length from Transcribe's output: the end of its last timed item."""
    try:
        items = document["results"]["items"]
    except (KeyError, TypeError):
        return None
    last = None
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("end_time") is not None:
                try:
                    last = max(last or 0.0, float(item["end_time"]))
                except (TypeError, ValueError):
                    continue
    return round(last, 1) if last is not None else None


def call_facts(call: CallItem, document: Any = None) -> CallFacts:
    agent = call.raw.get("agent_id")
    return CallFacts(
        received_at=timestamp(call.created_at) if call.created_at else None,
        duration_s=transcript_duration(document) if document is not None else None,
        agent_id=clip(agent, 64) if isinstance(agent, str) and agent.strip() else None,
    )


def contact(profile: Mapping[str, Any] | None, allowed: bool) -> tuple[str | None, str | None]:
    """The customer's display name and phone: only where the profile has them and the stack allows it."""
    if not allowed or not profile:
        return None, None

    def first(names: tuple[str, ...]) -> str | None:
        for name in names:
            value = profile.get(name)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())
        return None

    return first(NAME_ATTRIBUTES), first(PHONE_ATTRIBUTES)


def base_alert(call: CallItem, settings: Settings, profile: Mapping[str, Any] | None) -> Alert:
    """The alert from the call item and the profile alone (no reasons, no offer)."""
    record = item_to_record(profile or {})
    scored_at = call.scored_at
    name, phone = contact(profile, settings.alert_contact_details)
    return Alert(
        customer_id=str(call.customer_id),
        call_id=str(call.call_id or ""),
        job_name=call.job_name,
        probability=float(call.probability or 0.0),
        risk_level=str(call.risk_level),
        medium_threshold=settings.medium_risk_threshold,
        high_threshold=settings.high_risk_threshold,
        profile_found=profile is not None,
        plan=record.get("plan"),
        limit=record.get("limit"),
        account_length=record.get("Account Length"),
        customer_service_calls=record.get("CustServ Calls"),
        missing_features=list(call.missing_features),
        excerpt=call.excerpt if settings.alert_excerpts else None,
        recording_uri=call.recording_uri,
        transcript_uri=str(call.transcript_uri or ""),
        model_version=str(call.model_version or "unknown"),
        scored_at=scored_at.isoformat(timespec="seconds").replace("+00:00", "Z") if scored_at else "",
        customer_name=name,
        customer_phone=phone,
        monthly_value=monthly_value(record),
    )


def compose_alert(
    call: CallItem,
    settings: Settings,
    profile: Mapping[str, Any] | None,
    *,
    reasons: list[dict[str, Any]],
    topics: CallTopics | None,
    facts: CallFacts,
    advisor: Advisor | None,
    links: TranscriptLinks | None,
    transcript: S3Location | None,
    moment: datetime,
    outcome_links: OutcomeLinks | None = None,
    risk_basis: RiskBasis | None = None,
) -> Alert:
    """The complete alert; never raises for a failed enrichment (it is noted in ``degraded``).

    ``risk_basis``: the endpoint's, for the risk words where the stack's parameters leave them open."""
    alert = replace(
        base_alert(call, settings, profile),
        call_received_at=facts.received_at,
        call_duration_s=facts.duration_s,
        agent_id=facts.agent_id,
    )
    # The risk words without the advisor too; the advisor sets the same figures from the same rule.
    overrides = advisor.settings if advisor is not None else OfferSettings()
    alert = replace(alert, **risk_figures(overrides, risk_basis, alert.high_threshold))
    if advisor is not None:
        try:
            record = item_to_record(profile or {})
            alert = advisor.advise(
                alert, reasons, record, moment, topics, settings.alert_excerpts, basis=risk_basis
            )
        except Exception as exc:  # a defect in enrichment must not stop the alert
            log.warning("Alert advice failed", extra={"error": type(exc).__name__})
            alert = replace(alert, degraded=[*alert.degraded, "reasons and offer: could not be worked out"])
    else:
        worded = word_reasons(
            reasons, strongest_sentence=strongest_sentence(topics), excerpts=settings.alert_excerpts
        )
        alert = replace(alert, reasons=worded, topics=topics_document(topics, settings.alert_excerpts))
    # The link is a bearer token to what the customer said: not where alerts may not carry their words.
    if (
        links is not None
        and transcript is not None
        and settings.transcript_link_seconds > 0
        and settings.alert_excerpts
    ):
        try:
            url = links.presign(transcript, settings.transcript_link_seconds)
            expires = moment + timedelta(seconds=settings.transcript_link_seconds)
            alert = replace(alert, transcript_link=url, link_expires_at=timestamp(expires))
        except Exception as exc:
            log.warning("Transcript link not made", extra={"error": type(exc).__name__})
            alert = replace(alert, degraded=[*alert.degraded, "transcript link: could not be made"])
    if outcome_links is not None:
        # Made here, once: the links are stored with the alert, so a resend carries the same ones.
        # The call is named by its job (the calls table's key, the training data's call id).
        try:
            made = outcome_links.make(alert.customer_id, call.job_name, moment)
            expires = timestamp(moment + timedelta(days=outcome_links.days))
            alert = replace(alert, outcome_links=made, outcome_links_expire_at=expires)
        except Exception as exc:  # KMS refused or throttled, an id links cannot carry
            log.warning("Outcome links not made", extra={"error": type(exc).__name__})
            alert = replace(
                alert,
                degraded=[*alert.degraded, "outcome links: could not be made; record it through the API"],
            )
    return alert
