"""The API function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from churn_contracts.risk import RiskThresholds
from churn_lambda.env import ConfigError, number, required, risk_thresholds, text

__all__ = ["ConfigError", "Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    calls_table: str
    profiles_table: str
    endpoint_name: str
    calls_by_customer_index: str = "by-customer"
    thresholds: RiskThresholds = field(default_factory=RiskThresholds)
    retry_after_s: int = 5


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        calls_table=required(env, "CALLS_TABLE"),
        profiles_table=required(env, "PROFILES_TABLE"),
        endpoint_name=required(env, "ENDPOINT_NAME"),
        calls_by_customer_index=text(env, "CALLS_BY_CUSTOMER_INDEX", "by-customer"),
        thresholds=risk_thresholds(env),
        retry_after_s=number(env, "RETRY_AFTER_SECONDS", 5, int),
    )
