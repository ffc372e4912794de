"""The score function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD
from churn_contracts.transcribe import DEFAULT_CUSTOMER_CHANNEL, DEFAULT_CUSTOMER_SPEAKER
from churn_lambda.env import (
    ConfigError,
    check_thresholds,
    number,
    parse_bool,
    required,
    text,
    threshold_numbers,
)

__all__ = ["ConfigError", "Settings", "load_settings", "parse_bool"]


@dataclass(frozen=True)
class Settings:
    calls_table: str
    profiles_table: str
    customer_alerts_table: str
    alert_topic_arn: str
    endpoint_name: str
    job_name_prefix: str
    recordings_bucket: str
    medium_risk_threshold: float = DEFAULT_MEDIUM_RISK_THRESHOLD
    high_risk_threshold: float = DEFAULT_HIGH_RISK_THRESHOLD
    alert_suppression_days: float = 7.0
    customer_channel: str = DEFAULT_CUSTOMER_CHANNEL
    customer_speaker: str = DEFAULT_CUSTOMER_SPEAKER
    pii_redaction: bool = True  # redaction on by default (issue 13): no raw speech in alerts
    alert_excerpts: bool = True
    excerpt_max_chars: int = 280
    call_retention_days: int = 365
    # How long one invocation may hold a call (scoring or alerting) before another takes over:
    # past the function's 120 s timeout, so a live invocation is never overtaken.
    lease_seconds: int = 180
    # The reconciler: calls in flight longer than this are looked at; older than stuck_after, counted stuck.
    reconcile_after_seconds: int = 600
    stuck_after_seconds: int = 3600
    # The customer's name and phone in alerts (never in logs), where the profile has them.
    alert_contact_details: bool = False
    # A repeat high-risk call inside the quiet window sends a short follow-up instead of nothing.
    alert_follow_ups: bool = True
    # The presigned link to the redacted transcript lives this long (0: no link).
    transcript_link_seconds: int = 12 * 3600
    # Issue 21: the one-click outcome links (both set: links in the alert; either empty: none).
    outcome_link_key_id: str = ""
    outcome_link_base_url: str = ""
    # Issue 21: the stack's event bus for "Churn Risk Detected" (empty: no events).
    alert_event_bus: str = ""

    def __post_init__(self) -> None:
        check_thresholds(self.medium_risk_threshold, self.high_risk_threshold)
        if self.lease_seconds <= 0 or self.reconcile_after_seconds < 0 or self.stuck_after_seconds < 0:
            raise ConfigError("LEASE_SECONDS must be positive, RECONCILE/STUCK_AFTER_SECONDS not negative")
        if self.alert_suppression_days < 0:
            raise ConfigError("ALERT_SUPPRESSION_DAYS must not be negative")
        if self.excerpt_max_chars < 0:
            raise ConfigError("EXCERPT_MAX_CHARS must not be negative")
        # SigV4 presigned URLs live at most 7 days.
        if not 0 <= self.transcript_link_seconds <= 7 * 24 * 3600:
            raise ConfigError("TRANSCRIPT_LINK_HOURS must be from 0 to 168")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    medium, high = threshold_numbers(env)
    return Settings(
        calls_table=required(env, "CALLS_TABLE"),
        profiles_table=required(env, "PROFILES_TABLE"),
        customer_alerts_table=required(env, "CUSTOMER_ALERTS_TABLE"),
        alert_topic_arn=required(env, "ALERT_TOPIC_ARN"),
        endpoint_name=required(env, "ENDPOINT_NAME"),
        job_name_prefix=required(env, "JOB_NAME_PREFIX"),
        recordings_bucket=required(env, "RECORDINGS_BUCKET"),
        medium_risk_threshold=medium,
        high_risk_threshold=high,
        alert_suppression_days=number(env, "ALERT_SUPPRESSION_DAYS", 7.0),
        customer_channel=text(env, "CUSTOMER_CHANNEL", DEFAULT_CUSTOMER_CHANNEL),
        customer_speaker=text(env, "CUSTOMER_SPEAKER", DEFAULT_CUSTOMER_SPEAKER),
        pii_redaction=parse_bool(env.get("PII_REDACTION"), True),
        alert_excerpts=parse_bool(env.get("ALERT_EXCERPTS"), True),
        excerpt_max_chars=number(env, "EXCERPT_MAX_CHARS", 280, int),
        call_retention_days=number(env, "CALL_RETENTION_DAYS", 365, int),
        lease_seconds=number(env, "LEASE_SECONDS", 180, int),
        # Minutes in the template; seconds win where set (the local stack compresses time).
        reconcile_after_seconds=number(
            env, "RECONCILE_AFTER_SECONDS", number(env, "RECONCILE_AFTER_MINUTES", 10, int) * 60, int
        ),
        stuck_after_seconds=number(env, "STUCK_AFTER_SECONDS", 3600, int),
        alert_contact_details=parse_bool(env.get("ALERT_CONTACT_DETAILS"), False),
        alert_follow_ups=parse_bool(env.get("ALERT_FOLLOW_UPS"), True),
        transcript_link_seconds=int(number(env, "TRANSCRIPT_LINK_HOURS", 12.0) * 3600),
        outcome_link_key_id=text(env, "OUTCOME_LINK_KEY_ID"),
        outcome_link_base_url=text(env, "OUTCOME_LINK_BASE_URL"),
        alert_event_bus=text(env, "ALERT_EVENT_BUS"),
    )
