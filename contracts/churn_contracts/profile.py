"""Customer profile: a DynamoDB item <-> a feature record.

Item attribute names are exactly the feature names; the key is ``customer_id``.
DynamoDB numbers arrive as :class:`~decimal.Decimal`; the model wants floats.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .features import CATEGORICAL, CUSTOMER_ID, NUMERICAL, categorical_value


def item_to_record(
    item: Mapping[str, Any],
    numerical: tuple[str, ...] = NUMERICAL,
    categorical: tuple[str, ...] = CATEGORICAL,
) -> dict[str, Any]:
    """Feature values from a profile item; an absent attribute is a missing value (``None``)."""
    record: dict[str, Any] = {}
    for name in numerical:
        value = item.get(name)
        record[name] = (
            float(value) if isinstance(value, (Decimal, int, float)) and not isinstance(value, bool) else None
        )
    for name in categorical:
        try:
            record[name] = categorical_value(item.get(name))  # as training and the endpoint coerce it
        except TypeError:  # a set or map attribute is no category
            record[name] = None
    return record


def record_to_item(
    customer_id: str,
    record: Mapping[str, Any],
    numerical: tuple[str, ...] = NUMERICAL,
    categorical: tuple[str, ...] = CATEGORICAL,
) -> dict[str, Any]:
    """A profile item for DynamoDB; missing values are left out rather than stored as null."""
    if not customer_id:
        raise ValueError("customer_id is required")
    item: dict[str, Any] = {CUSTOMER_ID: str(customer_id)}
    for name in numerical:
        value = record.get(name)
        if value is None or value == "":
            continue
        number = float(value)
        if not math.isfinite(number):
            continue
        item[name] = Decimal(str(number))
    for name in categorical:
        value = categorical_value(record.get(name))
        if value is not None:
            item[name] = value
    return item
