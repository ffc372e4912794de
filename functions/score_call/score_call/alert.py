"""The alert message: one JSON document for machines, a briefing for email, a chat card.

Published with ``MessageStructure=json``: SQS/Lambda subscribers get ``default`` (the JSON
document), email subscribers ``email`` (text), HTTPS subscribers ``https`` (the AWS Chatbot /
Amazon Q Developer custom-notification format, for Slack and Microsoft Teams). Message
attributes carry ``type``, ``dedupe_key``, ``risk_level``, ``plan``, ``probability`` and
``offer_id`` for subscription filter policies.

Rendered once, stored on the call item with the alert claim (:class:`PreparedAlert`), and
published from there: whoever sends it (the scoring invocation, a retry, the reconciler, a
takeover of a lapsed claim) sends the same bytes with the same ``dedupe_key``.

Bounded by construction: every free-text field has a cap, so the message stays far below SNS's
256 KB and the call item below DynamoDB's 400 KB whatever the profile or the endpoint held.

Schema 1.2 adds ``dedupe_key``, ``customer``, ``risk``, ``call``, ``value``, ``topics``,
``headline``, ``degraded`` and the transcript download link to 1.1; 1.1 adds ``reasons``,
``offer``, ``offer_reason`` and ``links`` to 1.0. Every older field keeps its meaning.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from churn_contracts import features

SCHEMA_VERSION = "1.2"
ALERT_TYPE = "churn-risk-alert"
FOLLOW_UP_TYPE = "churn-risk-follow-up"
# SNS's limit covers the message and its attributes; stay well clear of it.
MAX_MESSAGE_BYTES = 256 * 1024 - 4 * 1024
NO_OFFER = "none"  # the offer_id attribute when no offer applies (SNS refuses empty values)
# Caps on what a profile, a rules file or the endpoint can put in an alert (characters).
MAX_NAME = 80
MAX_PHONE = 32
MAX_CATEGORY = 64
MAX_TEXT = 500
MAX_URI = 1100  # S3 keys are at most 1,024 bytes
MAX_REASONS = 4  # three groups and the customer's sentence (score_call.wording)
MAX_MISSING = 25
MAX_EXCERPT = 1000
# The email's outcome buttons in words (the keys are churn_contracts.outcomes.LINK_OUTCOMES').
OUTCOME_BUTTONS = {"contacted": "Contacted", "saved": "Saved (stays)", "lost": "Lost (left)"}


def dedupe_key(job_name: str, kind: str = ALERT_TYPE) -> str:
    """One key per call and message kind: every copy of one alert carries the same key."""
    return f"{job_name}/{'follow-up' if kind == FOLLOW_UP_TYPE else 'alert'}"


def clip(value: Any, limit: int) -> str | None:
    """A string no longer than ``limit`` (marked with an ellipsis when cut); None stays None."""
    if value is None:
        return None
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


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
    # 1.2: who, what it means, the call, the money, the topics, a link anyone on the team can open.
    customer_name: str | None = None  # only where the profile has it and the stack allows it
    customer_phone: str | None = None
    high_customers: int | None = None  # how many test customers the precision was measured on
    period: str | None = None  # the churn label's period ("3 months")
    call_received_at: str | None = None
    call_duration_s: float | None = None
    agent_id: str | None = None
    monthly_value: float | None = None
    topics: dict[str, Any] | None = None
    transcript_link: str | None = None  # presigned, expiring
    link_expires_at: str | None = None
    degraded: list[str] = field(default_factory=list)  # enrichment that failed, and what it cost
    # Issue 21: the one-click outcome links (button -> signed URL), made once at composition.
    outcome_links: dict[str, str] | None = None
    outcome_links_expire_at: str | None = None

    # --- derived figures --------------------------------------------------------------------
    @property
    def value_at_risk(self) -> float | None:
        """A year of the customer's monthly value, times the probability that they leave."""
        return features.value_at_risk(self.monthly_value, self.probability)

    @property
    def key(self) -> str:
        return dedupe_key(self.job_name)

    def bounded(self) -> Alert:
        """Every free-text field within its cap (applied before rendering, so always)."""
        return replace(
            self,
            plan=clip(self.plan, MAX_CATEGORY),
            limit=clip(self.limit, MAX_CATEGORY),
            customer_name=clip(self.customer_name, MAX_NAME),
            customer_phone=clip(self.customer_phone, MAX_PHONE),
            agent_id=clip(self.agent_id, MAX_CATEGORY),
            period=clip(self.period, MAX_CATEGORY),
            excerpt=clip(self.excerpt, MAX_EXCERPT),
            recording_uri=clip(self.recording_uri, MAX_URI),
            transcript_uri=clip(self.transcript_uri, MAX_URI) or "",
            transcript_link=clip(self.transcript_link, 2 * MAX_URI),
            model_version=clip(self.model_version, MAX_CATEGORY) or "unknown",
            missing_features=[clip(m, MAX_CATEGORY) or "" for m in self.missing_features[:MAX_MISSING]],
            reasons=[_bounded_reason(r) for r in self.reasons[:MAX_REASONS]],
            offer=_bounded_offer(self.offer),
            offer_reason=clip(self.offer_reason, MAX_TEXT),
            topics=_bounded_topics(self.topics),
            degraded=[clip(d, 200) or "" for d in self.degraded[:5]],
        )

    # --- the machine document ---------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "type": ALERT_TYPE,
            "dedupe_key": self.key,
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
                "transcript_download": self.transcript_link,
                "transcript_download_expires_at": self.link_expires_at,
                "outcome": self.outcome_links,
                "outcome_expires_at": self.outcome_links_expire_at,
            },
            "customer": {"id": self.customer_id, "name": self.customer_name, "phone": self.customer_phone},
            "risk": {
                "level": self.risk_level,
                "probability": round(self.probability, 4),
                "words": risk_meaning(self.high_precision, self.period, self.high_customers),
                "precision": self.high_precision,
                "customers": self.high_customers,
                "period": self.period,
            },
            "call": {
                "received_at": self.call_received_at,
                "duration_s": self.call_duration_s,
                "agent_id": self.agent_id,
            },
            "value": {"monthly": self.monthly_value, "at_risk": self.value_at_risk},
            "topics": self.topics,
            "headline": self.headline(),
            "degraded": self.degraded,
        }

    # --- what people read -------------------------------------------------------------------
    def title(self) -> str:
        who = self.customer_name or "a customer"
        if self.customer_phone:
            who += f", {self.customer_phone}"
        if not self.customer_name and self.plan:
            who += f" on plan {self.plan}"
        return f"High churn risk: {who}"

    def headline(self) -> list[str]:
        """The first lines of every rendering: who, how likely, why, what to offer, the call, the money."""
        lines = [self.title(), self.risk_line()]
        why = [r.get("text") or reason_sentence(r) for r in self.reasons]
        lines.append("Why: " + ("; ".join(why) if why else "no single factor stood out") + ".")
        if self.offer:
            lines.append(f"Offer: {self.offer.get('text')}")
        else:
            lines.append(f"Offer: none ({self.offer_reason or 'no offer rule applies'}).")
        lines.append("Call: " + call_line(self.call_received_at, self.call_duration_s, self.agent_id))
        if self.monthly_value is not None:
            lines.append(
                f"Value: {money(self.monthly_value)} a month; {money(self.value_at_risk)} a year at risk."
            )
        else:
            lines.append("Value: unknown (no charges on the profile).")
        return lines

    def risk_line(self) -> str:
        line = f"Risk: {self.risk_level}, {self.probability:.0%}."
        meaning = risk_meaning(self.high_precision, self.period, self.high_customers)
        return f"{line} {meaning}" if meaning else line

    def email_text(self) -> str:
        lines = self.headline()
        if not self.profile_found:
            lines.append("Profile: none on file; scored from the call alone.")
        if self.degraded:
            lines.append("Incomplete: " + "; ".join(self.degraded) + ".")
        if self.excerpt:
            lines += ["", "The customer said:", f"  \u201c{self.excerpt}\u201d"]
        complaints = topic_lines(self.topics)
        if complaints:
            lines += ["", "What the call was about:"] + [f"- {c}" for c in complaints]
        if self.offer:
            lines += ["", f"Offer [{self.offer.get('offer_id')}]: {self.offer_reason or ''}".rstrip(": ")]
        links = self.document()["links"]
        lines += [""]
        if self.transcript_link:
            lines.append(
                f"Transcript (redacted, link expires {self.link_expires_at}): {self.transcript_link}"
            )
        if self.outcome_links:
            lines += [
                "",
                f"What happened? One click records it (links expire {self.outcome_links_expire_at}):",
            ]
            lines += [f"  {OUTCOME_BUTTONS.get(b, b)}: {url}" for b, url in self.outcome_links.items()]
            lines.append("")
        lines += [
            f"Recording (AWS console): {links['recording'] or 'unknown'}",
            f"Transcript (AWS console): {links['transcript'] or 'unknown'}",
            "",
            f"Customer {self.customer_id}, call {self.call_id or 'unknown'}, job {self.job_name}",
            f"Model {self.model_version}, scored {self.scored_at}; dedupe key {self.key}",
        ]
        return "\n".join(lines)

    def chat(self) -> dict[str, Any]:
        """The AWS Chatbot (Amazon Q Developer) custom-notification document."""
        head = self.headline()
        description = "\n".join(head[1:])
        if self.transcript_link:
            description += f"\n<{self.transcript_link}|Redacted transcript> (expires {self.link_expires_at})"
        steps = [str(self.offer["text"])] if self.offer else []
        steps.append(f"Customer {self.customer_id}, call {self.call_id or 'unknown'}")
        return {
            "version": "1.0",
            "source": "custom",
            "id": self.key,
            "content": {
                "textType": "client-markdown",
                "title": f":rotating_light: {head[0]}",
                "description": description,
                "nextSteps": steps,
                "keywords": [k for k in ("churn", self.risk_level, self.plan) if k],
            },
            "metadata": {
                "threadId": f"churn-{self.customer_id}",
                "summary": head[0],
                "eventType": ALERT_TYPE,
                "additionalContext": {
                    "customer_id": self.customer_id,
                    "job_name": self.job_name,
                    "dedupe_key": self.key,
                },
            },
        }

    def subject(self) -> str:
        return subject_line(f"High churn risk: {self.customer_name or 'customer ' + self.customer_id}")

    def attributes(self) -> dict[str, dict[str, str]]:
        return {
            "type": {"DataType": "String", "StringValue": ALERT_TYPE},
            "dedupe_key": {"DataType": "String", "StringValue": self.key},
            "risk_level": {"DataType": "String", "StringValue": self.risk_level},
            # SNS refuses empty attribute values.
            "plan": {"DataType": "String", "StringValue": clip(self.plan, MAX_CATEGORY) or "unknown"},
            "probability": {"DataType": "Number", "StringValue": f"{self.probability:.4f}"},
            "offer_id": {"DataType": "String", "StringValue": (self.offer or {}).get("offer_id") or NO_OFFER},
        }

    def message(self) -> str:
        """The ``MessageStructure=json`` body, within SNS's limit whatever went in."""
        alert = self.bounded()
        body = _structure(alert.document(), alert.email_text(), alert.chat())
        # The caps above keep a message far below the limit; these steps are the belt and braces.
        for trim in (_without_excerpt, _without_topics, _without_phrase_words, _minimal):
            if len(body.encode()) <= MAX_MESSAGE_BYTES:
                break
            alert = trim(alert)
            body = _structure(alert.document(), alert.email_text(), alert.chat())
        return body

    def prepared(self) -> PreparedAlert:
        """Rendered once: the bytes every sender publishes."""
        bounded = self.bounded()
        return PreparedAlert(
            kind=ALERT_TYPE,
            dedupe_key=self.key,
            subject=self.subject(),
            message=self.message(),
            attributes=bounded.attributes(),
            offer_id=(bounded.offer or {}).get("offer_id"),
        )


