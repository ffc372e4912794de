"""The names table: every column the model, the profiles table and the endpoint use."""

from __future__ import annotations

NUMERICAL: tuple[str, ...] = (
    "Account Length",
    "VMail Message",
    "Day Mins",
    "Day Calls",
    "Day Charge",
    "Eve Mins",
    "Eve Calls",
    "Eve Charge",
    "Night Mins",
    "Night Calls",
    "Night Charge",
    "Intl Mins",
    "Intl Calls",
    "Intl Charge",
    "CustServ Calls",
)
CATEGORICAL: tuple[str, ...] = ("State", "Location", "plan", "limit")
TEXT = "text"
LABEL = "y"
CUSTOMER_ID = "customer_id"
CALL_ID = "call_id"

PROFILE_FEATURES: tuple[str, ...] = NUMERICAL + CATEGORICAL
MODEL_FEATURES: tuple[str, ...] = (*PROFILE_FEATURES, TEXT)
