"""Calls through the running local stack: upload recordings, watch the call items, hear the alerts.

Shared by the demo, the end-to-end test and the pipeline benchmark, so all three drive the
pipeline the same way a user does: objects into the bucket, nothing else.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import wave
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from churn_contracts.calls import CallStatus
from churn_contracts.conversation import Role, Turn

from .runner import Outcome
from .spec import StackSpec
from .stack import LocalStack

TERMINAL = {
    CallStatus.SCORED.value,
    CallStatus.ALERTED.value,
    CallStatus.TRANSCRIPTION_FAILED.value,
    CallStatus.SCORING_FAILED.value,
}
SIDECAR_PREFIX = "local-transcripts/"


def _one(spec: StackSpec, kind: str, things: Sequence[Any], word: str) -> Any:
    matches = [t for t in things if word.lower() in t.logical_id.lower()]
    if len(matches) == 1:
        return matches[0]
    if len(things) == 1:
        return things[0]
    names = ", ".join(t.logical_id for t in things) or "none"
    raise LookupError(f"cannot tell which {kind} is the {word} one in the template ({names})")


@dataclass(frozen=True)
class Pipeline:
    """The template's resources the scenario touches, found by role."""

    bucket: str
    recordings_prefix: str
    calls_table: str
    profiles_table: str
    alert_topic_arn: str
    failure_queue_urls: tuple[str, ...]

    @classmethod
    def from_stack(cls, stack: LocalStack) -> Pipeline:
        spec = stack.spec
        assert spec is not None
        bucket = _one(spec, "bucket", spec.buckets, "recording")
        start = spec.functions.get("StartTranscriptionFunction")
        prefix = (start.environment.get("RECORDINGS_PREFIX") if start else None) or "recordings/"
        queues = {q.arn: q.url for q in spec.queues}
        failure_urls = tuple(
            sorted(
                {
                    queues[f.on_failure.arn]
                    for f in spec.functions.values()
                    if f.on_failure and f.on_failure.arn in queues
                }
            )
        )
        return cls(
            bucket=bucket.name,
            recordings_prefix=prefix,
            calls_table=_one(spec, "table", spec.tables, "call").name,
            profiles_table=_one(spec, "table", spec.tables, "profile").name,
            alert_topic_arn=_one(spec, "topic", spec.topics, "alert").arn,
            failure_queue_urls=failure_urls,
        )


def placeholder_wav(seconds: float = 0.5) -> bytes:
    """A short silent two-channel WAV: the audio of a call whose transcript comes from a sidecar."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(b"\x00\x00\x00\x00" * int(16_000 * seconds))
    return buffer.getvalue()


def turns_of(row: Mapping[str, Any]) -> list[Turn]:
    return [Turn(Role(t["role"]), t["text"], float(t.get("start_time", 0.0))) for t in row["turns"]]


def sidecar_document(turns: Iterable[Turn]) -> bytes:
    return json.dumps(
        {"turns": [{"role": t.role.value, "text": t.text, "start_time": t.start_time} for t in turns]}
    ).encode()


class RetentionTeam:
    """An SQS queue subscribed to the alert topic: what the retention team receives."""

    def __init__(self, stack: LocalStack, topic_arn: str, name: str = "retention-team") -> None:
        self._sqs = stack.client("sqs")
        self.queue_url = self._sqs.create_queue(QueueName=name)["QueueUrl"]
        queue_arn = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        stack.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
        self.received: list[tuple[float, dict[str, Any]]] = []

    def poll(self, wait_s: int = 0) -> list[dict[str, Any]]:
        """New SNS notifications (the envelope as delivered, Message parsed when JSON)."""
        new = []
        while True:
            response = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
            )
            messages = response.get("Messages", [])
            for message in messages:
                envelope = json.loads(message["Body"])
                with contextlib.suppress(TypeError, ValueError):
                    envelope["Message"] = json.loads(envelope["Message"])
                self.received.append((time.time(), envelope))
                new.append(envelope)
                self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            if not messages:
                return new
            wait_s = 0


@dataclass
class Upload:
    """One recording the scenario put in the bucket."""

    label: str
    key: str
    customer_id: str
    kind: str  # sidecar | asr | unsupported | duplicate
    uploaded_at: float
    reference_text: str = ""


@dataclass
class Observer:
    """Collects the runner's outcomes with their time, for stage timings and rejections."""

    outcomes: list[tuple[float, Outcome]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, outcome: Outcome) -> None:
        with self._lock:
            self.outcomes.append((time.time(), outcome))

    def of(self, function: str) -> list[tuple[float, Outcome]]:
        with self._lock:
            return [(t, o) for t, o in self.outcomes if o.function == function]

    def start_results(self) -> dict[str, tuple[float, Outcome]]:
        """The start function's last outcome for each recording key."""
        results = {}
        for finished, outcome in self.of("StartTranscriptionFunction"):
            key = _event_key(outcome.event)
            if key:
                results[key] = (finished, outcome)
        return results

    def score_results(self) -> dict[str, tuple[float, Outcome]]:
        """The score function's first outcome for each job name."""
        results: dict[str, tuple[float, Outcome]] = {}
        for finished, outcome in self.of("ScoreCallFunction"):
            detail = outcome.event.get("detail", {}) if isinstance(outcome.event, dict) else {}
            results.setdefault(str(detail.get("TranscriptionJobName")), (finished, outcome))
        return results