@dataclass(frozen=True)
class PreparedAlert:
    """An alert as published: stored on the call item before the first publish, sent as it is."""

    kind: str
    dedupe_key: str
    subject: str
    message: str
    attributes: dict[str, dict[str, str]]
    offer_id: str | None = None

    def to_item(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dedupe_key": self.dedupe_key,
            "subject": self.subject,
            "message": self.message,
            "attributes": json.dumps(self.attributes, sort_keys=True),
            "offer_id": self.offer_id,
        }

    @classmethod
    def from_item(cls, item: Any) -> PreparedAlert | None:
        """The stored alert, or None when there is none (or it is not the stored shape)."""
        if not isinstance(item, Mapping):
            return None
        try:
            attributes = json.loads(str(item["attributes"]))
            return cls(
                kind=str(item["kind"]),
                dedupe_key=str(item["dedupe_key"]),
                subject=str(item["subject"]),
                message=str(item["message"]),
                attributes=attributes,
                offer_id=str(item["offer_id"]) if item.get("offer_id") else None,
            )
        except (KeyError, TypeError, ValueError):
            return None

    def document(self) -> dict[str, Any]:
        return json.loads(json.loads(self.message)["default"])

    def email(self) -> str:
        return str(json.loads(self.message)["email"])

    def chat(self) -> dict[str, Any]:
        return json.loads(json.loads(self.message)["https"])


