from decimal import Decimal

import pytest
from churn_contracts.calls import RiskLevel, risk_level
from churn_contracts.features import CATEGORICAL, NUMERICAL
from churn_contracts.profile import item_to_record, record_to_item


def test_item_to_record_converts_decimals_and_marks_absent_as_missing():
    item = {"customer_id": "c-1", "Day Mins": Decimal("181.5"), "plan": "B", "Unrelated": "x"}
    record = item_to_record(item)
    assert record["Day Mins"] == 181.5 and isinstance(record["Day Mins"], float)
    assert record["plan"] == "B"
    assert record["Eve Mins"] is None and record["State"] is None
    assert set(record) == set(NUMERICAL) | set(CATEGORICAL)


def test_record_to_item_round_trip_drops_missing_values():
    record = {"Day Mins": 181.5, "Eve Mins": None, "CustServ Calls": 3, "plan": "B", "State": ""}
    item = record_to_item("c-1", record)
    assert item == {
        "customer_id": "c-1",
        "Day Mins": Decimal("181.5"),
        "CustServ Calls": Decimal("3.0"),
        "plan": "B",
    }
    back = item_to_record(item)
    assert back["Day Mins"] == 181.5 and back["CustServ Calls"] == 3.0 and back["Eve Mins"] is None


def test_record_to_item_needs_a_customer_and_skips_nan():
    with pytest.raises(ValueError):
        record_to_item("", {})
    assert "Day Mins" not in record_to_item("c", {"Day Mins": float("nan")})


@pytest.mark.parametrize(
    ("p", "level"),
    [(0.0, RiskLevel.LOW), (0.3, RiskLevel.MEDIUM), (0.69, RiskLevel.MEDIUM), (0.7, RiskLevel.HIGH)],
)
def test_risk_levels(p, level):
    assert risk_level(p, 0.3, 0.7) is level


def test_thresholds_must_be_ordered():
    with pytest.raises(ValueError):
        risk_level(0.5, 0.8, 0.2)
