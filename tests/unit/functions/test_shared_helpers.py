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


def test_text_and_thresholds_from_the_environment():
    from churn_lambda.env import check_thresholds, risk_thresholds, text, threshold_numbers

    assert text({"A": "  "}, "A", "dflt") == "dflt" and text({"A": " v "}, "A") == "v"
    assert threshold_numbers({"MEDIUM_RISK_THRESHOLD": "0.2", "HIGH_RISK_THRESHOLD": "0.9"}) == (0.2, 0.9)
    thresholds = risk_thresholds({"MEDIUM_RISK_THRESHOLD": "0.2", "HIGH_RISK_THRESHOLD": "0.9"})
    assert (thresholds.medium, thresholds.high) == (0.2, 0.9)
    with pytest.raises(ConfigError, match="MEDIUM_RISK_THRESHOLD"):
        risk_thresholds({"MEDIUM_RISK_THRESHOLD": "0.7", "HIGH_RISK_THRESHOLD": "0.6"})
    with pytest.raises(ConfigError, match="HIGH_RISK_THRESHOLD"):
        check_thresholds(0.1, 1.5)


def _runtime():
    import boto3
    from botocore.stub import Stubber

    client = boto3.client(
        "sagemaker-runtime", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def test_json_endpoint_without_a_mapping_raises_the_shared_errors_after_its_retries():
    from churn_lambda.endpoint import EndpointRejected, EndpointUnavailable, JsonEndpoint

    client, stubber = _runtime()
    sleeps: list[float] = []
    endpoint = JsonEndpoint(
        client, "churn-risk", Backoff(attempts=2, base_s=0.0, cap_s=0.0), sleep=sleeps.append
    )
    for _ in range(2):
        stubber.add_client_error("invoke_endpoint", "ThrottlingException", http_status_code=429)
    stubber.add_client_error(
        "invoke_endpoint",
        "ModelError",
        http_status_code=424,
        response_meta={"OriginalStatusCode": 400},
        modeled_fields={"OriginalStatusCode": 400, "OriginalMessage": "bad record"},
    )
    with stubber:
        with pytest.raises(EndpointUnavailable, match="after 2 attempts"):
            endpoint.invoke({"text": "x"})
        with pytest.raises(EndpointRejected) as rejected:
            endpoint.invoke({"text": "x"})
    assert rejected.value.status == 400 and len(sleeps) == 1


def test_json_endpoint_maps_onto_a_subclass_s_errors():
    from churn_lambda.endpoint import JsonEndpoint

    class Down(RuntimeError):
        pass

    class Scorer(JsonEndpoint):
        default_backoff = Backoff(attempts=1, base_s=0.0, cap_s=0.0)
        unavailable_error = Down

    client, stubber = _runtime()
    stubber.add_client_error("invoke_endpoint", "ServiceUnavailable", http_status_code=503)
    with stubber, pytest.raises(Down, match="after 1 attempts") as down:
        Scorer(client, "churn-risk").invoke({"text": "x"})
    assert down.value.__cause__ is not None


def test_clients_are_cached_until_reset(monkeypatch):
    from botocore.config import Config
    from churn_lambda.clients import Clients

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients = Clients(endpoint=Config(read_timeout=3), standard=Config(read_timeout=7))
    runtime, sns = clients.client("sagemaker-runtime"), clients.client("sns")
    assert clients.client("sagemaker-runtime") is runtime and clients.table("t") is clients.table("t")
    assert (runtime.meta.config.read_timeout, sns.meta.config.read_timeout) == (3, 7)
    clients.reset()
    assert clients.client("sagemaker-runtime") is not runtime