def follow_up(
    alert: Mapping[str, Any], open_alert_job: str | None, open_alert_at: str | None
) -> PreparedAlert:
    """A short message appended to the customer's open alert: a repeat high-risk call inside the
    quiet window. Made from the call's stored alert document, so every sender makes the same bytes."""
    job = str(alert.get("job_name"))
    key = dedupe_key(job, FOLLOW_UP_TYPE)
    customer = alert.get("customer") or {}
    # Named as the open alert names them (no ids on the first lines; they are at the bottom).
    headline = alert.get("headline") or []
    who = str(headline[0]).removeprefix("High churn risk: ") if headline else "a customer"
    call = alert.get("call") or {}
    reasons = alert.get("reasons") or []
    said = next((r.get("value") for r in reasons if r.get("kind") == "phrase" and r.get("value")), None)
    risk = alert.get("risk") or {}
    lines = [
        f"Repeat call: {who} called again.",
        f"Risk: {alert.get('risk_level')}, {float(alert.get('probability') or 0):.0%}."
        + (f" {risk['words']}" if risk.get("words") else ""),
        "Call: " + call_line(call.get("received_at"), call.get("duration_s"), call.get("agent_id")),
    ]
    if said:
        lines.append(f"Said: \u201c{said}\u201d")
    since = _when(open_alert_at) if open_alert_at else "earlier in the quiet window"
    lines.append(f"Follows the alert of {since}; no new offer while that alert is open.")
    document = {
        "schema_version": SCHEMA_VERSION,
        "type": FOLLOW_UP_TYPE,
        "dedupe_key": key,
        "follows": {
            "job_name": open_alert_job,
            "dedupe_key": dedupe_key(open_alert_job) if open_alert_job else None,
        },
        "customer_id": alert.get("customer_id"),
        "customer": customer,
        "call_id": alert.get("call_id"),
        "job_name": job,
        "probability": alert.get("probability"),
        "risk_level": alert.get("risk_level"),
        "scored_at": alert.get("scored_at"),
        "call": call,
        "said": said,
        "headline": lines,
    }
    email = "\n".join(
        [
            *lines,
            "",
            f"Customer {alert.get('customer_id')}, call {alert.get('call_id') or 'unknown'}, job {job}",
        ]
    )
    chat = {
        "version": "1.0",
        "source": "custom",
        "id": key,
        "content": {"textType": "client-markdown", "title": lines[0], "description": "\n".join(lines[1:])},
        "metadata": {
            "threadId": f"churn-{alert.get('customer_id')}",  # the open alert's thread
            "summary": lines[0],
            "eventType": FOLLOW_UP_TYPE,
            "additionalContext": {
                "customer_id": str(alert.get("customer_id")),
                "job_name": job,
                "dedupe_key": key,
            },
        },
    }
    attributes = {
        "type": {"DataType": "String", "StringValue": FOLLOW_UP_TYPE},
        "dedupe_key": {"DataType": "String", "StringValue": key},
        "risk_level": {"DataType": "String", "StringValue": str(alert.get("risk_level"))},
        "plan": {
            "DataType": "String",
            "StringValue": str((alert.get("profile") or {}).get("plan") or "unknown"),
        },
        "probability": {"DataType": "Number", "StringValue": f"{float(alert.get('probability') or 0):.4f}"},
        "offer_id": {"DataType": "String", "StringValue": NO_OFFER},
    }
    subject = customer.get("name") or f"customer {alert.get('customer_id')}"
    return PreparedAlert(
        FOLLOW_UP_TYPE,
        key,
        subject_line(f"Repeat call: {subject}"),
        _structure(document, email, chat),
        attributes,
    )


