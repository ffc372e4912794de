"""The names table: every column the model, the profiles table and the endpoint use."""

from __future__ import annotations

import math
import numbers
from decimal import Decimal

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
