"""The outcomes function's settings, all from environment variables set in template.yaml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from churn_lambda.env import ConfigError, required

__all__ = ["ConfigError", "Settings", "load_settings"]


@dataclass(frozen=True)
class Settings:
    outcomes_table: str
    link_key_id: str


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    return Settings(
        outcomes_table=required(env, "OUTCOMES_TABLE"), link_key_id=required(env, "OUTCOME_LINK_KEY_ID")
    )
