"""The calls table: one item per call, keyed by the transcription job name.

The start function creates the item; every later step updates it, so each
call's fate is visible in one place.
"""

from __future__ import annotations

from enum import StrEnum

CALLS_KEY = "job_name"


class CallStatus(StrEnum):
    TRANSCRIBING = "TRANSCRIBING"
    TRANSCRIPTION_FAILED = "TRANSCRIPTION_FAILED"
    SCORED = "SCORED"
    ALERTED = "ALERTED"
    SCORING_FAILED = "SCORING_FAILED"


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


def risk_level(probability: float, medium_threshold: float, high_threshold: float) -> RiskLevel:
    if not 0.0 <= medium_threshold <= high_threshold <= 1.0:
        raise ValueError("thresholds must satisfy 0 <= medium <= high <= 1")
    if probability >= high_threshold:
        return RiskLevel.HIGH
    if probability >= medium_threshold:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW
