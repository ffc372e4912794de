"""Smoke deploy: one real call through a fresh stack in your account, each hop timed, then tear down.

    python -m churn_ops.publish_model model.tar.gz --bucket my-churn-artifacts  # prints the URL
    make deploy-smoke STACK=churn-smoke ARGS="--model-data-url \\
        s3://my-churn-artifacts/models/sha256-<digest>/model.tar.gz --recording call.wav"
    python -m churn_ops.smoke_deploy --stack churn-smoke --model-data-url s3://... --recording call.wav [--dry-run]

Not run in CI (it needs an AWS account and costs a few cents plus Transcribe's per-minute price).
Steps: preflight (credentials, the model archive, the account's API Gateway logging role, the
Lambda concurrency quota) -> ``sam build`` and ``sam deploy`` with ``EndpointMode=serverless`` and
both risk thresholds at 0 (so the call is alerted whatever the model says) -> a test SQS queue
subscribed to the alert topic -> upload the recording under ``recordings/<customer>/<call>.<ext>``
-> wait for the call item's TRANSCRIBING, scored and alerted times and for the alert on the queue
-> print the time of each hop -> delete the queue and tear the stack down (``churn_ops.teardown``;
``--keep`` leaves both). Exit 0 only when the alert arrived.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from churn_contracts.calls import parse_timestamp

from .stack import model_url_problem

REPO_ROOT = Path(__file__).resolve().parents[2]
SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
MEDIA = ("wav", "mp3", "mp4", "m4a", "flac", "ogg", "amr", "webm")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
MODEL_URL = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\.tar\.gz$")
# Every scored call is alerted: the smoke test checks the path, not the model's judgement.
SMOKE_PARAMETERS = {
    "EndpointMode": "serverless",
    "MediumRiskThreshold": "0",
    "HighRiskThreshold": "0",
    "AlertSuppressionDays": "0",
    "StartTranscriptionConcurrency": "0",
    "ScoreCallConcurrency": "0",
}
# (hop name, the moment it ends) in pipeline order; each hop starts where the previous ended.
HOPS = (
    ("upload -> call item (S3 event, EventBridge, start function)", "opened"),
    ("call item -> scored (Transcribe, score function, endpoint)", "scored"),
    ("scored -> alert published", "alerted"),
    ("published -> alert on the test queue (SNS)", "received"),
)


class SmokeError(RuntimeError):
    """A step failed: the message says which and why."""


@dataclass(frozen=True)
class SmokePlan:
    stack: str
    region: str | None
    model_data_url: str
    recording: Path
    customer_id: str
    call_id: str
    parameters: dict[str, str]
    keep: bool
    timeout_s: int

    @property
    def key(self) -> str:
        return f"recordings/{self.customer_id}/{self.call_id}{self.recording.suffix.lower()}"

    def build_command(self) -> list[str]:
        return [str(SAM), "build"]

    def deploy_command(self) -> list[str]:
        overrides = [f"{name}={value}" for name, value in self.parameters.items()]
        command = [
            str(SAM),
            "deploy",
            "--stack-name",
            self.stack,
            "--capabilities",
            "CAPABILITY_IAM",
            "--resolve-s3",
            "--no-confirm-changeset",
            "--no-fail-on-empty-changeset",
            "--parameter-overrides",
            *overrides,
        ]
        if self.region:
            command += ["--region", self.region]
        return command

    def describe(self) -> list[str]:
        lines = [
            f"stack {self.stack} ({self.region or 'the default region'}), EndpointMode=serverless",
            "preflight: credentials, the model archive, API Gateway's logging role, the Lambda quota",
            f"build:  {shlex.join(self.build_command())}",
            f"deploy: {shlex.join(self.deploy_command())}",
            "subscribe: a test SQS queue (SSE) to the alert topic, raw delivery",
            f"upload: {self.recording} -> s3://<RecordingsBucketName>/{self.key}",
            f"wait:   up to {self.timeout_s} s for the call to be scored and its alert to arrive",
        ]
        lines.append(
            "keep:   the stack and queue stay (--keep)"
            if self.keep
            else "teardown: the queue, then the stack"
        )
        return lines


def plan(args: argparse.Namespace) -> SmokePlan:
    """Check the arguments and build the plan; nothing touches AWS."""
    if not STACK_NAME.match(args.stack):
        raise SmokeError(f"--stack {args.stack!r}: letters, digits and hyphens, starting with a letter")
    if not MODEL_URL.match(args.model_data_url):
        raise SmokeError(f"--model-data-url {args.model_data_url!r}: expected s3://<bucket>/<key>.tar.gz")
    # The deploy check's rule: the smoke stack deploys a model the way a real one is deployed.
    problem = model_url_problem(args.model_data_url)
    if problem:
        raise SmokeError(f"--model-data-url: {problem}")
    recording = Path(args.recording)
    if recording.suffix.lower().lstrip(".") not in MEDIA:
        raise SmokeError(f"--recording {recording}: the extension must be one of {', '.join(MEDIA)}")
    if not recording.is_file() or recording.stat().st_size == 0:
        raise SmokeError(f"--recording {recording}: no such file, or empty")
    parameters = {"ModelDataUrl": args.model_data_url, **SMOKE_PARAMETERS}
    for pair in args.parameter or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SmokeError(f"--parameter expects NAME=VALUE, got {pair!r}")
        if name in SMOKE_PARAMETERS or name == "ModelDataUrl":
            raise SmokeError(f"--parameter {name}: the smoke test sets it itself")
        parameters[name] = value
    run = uuid.uuid4().hex[:8]
    return SmokePlan(
        stack=args.stack,
        region=args.region,
        model_data_url=args.model_data_url,
        recording=recording,
        customer_id=f"SMOKE-{run}",
        call_id=f"smoke-{run}",
        parameters=parameters,
        keep=args.keep,
        timeout_s=args.timeout,
    )


@dataclass
class Times:
    uploaded: datetime
    opened: datetime | None = None
    scored: datetime | None = None
    alerted: datetime | None = None
    received: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def hop_lines(times: Times) -> list[str]:
    """One line per hop with its seconds, and the total; a hop not reached says so."""
    lines, start = [], times.uploaded
    for name, attribute in HOPS:
        end = getattr(times, attribute)
        if end is None or start is None:
            lines.append(f"  {name:<62} not reached")
            start = None
            continue
        lines.append(f"  {name:<62} {(end - start).total_seconds():8.1f} s")
        start = end
    if times.received is not None:
        lines.append(
            f"  {'total, upload -> alert received':<62} {(times.received - times.uploaded).total_seconds():8.1f} s"
        )
    return lines


# --- AWS steps ----------------------------------------------------------------------------------


def preflight(session: Any, plan_: SmokePlan) -> dict[str, str]:
    """Checks that fail a first deploy; returns parameters they decide (ApiGatewayLogsRole)."""
    session.client("sts").get_caller_identity()
    bucket, _, key = plan_.model_data_url.removeprefix("s3://").partition("/")
    session.client("s3").head_object(Bucket=bucket, Key=key)
    decided = {}
    role = session.client("apigateway").get_account().get("cloudwatchRoleArn")
    # No account logging role yet: this stack sets one (kept after teardown, for other APIs too).
    decided["ApiGatewayLogsRole"] = "false" if role else "true"
    quota = session.client("lambda").get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    print(
        f"preflight: Lambda concurrency quota {quota}; API Gateway logging role {'set' if role else 'absent: the stack sets it'}"
    )
    return decided


def subscribe_queue(session: Any, topic_arn: str, name: str) -> tuple[str, str]:
    sqs, sns = session.client("sqs"), session.client("sns")
    url = sqs.create_queue(QueueName=name, Attributes={"SqsManagedSseEnabled": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    subscription = sns.subscribe(
        TopicArn=topic_arn,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return url, subscription


def wait_for_call(
    session: Any,
    outputs: dict[str, str],
    plan_: SmokePlan,
    times: Times,
    queue_url: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Poll the call item (by-customer index) and the queue until the alert is received."""
    table = session.resource("dynamodb").Table(outputs["CallsTableName"])
    sqs = session.client("sqs")
    deadline = clock() + plan_.timeout_s
    while clock() < deadline:
        items = table.query(
            IndexName="by-customer",
            KeyConditionExpression="customer_id = :c",
            ExpressionAttributeValues={":c": plan_.customer_id},
        ).get("Items", [])
        if items:
            item = items[0]
            times.opened = parse_timestamp(item.get("created_at"))
            times.scored = parse_timestamp(item.get("scored_at"))
            times.alerted = parse_timestamp(item.get("alerted_at"))
            times.extra.update(status=item.get("status"), failure_reason=item.get("failure_reason"))
            if item.get("status") in ("TRANSCRIPTION_FAILED", "SCORING_FAILED"):
                raise SmokeError(f"the call ended {item['status']}: {item.get('failure_reason')}")
        for message in sqs.receive_message(
            QueueUrl=queue_url, WaitTimeSeconds=10, MaxNumberOfMessages=10
        ).get("Messages", []):
            if plan_.customer_id in message["Body"]:
                times.received = datetime.now(UTC)
                return
        sleep(5)
    raise SmokeError(f"no alert within {plan_.timeout_s} s (last status: {times.extra.get('status')})")


