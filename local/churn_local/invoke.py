"""Run one function once with one event file against the local stack (``sam local invoke``'s job,
with no Docker).

    python -m churn_local.invoke StartTranscriptionFunction events/s3-put.json
    python -m churn_local.invoke - events/transcribe-completed.json     # the function from the event

Starts the background local stack if none is running. The handler and its environment come
from template.yaml; the handler's logs go to stderr and its result to stdout as JSON.

What an event names must exist for the function to do its work, as on AWS. Unless ``--no-seed``,
what is missing is made first, with the stack's own event deliveries held back meanwhile, so the
pipeline does not run on it by itself and the invoke is the first to see it:

- an S3 event's recording: a short recording with a transcript of speech (a local sidecar);
- a Transcribe state change's job: a call uploaded and transcribed (or failed) by the local
  Transcribe; the event is then sent with that job's name (the sample's cannot exist here).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError
from churn_contracts.conversation import Role, Turn

from .aws import client
from .runner import FunctionProcess
from .scenario import SIDECAR_PREFIX, placeholder_wav, sidecar_document
from .spec import RuleSpec, StackSpec, read_stack
from .stack import STATE_DIR, Endpoints, function_environment, function_identity, up

# The seeded call: what a customer about to leave says (a sidecar transcript, so no ASR is needed).
SEED_CUSTOMER = "C-10042"
SEED_TURNS = (
    Turn(Role.AGENT, "Thank you for calling, how can I help you today?", 0.0),
    Turn(Role.CUSTOMER, "I have called four times about dropped calls and nothing has changed.", 3.0),
    Turn(Role.AGENT, "I am sorry about that. Let me look at your account.", 8.5),
    Turn(Role.CUSTOMER, "Do not bother. I want to cancel, I am moving to another provider this week.", 12.0),
)
HOLD_QUEUE = "local-invoke-held-events"


def event_objects(event: Any) -> list[tuple[str, str]]:
    """(bucket, key) of the objects an S3 notification or an EventBridge S3 event names."""
    if not isinstance(event, dict):
        return []
    if event.get("source") == "aws.s3" and isinstance(event.get("detail"), dict):
        detail = event["detail"]
        return [(detail["bucket"]["name"], detail["object"]["key"])]
    objects = []
    for record in event.get("Records") or []:
        s3 = record.get("s3") if isinstance(record, dict) else None
        if isinstance(s3, dict):
            # Notification keys are URL-encoded; EventBridge keys are not.
            objects.append((s3["bucket"]["name"], unquote_plus(s3["object"]["key"])))
    return objects


def rules_for(spec: StackSpec, source: str) -> list[RuleSpec]:
    """The template's rules that route events of ``source`` (aws.s3, aws.transcribe) to a function."""
    return [r for r in spec.rules if source in (r.pattern.get("source") or []) and r.targets]


