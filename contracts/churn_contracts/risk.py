"""The risk rule: a churn probability and two thresholds give a call's risk level.

The one source of the thresholds' defaults and of their one validation. The score function's
settings, the local stack's parameter check and the template's tests all use it, so a bad pair
fails the same way everywhere (and before any call is scored).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# The reference model's suggested thresholds (metrics.json "thresholds" on 5,000 held-out calls):
# high = lowest threshold with precision >= 0.6, medium = highest with recall >= 0.8.
# template.yaml's defaults and the READMEs quote these; tests/unit/test_risk_threshold_copies.py fails
# when a copy drifts.
DEFAULT_MEDIUM_RISK_THRESHOLD = 0.11
DEFAULT_HIGH_RISK_THRESHOLD = 0.46

# The names the thresholds go by: template parameters and the score function's environment.
MEDIUM_PARAMETER = "MediumRiskThreshold"
HIGH_PARAMETER = "HighRiskThreshold"
MEDIUM_ENV = "MEDIUM_RISK_THRESHOLD"
HIGH_ENV = "HIGH_RISK_THRESHOLD"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class ThresholdError(ValueError):
    """The two thresholds do not satisfy 0 <= medium <= high <= 1."""


def validate_thresholds(
    medium: float, high: float, names: tuple[str, str] = ("medium", "high")
) -> tuple[float, float]:
    """Check the rule and return the pair as floats; ``names`` words the error for the caller.

    0 and 1 are allowed: a high threshold of 0 alerts on every call (the pipeline benchmark and
    tests use that), and 1 alerts only on certainty.
    """
    medium_name, high_name = names
    values = []
    for name, value in ((medium_name, medium), (high_name, high)):
        if isinstance(value, bool):
            raise ThresholdError(f"{name} must be a number, got {value!r}")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ThresholdError(f"{name} must be a number, got {value!r}") from exc
        if not math.isfinite(number) or not 0.0 <= number <= 1.0:
            raise ThresholdError(f"{name} must be between 0 and 1, got {value!r}")
        values.append(number)
    low, top = values
    if low > top:
        raise ThresholdError(f"{medium_name} ({low:g}) must be at most {high_name} ({top:g})")
    return low, top


@dataclass(frozen=True)
class RiskThresholds:
    medium: float = DEFAULT_MEDIUM_RISK_THRESHOLD
    high: float = DEFAULT_HIGH_RISK_THRESHOLD

    def __post_init__(self) -> None:
        medium, high = validate_thresholds(self.medium, self.high)
        object.__setattr__(self, "medium", medium)
        object.__setattr__(self, "high", high)

    def level(self, probability: float) -> RiskLevel:
        if probability >= self.high:
            return RiskLevel.HIGH
        if probability >= self.medium:
            return RiskLevel.MEDIUM
        return RiskLevel.LOW


def risk_level(probability: float, medium_threshold: float, high_threshold: float) -> RiskLevel:
    return RiskThresholds(medium_threshold, high_threshold).level(probability)
