"""DriftMonitorFunction (daily schedule): the last day's scored calls against the serving model's
baseline; publishes the drift metrics (EMF, namespace ChurnAlerts, service drift-monitor).

Reads: the baseline (S3, beside the model archive), the calls table (one Scan a day, filtered on
``scored_at``; paged) and, for text lengths, up to ``TEXT_SAMPLE`` transcripts rebuilt with the
shared renderer. Nothing is written but metrics; no transcript text is logged.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError
from churn_contracts.drift import Baseline, Window, drift
from churn_contracts.transcribe import (
    DEFAULT_CUSTOMER_CHANNEL,
    DEFAULT_CUSTOMER_SPEAKER,
    TranscriptError,
    parse_transcript,
)

SERVICE = "drift-monitor"
NAMESPACE = "ChurnAlerts"
logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"})
SCORED = ("SCORED", "ALERTED")


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def split_s3(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://") or "/" not in uri[5:]:
        raise ValueError(f"not an S3 location: {uri!r}")
    bucket, key = uri[5:].split("/", 1)
    return bucket, key


def load_baseline(s3: Any, uri: str) -> Baseline:
    bucket, key = split_s3(uri)
    return Baseline.from_json(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


def scored_since(dynamodb: Any, table: str, since: datetime, until: datetime) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": "#s IN (:a, :b) AND scored_at BETWEEN :from AND :to",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {
            ":a": {"S": SCORED[0]},
            ":b": {"S": SCORED[1]},
            ":from": {"S": since.isoformat().replace("+00:00", "Z")},
            ":to": {"S": until.isoformat().replace("+00:00", "Z")},
        },
        "ProjectionExpression": "probability, missing_features, transcript_uri",
    }
    while True:
        page = dynamodb.scan(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def text_length(s3: Any, uri: str, channel: str, speaker: str) -> int | None:
    try:
        bucket, key = split_s3(uri)
        document = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        return len(
            parse_transcript(document, customer_channel=channel, customer_speaker=speaker).customer_text
        )
    except (ClientError, ValueError, TranscriptError):
        return None  # expired or unreadable: the sample is a little smaller


def collect(
    items: Iterator[Mapping[str, Any]], s3: Any, sample: int, rng: random.Random, channel: str, speaker: str
) -> Window:
    window = Window()
    transcripts: list[str] = []
    for item in items:
        if "probability" not in item:
            continue
        missing = [m["S"] for m in item.get("missing_features", {}).get("L", [])]
        window.add(float(item["probability"]["N"]), missing)
        uri = item.get("transcript_uri", {}).get("S")
        if uri:  # reservoir sample: every call equally likely, memory bounded
            seen = len(window.scores)
            if len(transcripts) < sample:
                transcripts.append(uri)
            elif (j := rng.randrange(seen)) < sample:
                transcripts[j] = uri
    for uri in transcripts:
        length = text_length(s3, uri, channel, speaker)
        if length is not None:
            window.text_lengths.append(length)
    return window


def run(env: Mapping[str, str], now: datetime, dynamodb: Any, s3: Any) -> dict[str, float]:
    baseline = load_baseline(s3, env["DRIFT_BASELINE_URI"])
    hours = int(env.get("DRIFT_WINDOW_HOURS", "24"))
    window = collect(
        scored_since(dynamodb, env["CALLS_TABLE"], now - timedelta(hours=hours), now),
        s3,
        int(env.get("TEXT_SAMPLE", "300")),
        random.Random(now.date().toordinal()),  # the same day samples the same calls on a retry
        env.get("CUSTOMER_CHANNEL", DEFAULT_CUSTOMER_CHANNEL),
        env.get("CUSTOMER_SPEAKER", DEFAULT_CUSTOMER_SPEAKER),
    )
    found = drift(baseline, window)
    return {"Calls": float(len(window.scores)), **found}


def publish(found: Mapping[str, float]) -> None:
    """Each metric by name (the template's dashboard and alarms read these names)."""
    none = MetricUnit.NoUnit
    metrics.add_metric(name="DriftCalls", unit=MetricUnit.Count, value=found["Calls"])
    if "ScorePSI" in found:
        metrics.add_metric(name="ScorePSI", unit=none, value=found["ScorePSI"])
        metrics.add_metric(name="MissingRateShift", unit=none, value=found["MissingRateShift"])
        metrics.add_metric(name="NoCustomerSpeechRate", unit=none, value=found["NoCustomerSpeechRate"])
        metrics.add_metric(name="NoCustomerSpeechShift", unit=none, value=found["NoCustomerSpeechShift"])
    if "TextLengthPSI" in found:
        metrics.add_metric(name="TextLengthPSI", unit=none, value=found["TextLengthPSI"])


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The schedule's own time: a retried run measures the same window.
    when = event.get("time")
    now = datetime.fromisoformat(when.replace("Z", "+00:00")) if isinstance(when, str) else datetime.now(UTC)
    found = run(os.environ, now, client("dynamodb"), client("s3"))
    publish(found)
    logger.info("Drift", extra={k: round(v, 4) for k, v in found.items()})
    return found
