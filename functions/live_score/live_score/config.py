"""The live function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD, RiskThresholds
from churn_lambda.env import ConfigError, check_thresholds, number, required, text, threshold_numbers

__all__ = ["ConfigError", "Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    contacts_table: str
    profiles_table: str
    customer_alerts_table: str
    endpoint_name: str
    event_bus_name: str
    medium_risk_threshold: float = DEFAULT_MEDIUM_RISK_THRESHOLD
    high_risk_threshold: float = DEFAULT_HIGH_RISK_THRESHOLD
    # At most one endpoint call per contact per this many seconds; turns in between wait.
    rescore_interval_seconds: float = 10.0
    # A contact that never completes is forgotten this long after its last segment (DynamoDB TTL).
    contact_ttl_hours: float = 12.0
    # The customer's quiet window, shared with the post-call path (AlertSuppressionDays).
    alert_suppression_days: float = 7.0
    # The contact attribute the contact flow sets to our customer id.
    customer_id_attribute: str = "customer_id"

    def __post_init__(self) -> None:
        check_thresholds(self.medium_risk_threshold, self.high_risk_threshold)
        if self.rescore_interval_seconds < 0:
            raise ConfigError("RESCORE_INTERVAL_SECONDS must not be negative")
        if self.contact_ttl_hours <= 0:
            raise ConfigError("CONTACT_TTL_HOURS must be positive")
        if self.alert_suppression_days < 0:
            raise ConfigError("ALERT_SUPPRESSION_DAYS must not be negative")

    @property
    def thresholds(self) -> RiskThresholds:
        return RiskThresholds(self.medium_risk_threshold, self.high_risk_threshold)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    medium, high = threshold_numbers(env)
    return Settings(
        contacts_table=required(env, "CONTACTS_TABLE"),
        profiles_table=required(env, "PROFILES_TABLE"),
        customer_alerts_table=required(env, "CUSTOMER_ALERTS_TABLE"),
        endpoint_name=required(env, "ENDPOINT_NAME"),
        event_bus_name=required(env, "EVENT_BUS_NAME"),
        medium_risk_threshold=medium,
        high_risk_threshold=high,
        rescore_interval_seconds=number(env, "RESCORE_INTERVAL_SECONDS", 10.0),
        contact_ttl_hours=number(env, "CONTACT_TTL_HOURS", 12.0),
        alert_suppression_days=number(env, "ALERT_SUPPRESSION_DAYS", 7.0),
        customer_id_attribute=text(env, "CUSTOMER_ID_ATTRIBUTE", "customer_id"),
    )
