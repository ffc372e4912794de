"""The names table: every column the model, the profiles table and the endpoint use, and how
people read them (display names, units and groups: ``DISPLAY``)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

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


def categorical_value(value: object) -> str | None:
    """The one canonical form of a categorical value: training, serving and profiles all use it.

    Missing (``None``, NaN, a blank string) is ``None``; a string is stripped; a boolean is
    ``"true"``/``"false"``; a number is its shortest decimal form, whatever its type, so JSON
    ``415``, ``415.0`` and DynamoDB's ``Decimal("415")`` are all ``"415"`` and ``1.5`` is ``"1.5"``.
    Anything else (lists, objects, infinities) raises :class:`TypeError`.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, (numbers.Real, Decimal)):
        number = float(value)
        if math.isnan(number):
            return None
        if not math.isfinite(number):
            raise TypeError(f"a categorical value must be finite, got {value!r}")
        if isinstance(value, Decimal) and value == value.to_integral_value():
            return str(int(value))
        return str(int(number)) if number.is_integer() else repr(number)
    raise TypeError(
        f"a categorical value must be a string, number, boolean or null, got {type(value).__name__}"
    )


# --- how people read the features (alerts, reports) ------------------------------------------------


@dataclass(frozen=True)
class Display:
    """A feature as an agent reads it: its group's plain name, the unit of its value, and how
    a reason about it is worded (``more``: a high value raises the risk; ``less``: a low one)."""

    group: str
    name: str  # the group's plain name, as a reason's subject ("daytime usage")
    unit: str = ""  # after the value ("minutes", "$"); "" for counts and categories
    noun: str = ""  # what the value counts ("calls"), for "5 calls, typical 1"
    phrase: str = ""  # the reason's words when the value is high ("Calls customer service often")
    low_phrase: str = ""  # ...and when it is low
    money: bool = False  # a monthly charge: part of the customer's monthly value


# One row per profile feature. Minutes and charge of one period are one fact ("daytime usage"),
# so a reason group names it once.
DISPLAY: dict[str, Display] = {
    "Account Length": Display("tenure", "time with us", "months", phrase="Long-standing customer", low_phrase="New customer"),
    "VMail Message": Display("voicemail", "voicemail use", noun="voicemail messages", phrase="Uses voicemail a lot", low_phrase="Hardly uses voicemail"),
    "Day Mins": Display("day", "daytime usage", "minutes", phrase="Heavy daytime use", low_phrase="Light daytime use"),
    "Day Calls": Display("day", "daytime usage", noun="daytime calls", phrase="Heavy daytime use", low_phrase="Light daytime use"),
    "Day Charge": Display("day", "daytime usage", "$", phrase="Heavy daytime use", low_phrase="Light daytime use", money=True),
    "Eve Mins": Display("evening", "evening usage", "minutes", phrase="Heavy evening use", low_phrase="Light evening use"),
    "Eve Calls": Display("evening", "evening usage", noun="evening calls", phrase="Heavy evening use", low_phrase="Light evening use"),
    "Eve Charge": Display("evening", "evening usage", "$", phrase="Heavy evening use", low_phrase="Light evening use", money=True),
    "Night Mins": Display("night", "night usage", "minutes", phrase="Heavy night use", low_phrase="Light night use"),
    "Night Calls": Display("night", "night usage", noun="night calls", phrase="Heavy night use", low_phrase="Light night use"),
    "Night Charge": Display("night", "night usage", "$", phrase="Heavy night use", low_phrase="Light night use", money=True),
    "Intl Mins": Display("international", "international usage", "minutes", phrase="Heavy international use", low_phrase="Light international use"),
    "Intl Calls": Display("international", "international usage", noun="international calls", phrase="Heavy international use", low_phrase="Light international use"),
    "Intl Charge": Display("international", "international usage", "$", phrase="Heavy international use", low_phrase="Light international use", money=True),
    "CustServ Calls": Display("service-calls", "calls to customer service", noun="calls", phrase="Calls customer service often", low_phrase="Rarely calls customer service"),
    "State": Display("state", "state"),
    "Location": Display("location", "location"),
    "plan": Display("plan", "plan"),
    "limit": Display("limit", "plan limit"),
}  # fmt: skip
MONTHLY_CHARGES: tuple[str, ...] = tuple(name for name, d in DISPLAY.items() if d.money)


def monthly_value(record: Mapping[str, Any] | None) -> float | None:
    """The customer's monthly bill: the sum of the profile's charges (None when it has none).

    The one formula for the alert's value and the weekly list's (score_call, batch_report).
    """
    if not record:
        return None
    known = [
        float(v)
        for v in (record.get(name) for name in MONTHLY_CHARGES)
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    return round(sum(known), 2) if known else None


def value_at_risk(monthly: float | None, probability: float) -> float | None:
    """A year of the monthly value times the probability of leaving."""
    return None if monthly is None else round(12 * monthly * probability, 2)


def display(name: str) -> Display:
    """The display row of a feature; an unknown name reads as itself."""
    return DISPLAY.get(name) or Display(name, name)
