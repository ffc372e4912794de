"""The alert message: one JSON document for machines, a short briefing for email.

Published with ``MessageStructure=json``: SQS/Lambda/HTTP subscribers get ``default`` (the
JSON document), email subscribers get ``email`` (text). Message attributes carry
``risk_level``, ``plan``, ``probability`` and ``offer_id`` for subscription filter policies.

Schema 1.1 adds ``reasons``, ``offer``, ``offer_reason`` and ``links`` (https console URLs) to
1.0; every 1.0 field keeps its meaning (functions/README.md documents both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

SCHEMA_VERSION = "1.1"
# SNS's limit covers the message and its attributes; stay well clear of it.
MAX_MESSAGE_BYTES = 256 * 1024 - 4 * 1024
NO_OFFER = "none"  # the offer_id attribute when no offer applies (SNS refuses empty values)
# Plain names for the profile features a reason may name.
_FEATURE_WORDS = {
    "CustServ Calls": "customer-service calls",
    "Day Mins": "daytime minutes",
    "Day Charge": "daytime charges",
    "Eve Mins": "evening minutes",
    "Eve Charge": "evening charges",
    "Night Mins": "night minutes",
    "Night Charge": "night charges",
    "Intl Mins": "international minutes",
    "Intl Charge": "international charges",
    "Intl Calls": "international calls",
    "VMail Message": "voice-mail messages",
    "Account Length": "account length",
    "plan": "plan",
    "limit": "plan limit",
    "Location": "location",
    "State": "state",
}


@dataclass(frozen=True)
class Alert:
    customer_id: str
    call_id: str
    job_name: str
    probability: float
    risk_level: str
    medium_threshold: float
    high_threshold: float
    profile_found: bool
    plan: str | None
    limit: str | None
    account_length: float | None
    customer_service_calls: float | None
    missing_features: list[str]
    excerpt: str | None
    recording_uri: str | None
    transcript_uri: str
    model_version: str
    scored_at: str
    # 1.1: why, and what to offer (score_call.offers fills these in).
    reasons: list[dict[str, Any]] = field(default_factory=list)
    offer: dict[str, Any] | None = None
    offer_reason: str | None = None
    high_precision: float | None = None  # the model's precision at the high threshold
    region: str | None = None  # for the console links

    def document(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "type": "churn-risk-alert",
            "customer_id": self.customer_id,
            "call_id": self.call_id,
            "job_name": self.job_name,
            "probability": round(self.probability, 4),
            "risk_level": self.risk_level,
            "thresholds": {"medium": self.medium_threshold, "high": self.high_threshold},
            "profile": {
                "found": self.profile_found,
                "plan": self.plan,
                "limit": self.limit,
                "account_length": self.account_length,
                "customer_service_calls": self.customer_service_calls,
            },
            "missing_features": self.missing_features,
            "excerpt": self.excerpt,
            "recording": self.recording_uri,
            "transcript": self.transcript_uri,
            "model_version": self.model_version,
            "scored_at": self.scored_at,
            "reasons": [_public_reason(r) for r in self.reasons],
            "offer": self.offer,
            "offer_reason": self.offer_reason,
            "links": {
                "recording": console_url(self.recording_uri, self.region),
                "transcript": console_url(self.transcript_uri, self.region),
            },
        }

    def email_text(self) -> str:
        lines = [
            f"High churn risk: customer {self.customer_id}",
            f"Call {self.call_id or 'unknown'} (job {self.job_name})",
            "",
            f"Risk: {self.risk_level.upper()}, {self.probability:.0%} (high from {self.high_threshold:.0%}).",
        ]
        meaning = risk_meaning(self.high_precision)
        if meaning:
            lines.append(meaning)
        if not self.profile_found:
            lines.append("Profile: no profile on file; scored from the call alone.")
        why = [reason_sentence(r) for r in self.reasons]
        lines += ["", "Why:"] + ([f"- {s}" for s in why] or ["- No single factor stood out."])
        lines += ["", "Suggested offer:"]
        if self.offer:
            lines.append(f"- {self.offer['text']} [{self.offer['offer_id']}]")
        else:
            lines.append(f"- None. {self.offer_reason or 'No offer rule applies.'}")
        if self.excerpt:
            lines += ["", "The customer said:", f"  \u201c{self.excerpt}\u201d"]
        links = self.document()["links"]
        lines += [
            "",
            f"Recording: {links['recording'] or 'unknown'}",
            f"Transcript: {links['transcript'] or 'unknown'}",
            f"Model {self.model_version}, scored {self.scored_at}",
        ]
        return "\n".join(lines)

    def attributes(self) -> dict[str, dict[str, str]]:
        return {
            "risk_level": {"DataType": "String", "StringValue": self.risk_level},
            # SNS refuses empty attribute values.
            "plan": {"DataType": "String", "StringValue": self.plan or "unknown"},
            "probability": {"DataType": "Number", "StringValue": f"{self.probability:.4f}"},
            "offer_id": {"DataType": "String", "StringValue": (self.offer or {}).get("offer_id") or NO_OFFER},
        }

    def message(self) -> str:
        """The ``MessageStructure=json`` body, trimmed to fit SNS's size limit."""
        alert = self
        body = _structure(alert)
        if len(body.encode()) > MAX_MESSAGE_BYTES and alert.excerpt:
            alert = replace(alert, excerpt=None)
            body = _structure(alert)
        if len(body.encode()) > MAX_MESSAGE_BYTES and alert.reasons:
            alert = replace(alert, reasons=without_phrases(alert.reasons))
            body = _structure(alert)
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError("alert does not fit in an SNS message")
        return body


