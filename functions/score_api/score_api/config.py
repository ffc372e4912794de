"""The API function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from churn_contracts.risk import (
    DEFAULT_HIGH_RISK_THRESHOLD,
    DEFAULT_MEDIUM_RISK_THRESHOLD,
    HIGH_ENV,
    MEDIUM_ENV,
    RiskThresholds,
    ThresholdError,
)
from churn_lambda.env import ConfigError, number, required

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
        calls_by_customer_index=env.get("CALLS_BY_CUSTOMER_INDEX", "").strip() or "by-customer",
        thresholds=_thresholds(env),
        retry_after_s=number(env, "RETRY_AFTER_SECONDS", 5, int),
    )


def _thresholds(env: Mapping[str, str]) -> RiskThresholds:
    medium = number(env, MEDIUM_ENV, DEFAULT_MEDIUM_RISK_THRESHOLD)
    high = number(env, HIGH_ENV, DEFAULT_HIGH_RISK_THRESHOLD)
    try:
        return RiskThresholds(medium, high)
    except ThresholdError as exc:
        raise ConfigError(f"{MEDIUM_ENV}/{HIGH_ENV}: {exc}") from None