def run(plan_: SmokePlan, session: Any, runner: Callable[[list[str]], None]) -> Times | None:
    from churn_ops.stack import stack_outputs
    from churn_ops.teardown import teardown

    decided = preflight(session, plan_)
    parameters = {**plan_.parameters, **decided}
    deploying = SmokePlan(**{**plan_.__dict__, "parameters": parameters})
    runner(deploying.build_command())
    runner(deploying.deploy_command())
    cloudformation = session.client("cloudformation")
    outputs = stack_outputs(cloudformation, plan_.stack)
    queue_url, subscription = subscribe_queue(
        session, outputs["AlertTopicArn"], f"{plan_.stack}-smoke-alerts"
    )
    times: Times | None = None
    try:
        times = Times(uploaded=datetime.now(UTC))
        session.client("s3").upload_file(str(plan_.recording), outputs["RecordingsBucketName"], plan_.key)
        print(f"uploaded s3://{outputs['RecordingsBucketName']}/{plan_.key}")
        wait_for_call(session, outputs, plan_, times, queue_url)
        return times
    finally:
        if times is not None:
            print("hops:")
            print("\n".join(hop_lines(times)))
        if not plan_.keep:
            session.client("sns").unsubscribe(SubscriptionArn=subscription)
            session.client("sqs").delete_queue(QueueUrl=queue_url)
            report = teardown(plan_.stack, cloudformation=cloudformation, s3=session.client("s3"), wait=True)
            print(
                f"torn down: {plan_.stack} deleted={report.deleted}; retained: {[r.logical_id for r in report.retained]}"
            )