def _event_key(event: Any) -> str | None:
    if not isinstance(event, dict):
        return None
    if "detail" in event:
        return (event["detail"].get("object") or {}).get("key")
    records = event.get("Records") or []
    return records[0]["s3"]["object"]["key"] if records else None


def upload(
    s3: Any,
    pipeline: Pipeline,
    *,
    label: str,
    customer_id: str,
    call_id: str,
    kind: str,
    turns: Sequence[Turn] = (),
    audio: bytes | Path | None = None,
    extension: str = "wav",
) -> Upload:
    """Put a recording (and, for the fast path, its sidecar transcript first) into the bucket."""
    key = f"{pipeline.recordings_prefix}{customer_id}/{call_id}.{extension}"
    if kind == "sidecar":
        s3.put_object(Bucket=pipeline.bucket, Key=f"{SIDECAR_PREFIX}{key}.json", Body=sidecar_document(turns))
    body = (
        audio.read_bytes() if isinstance(audio, Path) else (audio if audio is not None else placeholder_wav())
    )
    uploaded_at = time.time()
    s3.put_object(Bucket=pipeline.bucket, Key=key, Body=body)
    reference = " ".join(t.text for t in turns if t.role is Role.CUSTOMER)
    return Upload(label, key, customer_id, kind, uploaded_at, reference)


def call_items(dynamodb: Any, table: str) -> dict[str, dict[str, Any]]:
    """Call items by recording key (plain values)."""
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    items: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = dynamodb.scan(**kwargs)
        for raw in page.get("Items", []):
            item = {k: deserializer.deserialize(v) for k, v in raw.items()}
            items[str(item.get("recording_key", item.get("job_name")))] = item
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def wait_for_calls(
    stack: LocalStack,
    pipeline: Pipeline,
    keys: Iterable[str],
    *,
    rejected: Callable[[str], bool],
    timeout_s: float,
    progress: Callable[[str], None] = lambda message: None,
    every_s: float = 2.0,
) -> dict[str, dict[str, Any]]:
    """Wait until every key has a call item in a final status, or its upload was rejected."""
    keys = set(keys)
    dynamodb = stack.client("dynamodb")
    deadline = time.monotonic() + timeout_s
    last_report = 0.0
    while True:
        items = call_items(dynamodb, pipeline.calls_table)
        pending = {k for k in keys if not rejected(k) and items.get(k, {}).get("status") not in TERMINAL}
        busy = stack.runner.busy if stack.runner else 0
        if not pending and busy == 0:
            return items
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"{len(pending)} call(s) did not finish within {timeout_s:.0f}s")
        if now - last_report >= every_s:
            states: dict[str, int] = {}
            for key in pending:
                status = items.get(key, {}).get("status", "waiting for the start function")
                states[status] = states.get(status, 0) + 1
            summary = ", ".join(f"{n} {s}" for s, n in sorted(states.items())) or "finishing"
            progress(f"{len(keys) - len(pending)}/{len(keys)} calls done ({summary})")
            last_report = now
        time.sleep(0.2)


def queue_depth(stack: LocalStack, queue_url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )
