"""Redrive a dead-letter queue after a fix, and report what was sent (boto3 only).

    python -m churn_ops.redrive --stack churn-alerts --output ScoreCallFailuresQueueUrl [--dry-run]
    python -m churn_ops.redrive --queue <queue URL or name> [--function <name>] [--to-queue <URL>]

What a failed message holds decides how it is sent again:

- **Lambda on-failure destination** (an invocation record: ``requestContext`` + ``requestPayload``):
  the function named in ``requestContext.functionArn`` is invoked again, asynchronously, with the
  original ``requestPayload``, as the original asynchronous invocation (S3 notification) was.
- **EventBridge rule DLQ** (the original event, with ``RULE_ARN``/``TARGET_ARN`` message
  attributes): the rule's target, a Lambda function, is invoked asynchronously with the original
  event, which is what the rule would have delivered. Re-putting the event on the bus is not
  possible: PutEvents refuses ``aws.*`` sources such as ``aws.transcribe``.
- **Lambda DLQ** (``DeadLetterConfig``: the bare event, ``ErrorCode`` attribute): invoked again on
  ``--function``, which the message itself does not name.
- ``--to-queue URL``: every message is moved as it is to that queue instead (for queue consumers).

A message is deleted only after it was sent; one that fails stays in the queue. The report names
message ids, kinds and targets, never the payloads (they carry customer ids and keys).

Sends are paced (``--rate``, default 5 per second): a redrive of a day's backlog must not become
the burst that filled the queue (Transcribe starts 25 jobs/s, the endpoint has its own capacity).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from churn_ops.stack import AWS_SETUP_ERRORS, StackError, aws_error_line, stack_outputs

RECEIVE_BATCH = 10
DEFAULT_RATE = 5.0  # sends per second
# Long enough to send a batch; a message not deleted reappears after it.
VISIBILITY_TIMEOUT_S = 60


class RedriveError(RuntimeError):
    """The queue cannot be redriven as asked."""


@dataclass(frozen=True)
class Resend:
    """What one failed message becomes: an async invocation, or a message on another queue."""

    kind: str  # "destination-record", "rule-dlq", "lambda-dlq", "move"
    target: str  # function name/ARN or queue URL
    payload: str


@dataclass
class Outcome:
    message_id: str
    kind: str
    target: str
    status: str  # "sent", "would-send", "failed", "skipped"
    reason: str = ""


class Pacer:
    """At most ``rate`` sends per second (0: unpaced)."""

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = None

    def wait(self) -> None:
        now = self._clock()
        if self._next is not None and now < self._next:
            self._sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class Report:
    queue_url: str
    dry_run: bool
    outcomes: list[Outcome] = field(default_factory=list)
    rate: float = DEFAULT_RATE
    elapsed_s: float = 0.0

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "queue_url": self.queue_url,
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "rate_per_s": self.rate,
            "elapsed_s": round(self.elapsed_s, 2),
            "messages": [asdict(outcome) for outcome in self.outcomes],
        }


def _attribute(message: dict[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return value.get("StringValue") if value else None


def _function_name(arn: str) -> str:
    # A destination record names the version invoked (":$LATEST"); redrive the function itself.
    parts = arn.split(":")
    if len(parts) == 8 and parts[2] == "lambda" and parts[5] == "function":
        return ":".join(parts[:7])
    return arn


def classify(message: dict[str, Any], *, function: str | None = None, to_queue: str | None = None) -> Resend:
    """Decide how one failed message is sent again; raises RedriveError when it cannot be."""
    body = message.get("Body", "")
    if to_queue:
        return Resend("move", to_queue, body)
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if isinstance(document, dict) and "requestContext" in document and "requestPayload" in document:
        arn = document["requestContext"].get("functionArn")
        if not arn:
            raise RedriveError("invocation record without requestContext.functionArn")
        return Resend("destination-record", _function_name(arn), json.dumps(document["requestPayload"]))
    target_arn = _attribute(message, "TARGET_ARN")
    if target_arn:
        if ":lambda:" not in target_arn:
            raise RedriveError(f"rule target {target_arn} is not a Lambda function; redrive it by hand")
        return Resend("rule-dlq", _function_name(target_arn), body)
    if function:
        return Resend("lambda-dlq", function, body)
    raise RedriveError("not an invocation record nor a rule DLQ message: pass --function or --to-queue")


def receive(sqs: Any, queue_url: str, limit: int, wait_s: int = 1) -> Iterator[dict[str, Any]]:
    """Messages until the queue looks empty or ``limit`` were received."""
    received = 0
    while received < limit:
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=min(RECEIVE_BATCH, limit - received),
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
            VisibilityTimeout=VISIBILITY_TIMEOUT_S,
            WaitTimeSeconds=wait_s,
        ).get("Messages", [])
        if not batch:
            return
        for message in batch:
            received += 1
            yield message


def send(resend: Resend, *, lambda_client: Any, sqs: Any) -> None:
    if resend.kind == "move":
        sqs.send_message(QueueUrl=resend.target, MessageBody=resend.payload)
        return
    response = lambda_client.invoke(
        FunctionName=resend.target, InvocationType="Event", Payload=resend.payload
    )
    if response.get("StatusCode") != 202:
        raise RedriveError(f"Invoke answered {response.get('StatusCode')}, not 202")


def redrive(
    queue_url: str,
    *,
    sqs: Any,
    lambda_client: Any,
    function: str | None = None,
    to_queue: str | None = None,
    dry_run: bool = False,
    limit: int = 1000,
    wait_s: int = 1,
    rate: float = DEFAULT_RATE,
    pacer: Pacer | None = None,
) -> Report:
    report = Report(queue_url=queue_url, dry_run=dry_run, rate=rate)
    pacer = pacer or Pacer(rate)
    started = time.monotonic()
    looked_at: list[str] = []
    try:
        for message in receive(sqs, queue_url, limit, wait_s):
            _redrive_one(
                message,
                report,
                looked_at,
                sqs=sqs,
                lambda_client=lambda_client,
                function=function,
                to_queue=to_queue,
                dry_run=dry_run,
                pacer=pacer,
            )
    finally:
        report.elapsed_s = time.monotonic() - started
        # A dry run keeps what it read invisible while it scans (so nothing is read twice), then
        # puts it all straight back rather than hiding it for the visibility timeout.
        for receipt in looked_at:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return report


def _redrive_one(
    message: dict[str, Any],
    report: Report,
    looked_at: list[str],
    *,
    sqs: Any,
    lambda_client: Any,
    function: str | None,
    to_queue: str | None,
    dry_run: bool,
    pacer: Pacer,
) -> None:
    queue_url = report.queue_url
    message_id = message["MessageId"]
    try:
        resend = classify(message, function=function, to_queue=to_queue)
    except RedriveError as exc:
        report.outcomes.append(Outcome(message_id, "unknown", "", "skipped", str(exc)))
        if dry_run:
            looked_at.append(message["ReceiptHandle"])
        return
    if dry_run:
        looked_at.append(message["ReceiptHandle"])
        report.outcomes.append(Outcome(message_id, resend.kind, resend.target, "would-send"))
        return
    pacer.wait()
    try:
        send(resend, lambda_client=lambda_client, sqs=sqs)
    except (ClientError, RedriveError) as exc:
        report.outcomes.append(Outcome(message_id, resend.kind, resend.target, "failed", str(exc)))
        return
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    report.outcomes.append(Outcome(message_id, resend.kind, resend.target, "sent"))


def resolve_queue_url(sqs: Any, queue: str) -> str:
    if queue.startswith("https://") or queue.startswith("http://"):
        return queue
    try:
        return sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    except ClientError as exc:
        raise RedriveError(f"queue {queue!r} not found ({exc.response['Error']['Code']})") from exc


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m churn_ops.redrive", description=__doc__.split("\n\n")[0])
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--queue", help="the dead-letter queue: URL or name")
    source.add_argument("--stack", help="read the queue URL from this stack's outputs (with --output)")
    p.add_argument(
        "--output",
        help="the stack output holding the queue URL: ScoreCallFailuresQueueUrl, StartTranscriptionFailuresQueueUrl, "
        "RecordingEventsDLQUrl or TranscriptionEventsDLQUrl",
    )
    p.add_argument("--function", help="function to invoke for a Lambda DLQ (its messages do not name it)")
    p.add_argument("--to-queue", help="move every message to this queue URL instead of invoking")
    p.add_argument("--limit", type=int, default=1000, help="at most this many messages (default 1000)")
    p.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"at most this many sends per second (default {DEFAULT_RATE:g}; 0: unpaced)",
    )
    p.add_argument("--region", default=None)
    p.add_argument(
        "--dry-run", action="store_true", help="report what would be sent; send and delete nothing"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        session = boto3.Session(region_name=args.region)
        sqs = session.client("sqs")
        if args.stack:
            if not args.output:
                raise RedriveError("--stack needs --output (the stack output holding the queue URL)")
            outputs = stack_outputs(session.client("cloudformation"), args.stack)
            if args.output not in outputs:
                raise RedriveError(
                    f"stack {args.stack} has no output {args.output}; it has: {', '.join(sorted(outputs))}"
                )
            queue_url = resolve_queue_url(sqs, outputs[args.output])
        else:
            queue_url = resolve_queue_url(sqs, args.queue)
        report = redrive(
            queue_url,
            sqs=sqs,
            lambda_client=session.client("lambda"),
            function=args.function,
            to_queue=args.to_queue,
            dry_run=args.dry_run,
            limit=args.limit,
            rate=args.rate,
        )
    except (RedriveError, StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AWS_SETUP_ERRORS as exc:
        print(f"error: {aws_error_line(exc)}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2))
    counts = report.counts()
    return 1 if counts.get("failed") or counts.get("skipped") else 0


if __name__ == "__main__":
    sys.exit(main())
