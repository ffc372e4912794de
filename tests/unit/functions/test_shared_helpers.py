"""churn_lambda: settings from the environment and bounded backoff, shared by both functions."""

import pytest
from churn_lambda.env import ConfigError, number, parse_bool, required
from churn_lambda.retry import Backoff, call_with_backoff


@pytest.mark.parametrize(("raw", "expected"), [("true", True), (" ON ", True), ("0", False), ("no", False)])
def test_parse_bool(raw, expected):
    assert parse_bool(raw) is expected


def test_parse_bool_defaults_and_rejects_nonsense():
    assert parse_bool(None, True) is True and parse_bool("  ", False) is False
    with pytest.raises(ConfigError, match="not a boolean"):
        parse_bool("maybe")


def test_required_and_number():
    env = {"A": " x ", "N": "0.5", "I": "7", "BAD": "seven"}
    assert required(env, "A") == "x"
    with pytest.raises(ConfigError, match="MISSING is required"):
        required(env, "MISSING")
    assert number(env, "N", 1.0) == 0.5
    assert number(env, "I", 1, int) == 7
    assert number(env, "UNSET", 3, int) == 3
    with pytest.raises(ConfigError, match="BAD must be a number"):
        number(env, "BAD", 1)


def test_backoff_retries_only_what_is_retryable_and_stops_at_the_bound():
    calls, sleeps, retried = [], [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise TimeoutError("slow")
        return "ok"

    result = call_with_backoff(
        flaky,
        retryable=lambda e: isinstance(e, TimeoutError),
        backoff=Backoff(attempts=5, base_s=0.1, cap_s=1.0),
        sleep=sleeps.append,
        on_retry=lambda e, n: retried.append(n),
    )
    assert result == "ok" and len(calls) == 3 and retried == [1, 2]
    assert all(0.0 <= s <= 1.0 for s in sleeps)

    with pytest.raises(TimeoutError):
        call_with_backoff(
            lambda: (_ for _ in ()).throw(TimeoutError()),
            retryable=lambda e: True,
            backoff=Backoff(attempts=2),
            sleep=sleeps.append,
        )
    with pytest.raises(KeyError):
        call_with_backoff(lambda: {}["x"], retryable=lambda e: False, backoff=Backoff(), sleep=sleeps.append)


def test_backoff_delay_is_capped():
    backoff = Backoff(attempts=10, base_s=1.0, cap_s=2.0)
    assert all(0.0 <= backoff.delay(n) <= 2.0 for n in range(10))
