"""The drift monitor: its metrics move when the score distribution (or the inputs) move, and stay
near zero on a batch like the baseline's. Through the handler, on moto's DynamoDB and S3."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import boto3
import pytest
from churn_contracts.conversation import Role, Turn
from churn_contracts.drift import BINS, build_baseline, fractions, psi, quantile_edges
from churn_contracts.transcribe import build_transcript
from moto import mock_aws

from tests.unit.outcomes.conftest import REGION, table_definition

FEATURES = ("Day Mins", "plan", "text")
NOW = datetime(2026, 12, 6, 5, 30, tzinfo=UTC)
BUCKET = "churn-test-data"


def scores(n: int, rng: random.Random, shift: float = 0.0) -> list[float]:
    return [min(0.999, max(0.001, rng.betavariate(2, 8) + shift)) for _ in range(n)]


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() -> None:
    rng = random.Random(0)
    base = scores(5000, rng)
    edges = quantile_edges(base)
    expected = fractions(base, edges)
    assert len(expected) == BINS and abs(sum(expected) - 1) < 1e-9
    same = psi(expected, fractions(scores(2000, rng), edges))
    small = psi(expected, fractions(scores(2000, rng, 0.03), edges))
    large = psi(expected, fractions(scores(2000, rng, 0.15), edges))
    assert same < 0.05 < small < large and large > 0.25
    assert psi(expected, expected) == 0


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition("CallsTable", "calls"))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        rng = random.Random(1)
        n = 2000
        texts = [rng.randint(200, 800) for _ in range(n)]
        missing = [["Day Mins"] if rng.random() < 0.03 else [] for _ in range(n)]
        baseline = build_baseline("m-1", scores(n, rng), texts, missing, FEATURES)
        s3.put_object(
            Bucket=BUCKET, Key="models/sha256-x/drift-baseline.json", Body=json.dumps(baseline.to_json())
        )
        from drift_monitor import handler

        handler.client.cache_clear()
        env = {
            "CALLS_TABLE": "calls",
            "DRIFT_BASELINE_URI": f"s3://{BUCKET}/models/sha256-x/drift-baseline.json",
        }
        yield {
            "dynamodb": boto3.resource("dynamodb", region_name=REGION).Table("calls"),
            "s3": s3,
            "env": env,
        }
        handler.client.cache_clear()


def add_day(
    stack: Any, n: int, shift: float = 0.0, missing_rate: float = 0.03, words: int = 60, seed: int = 2
) -> None:
    rng = random.Random(seed)
    for i, score in enumerate(scores(n, rng, shift)):
        job = f"job-{seed}-{i}"
        key = f"transcripts/{job}.json"
        said = " ".join(["word"] * rng.randint(words // 2, words * 2))
        stack["s3"].put_object(
            Bucket=BUCKET,
            Key=key,
            Body=json.dumps(build_transcript([Turn(Role.CUSTOMER, said, 0.0)], mode="channels")),
        )
        stack["dynamodb"].put_item(
            Item={
                "job_name": job,
                "status": "SCORED",
                "scored_at": (NOW - timedelta(hours=rng.uniform(0.1, 23))).isoformat().replace("+00:00", "Z"),
                "probability": Decimal(str(round(score, 6))),
                "missing_features": ["Day Mins"] if rng.random() < missing_rate else [],
                "transcript_uri": f"s3://{BUCKET}/{key}",
            }
        )
    # An older call and a failed one: outside the window or unscored, never counted.
    stack["dynamodb"].put_item(
        Item={
            "job_name": "old",
            "status": "SCORED",
            "scored_at": "2026-11-01T00:00:00Z",
            "probability": Decimal("0.9"),
        }
    )
    stack["dynamodb"].put_item(Item={"job_name": "failed", "status": "FAILED", "scored_at": NOW.isoformat()})


def run(stack: Any) -> dict[str, float]:
    from drift_monitor import handler

    return handler.run(stack["env"], NOW, boto3.client("dynamodb", region_name=REGION), stack["s3"])


def test_a_day_like_the_baseline_shows_no_drift(stack: Any) -> None:
    add_day(stack, 300, words=90)  # about 90 words of "word " = the baseline's 200-800 characters
    found = run(stack)
    assert found["Calls"] == 300
    assert found["ScorePSI"] < 0.1 and found["MissingRateShift"] < 0.05
    assert found["NoCustomerSpeechRate"] == 0


def test_a_shifted_day_moves_the_score_psi_past_the_alarm_and_inputs_move_theirs(stack: Any) -> None:
    add_day(stack, 300, shift=0.2, missing_rate=0.4, words=20)
    found = run(stack)
    assert found["ScorePSI"] > 0.25  # DriftAlarmPSI's default
    assert found["MissingRateShift"] > 0.3
    assert found["TextLengthPSI"] > 0.25


def test_the_handler_publishes_the_metrics_and_a_quiet_day_only_counts(
    stack: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from drift_monitor import handler

    for name, value in stack["env"].items():
        monkeypatch.setenv(name, value)

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "drift", 256, "r"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:drift"

    assert handler.lambda_handler({"time": NOW.isoformat()}, Context()) == {"Calls": 0.0}
    add_day(stack, 50, shift=0.3)
    found = handler.lambda_handler({"time": NOW.isoformat().replace("+00:00", "Z")}, Context())
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert emitted[-1]["ScorePSI"] == [pytest.approx(found["ScorePSI"])] and emitted[-1]["DriftCalls"] == [50]
    assert emitted[-1]["service"] == handler.SERVICE
