"""The API function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from churn_lambda.env import ConfigError, number, required

__all__ = ["ConfigError", "Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    calls_table: str
    profiles_table: str
    endpoint_name: str
    calls_by_customer_index: str = "by-customer"
    medium_risk_threshold: float = 0.12
    high_risk_threshold: float = 0.42
    retry_after_s: int = 5

    def __post_init__(self) -> None:
        if not 0.0 <= self.medium_risk_threshold <= self.high_risk_threshold <= 1.0:
            raise ConfigError(
                "thresholds must satisfy 0 <= MEDIUM_RISK_THRESHOLD <= HIGH_RISK_THRESHOLD <= 1"
            )


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        calls_table=required(env, "CALLS_TABLE"),
        profiles_table=required(env, "PROFILES_TABLE"),
        endpoint_name=required(env, "ENDPOINT_NAME"),
        calls_by_customer_index=env.get("CALLS_BY_CUSTOMER_INDEX", "").strip() or "by-customer",
        medium_risk_threshold=number(env, "MEDIUM_RISK_THRESHOLD", 0.12),
        high_risk_threshold=number(env, "HIGH_RISK_THRESHOLD", 0.42),
        retry_after_s=number(env, "RETRY_AFTER_SECONDS", 5, int),
    )
