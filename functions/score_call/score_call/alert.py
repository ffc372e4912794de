"""The alert message: one JSON document for machines, a readable text for email.

Published with ``MessageStructure=json``: SQS/Lambda/HTTP subscribers get ``default`` (the
JSON document), email subscribers get ``email`` (text). Message attributes carry
``risk_level``, ``plan`` and ``probability`` for subscription filter policies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = "1.0"
# SNS's limit covers the message and its attributes; stay well clear of it.
MAX_MESSAGE_BYTES = 256 * 1024 - 4 * 1024


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
        }

    def email_text(self) -> str:
        profile = (
            f"plan {self.plan or 'unknown'}, limit {self.limit or 'unknown'}, "
            f"account length {_number(self.account_length)}, "
            f"customer-service calls {_number(self.customer_service_calls)}"
            if self.profile_found
            else "no profile on file (scored from the call alone; profile features imputed)"
        )
        lines = [
            f"High churn risk: customer {self.customer_id}",
            "",
            f"Probability: {self.probability:.0%} (high from {self.high_threshold:.0%})",
            f"Call: {self.call_id}",
            f"Profile: {profile}",
        ]
        if self.excerpt:
            lines += ["", "The customer said:", f"  \u201c{self.excerpt}\u201d"]
        lines += [
            "",
            f"Recording: {self.recording_uri or 'unknown'}",
            f"Transcript: {self.transcript_uri}",
            f"Model {self.model_version}, scored {self.scored_at}",
        ]
        return "\n".join(lines)

    def attributes(self) -> dict[str, dict[str, str]]:
        return {
            "risk_level": {"DataType": "String", "StringValue": self.risk_level},
            # SNS refuses empty attribute values.
            "plan": {"DataType": "String", "StringValue": self.plan or "unknown"},
            "probability": {"DataType": "Number", "StringValue": f"{self.probability:.4f}"},
        }

    def message(self) -> str:
        """The ``MessageStructure=json`` body, trimmed to fit SNS's size limit."""
        alert = self
        body = _structure(alert)
        if len(body.encode()) > MAX_MESSAGE_BYTES and alert.excerpt:
            alert = _without_excerpt(alert)
            body = _structure(alert)
        if len(body.encode()) > MAX_MESSAGE_BYTES:
            raise ValueError("alert does not fit in an SNS message")
        return body


def _structure(alert: Alert) -> str:
    machine = json.dumps(alert.document(), ensure_ascii=False)
    return json.dumps({"default": machine, "email": alert.email_text()}, ensure_ascii=False)


def _without_excerpt(alert: Alert) -> Alert:
    values = dict(alert.__dict__)
    values["excerpt"] = None
    return Alert(**values)


def _number(value: float | None) -> str:
    if value is None:
        return "unknown"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