# --- words -------------------------------------------------------------------------------------


def risk_meaning(
    precision: float | None, period: str | None = None, customers: int | None = None
) -> str | None:
    """ "About 6 in 10 customers scored this high left within 3 months (measured on 84 customers)."."""
    if precision is None or not 0 < precision <= 1:
        return None
    within = f"within {period}" if period else "within the training data's churn period"
    measured = (
        f"measured on {customers:,} customers scored this high"
        if customers
        else "the number of customers behind this figure is not known"
    )
    return f"About {round(precision * 10)} in 10 customers scored this high leave {within} ({measured})."


def call_line(started_at: str | None, duration_s: float | None, agent_id: str | None) -> str:
    parts = [_when(started_at) if started_at else "time unknown"]
    parts.append(_duration(duration_s) if duration_s is not None else "duration unknown")
    if agent_id:
        parts.append(f"agent {agent_id}")
    return ", ".join(parts) + "."


def topic_lines(topics: Mapping[str, Any] | None) -> list[str]:
    """The complaint topics, most sentences first, each with its strongest sentence."""
    if not topics:
        return []
    from churn_contracts.topics import COMPLAINT_TOPICS, display_name

    counts = topics.get("counts") or {}
    strongest = topics.get("strongest") or {}
    lines = []
    for topic, count in counts.items():
        if topic not in COMPLAINT_TOPICS:
            continue
        sentence = (strongest.get(topic) or {}).get("text")
        said = f": \u201c{sentence}\u201d" if sentence else ""
        lines.append(
            f"{display_name(topic).capitalize()} ({count} sentence{'s' if count != 1 else ''}){said}"
        )
    return lines


