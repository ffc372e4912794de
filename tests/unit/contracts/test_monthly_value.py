"""The customer's monthly value: one formula for the alert and the weekly list."""

from churn_contracts.features import MONTHLY_CHARGES, monthly_value, value_at_risk


def test_monthly_value_sums_the_profiles_charges_and_skips_what_is_not_a_number():
    record = {"Day Charge": 40.1, "Eve Charge": 15, "Night Charge": "7", "Intl Charge": True, "Day Mins": 200}
    assert set(MONTHLY_CHARGES) == {"Day Charge", "Eve Charge", "Night Charge", "Intl Charge"}
    assert monthly_value(record) == 55.1  # minutes are not money; a string or a bool is not a charge
    assert (
        monthly_value({"Day Mins": 200}) is None and monthly_value({}) is None and monthly_value(None) is None
    )


def test_value_at_risk_is_a_year_of_the_monthly_value_times_the_probability():
    assert value_at_risk(60.0, 0.9) == round(12 * 60 * 0.9, 2)
    assert value_at_risk(None, 0.9) is None