def _subprocess_runner(command: list[str]) -> None:
    print(f"$ {shlex.join(command)}", flush=True)
    done = subprocess.run(command, cwd=REPO_ROOT, check=False)  # noqa: S603 - our own sam command line
    if done.returncode != 0:
        raise SmokeError(f"{command[1]} failed (exit {done.returncode})")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m churn_ops.smoke_deploy", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="a stack name of its own (it is deleted at the end)")
    p.add_argument(
        "--model-data-url",
        required=True,
        help="s3://bucket/models/sha256-<digest>/model.tar.gz from churn_ops.publish_model (with the ONNX int8 export)",
    )
    p.add_argument("--recording", required=True, help=f"a call recording ({', '.join(MEDIA)})")
    p.add_argument("--region", default=None)
    p.add_argument("--parameter", action="append", help="another template parameter, NAME=VALUE (repeatable)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds to wait for the alert (default 1800)")
    p.add_argument("--keep", action="store_true", help="leave the stack and the test queue")
    p.add_argument("--dry-run", action="store_true", help="print the plan; touch nothing")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        plan_ = plan(args)
    except SmokeError as exc:
        print(f"smoke: {exc}", file=sys.stderr)
        return 2
    print("\n".join(plan_.describe()))
    if args.dry_run:
        return 0
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from churn_ops.stack import aws_error_line

    try:
        session = boto3.Session(region_name=args.region)
        run(plan_, session, _subprocess_runner)
    except SmokeError as exc:
        print(f"smoke: FAILED: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:
        print(f"smoke: FAILED: {aws_error_line(exc)}", file=sys.stderr)
        return 1
    print("smoke: passed: the call was scored and its alert received")
    return 0


if __name__ == "__main__":
    sys.exit(main())