def reason_sentence(reason: Mapping[str, Any]) -> str:
    """A 1.1 reason (no ``text``) in words: what older stored reasons fall back to."""
    if reason.get("kind") == "profile":
        return (
            f"{reason.get('name')}: {_value(reason.get('value'))}, typical {_value(reason.get('reference'))}"
        )
    if reason.get("value"):
        return f"Said \u201c{reason['value']}\u201d"
    return "Something they said"


def money(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def subject_line(text: str) -> str:
    """SNS subjects: ASCII, no line breaks, under 100 characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(folded.split())[:99] or "Churn alert"


def without_phrases(reasons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reasons with the customer's words taken out (AlertExcerpts=false); topic and effect stay."""
    return [{**r, "value": None} if r.get("kind") == "phrase" else dict(r) for r in reasons]


def console_url(s3_uri: str | None, region: str | None) -> str | None:
    """The S3 console page of an ``s3://bucket/key`` object (https, never the s3:// URI)."""
    if not s3_uri or not s3_uri.startswith("s3://"):
        return None
    bucket, _, key = s3_uri[len("s3://") :].partition("/")
    if not bucket or not key:
        return None
    where = f"region={quote(region, safe='')}&" if region else ""
    return f"https://console.aws.amazon.com/s3/object/{quote(bucket, safe='')}?{where}prefix={quote(key, safe='')}"


# --- helpers -------------------------------------------------------------------------------------


def _public_reason(reason: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("kind", "name", "value", "effect", "method", "reference", "topic", "text", "group", "features")
    return {k: reason.get(k) for k in keep if k in reason}


def _bounded_reason(reason: Mapping[str, Any]) -> dict[str, Any]:
    out = _public_reason(reason)
    for key in ("value", "reference"):
        if isinstance(out.get(key), str):
            out[key] = clip(out[key], 300)
    for key in ("text", "name", "method", "topic", "group"):
        if key in out and out[key] is not None:
            out[key] = clip(out[key], 300 if key == "text" else MAX_CATEGORY)
    if isinstance(out.get("features"), list):
        out["features"] = [clip(f, MAX_CATEGORY) for f in out["features"][:5]]
    return out


def _bounded_offer(offer: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if offer is None:
        return None
    return {
        "offer_id": clip(offer.get("offer_id"), MAX_CATEGORY),
        "text": clip(offer.get("text"), MAX_TEXT),
        "priority": offer.get("priority"),
        "rules_version": clip(offer.get("rules_version"), 200),
    }


def _bounded_topics(topics: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not topics:
        return None
    counts = dict(list((topics.get("counts") or {}).items())[:12])
    strongest = {
        str(t)[:MAX_CATEGORY]: {
            "text": clip(s.get("text"), 300),
            "strength": s.get("strength"),
            "sentence": s.get("sentence"),
        }
        for t, s in list((topics.get("strongest") or {}).items())[:12]
        if isinstance(s, Mapping)
    }
    return {
        "method": clip(topics.get("method"), MAX_CATEGORY),
        "sentences": topics.get("sentences"),
        "counts": {str(t)[:MAX_CATEGORY]: c for t, c in counts.items()},
        "strongest": strongest,
    }


def _without_excerpt(alert: Alert) -> Alert:
    return replace(alert, excerpt=None, degraded=[*alert.degraded, "excerpt dropped to fit SNS"])


def _without_topics(alert: Alert) -> Alert:
    return replace(alert, topics=None, degraded=[*alert.degraded, "topics dropped to fit SNS"])


def _without_phrase_words(alert: Alert) -> Alert:
    return replace(alert, reasons=without_phrases(alert.reasons))


def _minimal(alert: Alert) -> Alert:
    return replace(alert, reasons=[], offer_reason=None, transcript_link=None, missing_features=[])


def _structure(document: Mapping[str, Any], email: str, chat: Mapping[str, Any]) -> str:
    machine = json.dumps(document, ensure_ascii=False, sort_keys=True)
    return json.dumps(
        {"default": machine, "email": email, "https": json.dumps(chat, ensure_ascii=False, sort_keys=True)},
        ensure_ascii=False,
        sort_keys=True,
    )


def _when(stamp: str) -> str:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.strftime("%d %b %Y %H:%M UTC")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _value(value: Any) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:g}"
    return str(value)