def without_phrases(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reasons with the customer's words taken out (AlertExcerpts=false); topic and effect stay."""
    return [{**r, "value": None} if r.get("kind") == "phrase" else dict(r) for r in reasons]


def risk_meaning(precision: float | None) -> str | None:
    """ "About 6 in 10 ..." from the model's precision at the high threshold."""
    if precision is None or not 0 < precision <= 1:
        return None
    return f"About {round(precision * 10)} in 10 customers scored this high leave within the period."


def reason_sentence(reason: dict[str, Any]) -> str:
    points = f"{100 * float(reason.get('effect', 0.0)):.0f} points"
    if reason.get("kind") == "profile":
        name = _FEATURE_WORDS.get(str(reason.get("name")), str(reason.get("name")))
        value = _value(reason.get("value"))
        typical = _value(reason.get("reference"))
        return f"{name.capitalize()}: {value}, where a typical customer has {typical} (adds {points})."
    topic = reason.get("topic")
    about = f" ({topic})" if topic and topic != "other" else ""
    if reason.get("value"):
        return f"They said \u201c{reason['value']}\u201d{about} (adds {points})."
    return f"Something they said{about} (adds {points})."


def console_url(s3_uri: str | None, region: str | None) -> str | None:
    """The S3 console page of an ``s3://bucket/key`` object (https, never the s3:// URI)."""
    if not s3_uri or not s3_uri.startswith("s3://"):
        return None
    bucket, _, key = s3_uri[len("s3://") :].partition("/")
    if not bucket or not key:
        return None
    where = f"region={quote(region, safe='')}&" if region else ""
    return f"https://console.aws.amazon.com/s3/object/{quote(bucket, safe='')}?{where}prefix={quote(key, safe='')}"


def _public_reason(reason: dict[str, Any]) -> dict[str, Any]:
    keep = ("kind", "name", "value", "effect", "method", "reference", "topic")
    return {k: reason.get(k) for k in keep if k in reason}


def _structure(alert: Alert) -> str:
    machine = json.dumps(alert.document(), ensure_ascii=False)
    return json.dumps({"default": machine, "email": alert.email_text()}, ensure_ascii=False)


def _value(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)
