"""The calls table: one item per call, keyed by the transcription job name.

The start function creates the item; every later step updates it, so each
call's fate is visible in one place.
"""

from __future__ import annotations

from enum import StrEnum

from churn_contracts.risk import RiskLevel, risk_level

CALLS_KEY = "job_name"


class CallStatus(StrEnum):
    TRANSCRIBING = "TRANSCRIBING"
    TRANSCRIPTION_FAILED = "TRANSCRIPTION_FAILED"
    SCORED = "SCORED"
    ALERTED = "ALERTED"
    SCORING_FAILED = "SCORING_FAILED"


# The risk rule lives in churn_contracts.risk; both names stay importable from here.
__all__ = ["CALLS_KEY", "CallStatus", "RiskLevel", "risk_level"]
