"""The risk rule and its one validation (churn_contracts.risk)."""

from __future__ import annotations

import math

import pytest
from churn_contracts.calls import risk_level as risk_level_from_calls
from churn_contracts.risk import (
    DEFAULT_HIGH_RISK_THRESHOLD,
    DEFAULT_MEDIUM_RISK_THRESHOLD,
    RiskLevel,
    RiskThresholds,
    ThresholdError,
    risk_level,
    validate_thresholds,
)


def test_defaults_are_a_valid_pair():
    thresholds = RiskThresholds()
    assert (thresholds.medium, thresholds.high) == (
        DEFAULT_MEDIUM_RISK_THRESHOLD,
        DEFAULT_HIGH_RISK_THRESHOLD,
    )


@pytest.mark.parametrize(
    ("p", "level"),
    [
        (0.0, RiskLevel.LOW),
        (0.2999, RiskLevel.LOW),
        (0.3, RiskLevel.MEDIUM),
        (0.7, RiskLevel.HIGH),
        (1.0, RiskLevel.HIGH),
    ],
)
def test_levels_include_their_lower_bound(p, level):
    assert RiskThresholds(0.3, 0.7).level(p) is level
    assert risk_level(p, 0.3, 0.7) is level is risk_level_from_calls(p, 0.3, 0.7)


def test_edge_pairs_are_allowed():
    # High 0 alerts on every call (benchmarks and flow tests use it); equal thresholds mean no medium band.
    assert RiskThresholds(0, 0).level(0.0) is RiskLevel.HIGH
    assert RiskThresholds(0.5, 0.5).level(0.49) is RiskLevel.LOW
    assert RiskThresholds(1, 1).level(0.999) is RiskLevel.LOW


@pytest.mark.parametrize(
    ("medium", "high", "message"),
    [
        (0.8, 0.2, "medium (0.8) must be at most high (0.2)"),
        (-0.1, 0.5, "medium must be between 0 and 1"),
        (0.1, 1.5, "high must be between 0 and 1"),
        (math.nan, 0.5, "medium must be between 0 and 1"),
        (0.1, math.inf, "high must be between 0 and 1"),
        ("x", 0.5, "medium must be a number"),
        (True, 0.5, "medium must be a number"),
    ],
)
def test_bad_pairs_are_named(medium, high, message):
    with pytest.raises(ThresholdError, match=message.replace("(", r"\(").replace(")", r"\)")):
        RiskThresholds(medium, high)
    with pytest.raises(ValueError):
        risk_level(0.5, medium, high)


def test_the_error_speaks_the_callers_names():
    with pytest.raises(
        ThresholdError, match=r"MediumRiskThreshold \(0.5\) must be at most HighRiskThreshold \(0.4\)"
    ):
        validate_thresholds("0.5", "0.4", names=("MediumRiskThreshold", "HighRiskThreshold"))
    assert validate_thresholds("0.12", "0.42") == (0.12, 0.42)