@contextlib.contextmanager
def held_deliveries(endpoints: Endpoints, rules: Sequence[RuleSpec]) -> Iterator[str]:
    """While inside, the rules deliver to a queue of ours instead of their functions; yields its URL.

    So seeding does not run the pipeline itself (the invoke would then find its work done), and
    what the seeding caused can be read back from the queue. The targets are restored on exit.
    """
    events = client("events", endpoints.aws, endpoints.region)
    sqs = client("sqs", endpoints.aws, endpoints.region)
    queue_url = sqs.create_queue(QueueName=f"{HOLD_QUEUE}-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    saved: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for rule in rules:
            key = (rule.name, rule.event_bus)
            saved[key] = events.list_targets_by_rule(Rule=rule.name, EventBusName=rule.event_bus)["Targets"]
            if saved[key]:
                events.remove_targets(
                    Rule=rule.name, EventBusName=rule.event_bus, Ids=[t["Id"] for t in saved[key]]
                )
            events.put_targets(
                Rule=rule.name, EventBusName=rule.event_bus, Targets=[{"Id": "invoke-hold", "Arn": queue_arn}]
            )
        yield queue_url
    finally:
        for (name, bus), targets in saved.items():
            events.remove_targets(Rule=name, EventBusName=bus, Ids=["invoke-hold"])
            if targets:
                events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        sqs.delete_queue(QueueUrl=queue_url)


def put_recording(s3: Any, bucket: str, key: str, turns: Sequence[Turn] | None) -> str | None:
    """A short recording; its transcript comes from a sidecar (``turns``), or fails (``None``).
    Returns the recording's version id (the bucket is versioned)."""
    sidecar = sidecar_document(turns) if turns is not None else b'{"turns": []}'
    s3.put_object(Bucket=bucket, Key=f"{SIDECAR_PREFIX}{key}.json", Body=sidecar)
    return s3.put_object(Bucket=bucket, Key=key, Body=placeholder_wav()).get("VersionId")


def retarget_bucket(event: Any, spec: StackSpec) -> Any:
    """The event, naming the local stack's recordings bucket where it names another one.

    A deployed stack's bucket has a generated name (``churn-local-recordingsbucket-<suffix>``), so
    a sample event cannot know it; on AWS you would edit the sample the same way.
    """
    names = {b.name for b in spec.buckets}
    targets = [b.name for b in spec.buckets if b.eventbridge]
    named = {bucket for bucket, _ in event_objects(event)}
    if len(targets) != 1 or not named or named <= names:
        return event
    local = targets[0]
    text = json.dumps(event)
    for bucket in named - names:
        print(
            f"note: the event names bucket {bucket}; invoking with the local stack's {local}", file=sys.stderr
        )
        text = text.replace(f'"{bucket}"', f'"{local}"').replace(f":::{bucket}", f":::{local}")
    return json.loads(text)


def _set_version(event: Any, key: str, version: str) -> None:
    if isinstance(event, dict) and event.get("source") == "aws.s3":
        obj = (event.get("detail") or {}).get("object") or {}
        if obj.get("key") == key:
            obj["version-id"] = version
    for record in (event.get("Records") if isinstance(event, dict) else None) or []:
        obj = ((record or {}).get("s3") or {}).get("object") or {}
        if unquote_plus(str(obj.get("key"))) == key:
            obj["versionId"] = version


def _event_version(event: Any, key: str) -> str | None:
    if isinstance(event, dict) and event.get("source") == "aws.s3":
        obj = (event.get("detail") or {}).get("object") or {}
        return obj.get("version-id") if obj.get("key") == key else None
    for record in (event.get("Records") if isinstance(event, dict) else None) or []:
        obj = ((record or {}).get("s3") or {}).get("object") or {}
        if unquote_plus(str(obj.get("key"))) == key:
            return obj.get("versionId")
    return None


def seed_recordings(event: Any, endpoints: Endpoints, spec: StackSpec) -> Any:
    """Put a recording with speech where the event says one is, as it would be on AWS; returns the
    event, naming the version that is there (a sample's version id cannot exist locally)."""
    s3 = client("s3", endpoints.aws, endpoints.region)
    event = copy.deepcopy(event)
    missing = []
    for bucket, key in event_objects(event):
        try:
            current = s3.head_object(Bucket=bucket, Key=key).get("VersionId")
        except ClientError:
            missing.append((bucket, key))
            continue
        named = _event_version(event, key)
        if named and current and named != current:
            print(
                f"note: version {named} of {key} is not here; invoking with its current version",
                file=sys.stderr,
            )
            _set_version(event, key, current)
    if not missing:
        return event
    with held_deliveries(endpoints, rules_for(spec, "aws.s3")):
        for bucket, key in missing:
            try:
                version = put_recording(s3, bucket, key, SEED_TURNS)
            except ClientError as exc:
                print(f"note: could not put a recording at s3://{bucket}/{key}: {exc}", file=sys.stderr)
                continue
            if version and _event_version(event, key):
                _set_version(event, key, version)
            print(
                f"note: put a recording with speech at s3://{bucket}/{key} (for this invoke only)",
                file=sys.stderr,
            )
    return event


def transcription_job(event: Any) -> tuple[str, str] | None:
    """(job name, status) of a Transcribe Job State Change event."""
    if not isinstance(event, dict) or event.get("source") != "aws.transcribe":
        return None
    detail = event.get("detail") or {}
    name, status = detail.get("TranscriptionJobName"), detail.get("TranscriptionJobStatus")
    return (str(name), str(status)) if name and status else None


def seed_transcription(event: Any, endpoints: Endpoints, spec: StackSpec, timeout_s: float = 120) -> Any:
    """The event, naming a job the local Transcribe really ran: the sample's own if it exists,
    else a new call's, uploaded and transcribed (COMPLETED: speech; FAILED: an unreadable one)."""
    job = transcription_job(event)
    if job is None or not endpoints.transcribe:
        return event
    name, status = job
    transcribe = client("transcribe", endpoints.transcribe, endpoints.region)
    try:
        transcribe.get_transcription_job(TranscriptionJobName=name)
        return event
    except ClientError:
        pass
    buckets = [b for b in spec.buckets if b.eventbridge]
    if len(buckets) != 1:
        print("note: cannot tell which bucket takes recordings; invoking as is", file=sys.stderr)
        return event
    bucket = buckets[0].name
    key = f"recordings/{SEED_CUSTOMER}/invoke-{uuid.uuid4().hex[:12]}.wav"
    s3 = client("s3", endpoints.aws, endpoints.region)
    sqs = client("sqs", endpoints.aws, endpoints.region)
    with held_deliveries(endpoints, rules_for(spec, "aws.transcribe")) as held:
        put_recording(s3, bucket, key, SEED_TURNS if status == "COMPLETED" else None)
        deadline = time.monotonic() + timeout_s
        seeded = None
        while seeded is None and time.monotonic() < deadline:
            for message in sqs.receive_message(QueueUrl=held, WaitTimeSeconds=1).get("Messages", []):
                seeded = transcription_job(json.loads(message["Body"])) or seeded
    if seeded is None:
        print(
            f"note: the seeded call s3://{bucket}/{key} was not transcribed in {timeout_s:.0f}s",
            file=sys.stderr,
        )
        return event
    event = copy.deepcopy(event)
    event["detail"]["TranscriptionJobName"] = seeded[0]
    if seeded[1] != status:
        print(f"note: the seeded job ended {seeded[1]}, not {status}", file=sys.stderr)
    print(
        f"note: job {name} is not in the local Transcribe; uploaded s3://{bucket}/{key}, transcribed as "
        f"job {seeded[0]} ({seeded[1]}), and invoking with that job name",
        file=sys.stderr,
    )
    return event


def function_for(spec: StackSpec, event: Any) -> str | None:
    """The function the template routes this event to (S3 notifications count as aws.s3)."""
    source = event.get("source") if isinstance(event, dict) else None
    if source is None and event_objects(event):
        source = "aws.s3"
    functions = {t.function for r in rules_for(spec, str(source)) for t in r.targets if t.function}
    return functions.pop() if len(functions) == 1 else None


def warn_missing_recordings(event: Any, endpoints: Endpoints) -> None:
    s3 = client("s3", endpoints.aws, endpoints.region)
    for bucket, key in event_objects(event):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            print(
                f"note: s3://{bucket}/{key} is not in the local bucket, so the function will reject it as "
                "not found; upload a recording there first, or pass --seed",
                file=sys.stderr,
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_local.invoke", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "function",
        help="logical id in template.yaml, e.g. StartTranscriptionFunction; - : the event's target",
    )
    parser.add_argument("event", help="event JSON file, or - for stdin")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="parameter override"
    )
    parser.add_argument("--model", help="model directory for a stack started by this command")
    parser.add_argument("--state-dir", default=str(STATE_DIR))
    parser.add_argument(
        "--no-seed",
        dest="seed",
        action="store_false",
        help="invoke as is, even if the recording or job the event names does not exist (the function "
        "then rejects it, as on AWS)",
    )
    parser.add_argument(
        "--seed", action="store_true", default=True, help=argparse.SUPPRESS
    )  # the default now
    args = parser.parse_args(argv)

    try:
        event = json.load(sys.stdin) if args.event == "-" else json.loads(Path(args.event).read_text())
    except (OSError, ValueError) as exc:
        print(f"cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2

    stack_args = argparse.Namespace(
        state_dir=args.state_dir,
        template=args.template,
        param=args.param,
        model=args.model,
        no_transcribe=False,
        wait=180,
    )
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries only the result
        state = up(stack_args, quiet=True)
    parameters = dict(state.get("parameters") or {})
    if args.param and dict(p.partition("=")[::2] for p in args.param) != parameters:
        print(
            f"note: the running stack was started with parameters {parameters}; using those", file=sys.stderr
        )
    endpoints = Endpoints.from_dict(state["endpoints"])
    # The running stack's own resources, read back from its deployment.
    spec = read_stack(
        args.template, parameters=parameters, region=endpoints.region, endpoint_url=endpoints.aws
    )
    name = args.function if args.function not in {"", "-"} else function_for(spec, event)
    if name is None:
        print("cannot tell which function takes this event; name it (a logical id)", file=sys.stderr)
        return 2
    try:
        function = spec.function(name)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2

    event = retarget_bucket(event, spec)
    if args.seed:
        event = seed_recordings(event, endpoints, spec)
        event = seed_transcription(event, endpoints, spec)
    else:
        warn_missing_recordings(event, endpoints)
    print(f"invoking {function.logical_id} ({function.handler}) against the local stack", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="churn-local-iam-") as work_dir:
        # As its own role, with IAM checked, as the stack runs it.
        identity = function_identity(spec, function, endpoints, Path(work_dir))
        process = FunctionProcess(function, function_environment(function, endpoints, identity))
        try:
            invocation = process.invoke(event)
        finally:
            process.close()
    summary = f"REPORT RequestId: {invocation.request_id} Duration: {invocation.duration_s * 1000:.1f} ms"
    print(summary, file=sys.stderr)
    print(json.dumps(invocation.result if invocation.ok else invocation.error, indent=2, default=str))
    return 0 if invocation.ok else 1


if __name__ == "__main__":
    sys.exit(main())
