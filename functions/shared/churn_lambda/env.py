"""Reading settings from environment variables (set in template.yaml), with clear errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from churn_contracts.risk import (
    DEFAULT_HIGH_RISK_THRESHOLD,
    DEFAULT_MEDIUM_RISK_THRESHOLD,
    HIGH_ENV,
    MEDIUM_ENV,
    RiskThresholds,
    ThresholdError,
    validate_thresholds,
)

N = TypeVar("N", int, float)


class ConfigError(ValueError):
    """A setting is missing or invalid; the function cannot run until the template is fixed."""


def parse_bool(value: str | None, default: bool = False) -> bool:
    if value is None or value.strip() == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"true", "1", "yes", "on"}:
        return True
    if lowered in {"false", "0", "no", "off"}:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def number(env: Mapping[str, str], name: str, default: N, kind: Callable[[str], N] = float) -> N:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def text(env: Mapping[str, str], name: str, default: str = "") -> str:
    """An optional setting: ``default`` when unset or blank."""
    return env.get(name, "").strip() or default


def threshold_numbers(env: Mapping[str, str]) -> tuple[float, float]:
    """MEDIUM_ and HIGH_RISK_THRESHOLD as numbers (the stack's defaults where unset), unchecked:
    a settings class checks them with :func:`check_thresholds`."""
    return (
        number(env, MEDIUM_ENV, DEFAULT_MEDIUM_RISK_THRESHOLD),
        number(env, HIGH_ENV, DEFAULT_HIGH_RISK_THRESHOLD),
    )


def check_thresholds(medium: float, high: float) -> None:
    """The contract's rule (0 <= medium <= high <= 1), as a ConfigError naming the variables."""
    try:
        validate_thresholds(medium, high, names=(MEDIUM_ENV, HIGH_ENV))
    except ThresholdError as exc:
        raise ConfigError(str(exc)) from exc


def risk_thresholds(env: Mapping[str, str]) -> RiskThresholds:
    medium, high = threshold_numbers(env)
    check_thresholds(medium, high)
    return RiskThresholds(medium, high)
