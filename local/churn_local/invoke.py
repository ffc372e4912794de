"""Run one function once with one event file against the local stack (``sam local invoke``'s job,
with no Docker).

    python -m churn_local.invoke StartTranscriptionFunction events/s3-put.json

Starts the background local stack if none is running. The handler and its environment come
from template.yaml; the handler's logs go to stderr and its result to stdout as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from .aws import client
from .runner import FunctionProcess
from .scenario import placeholder_wav
from .spec import read_stack
from .stack import STATE_DIR, Endpoints, function_environment, up


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


def seed_recordings(event: Any, endpoints: Endpoints) -> None:
    """Put a placeholder recording where the event says one is, as it would be on AWS."""
    s3 = client("s3", endpoints.aws, endpoints.region)
    for bucket, key in event_objects(event):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=placeholder_wav())
            except ClientError as exc:
                print(f"note: could not put a placeholder at s3://{bucket}/{key}: {exc}", file=sys.stderr)
                continue
            print(
                f"note: put a placeholder recording at s3://{bucket}/{key}",
                file=sys.stderr,
            )


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
    parser.add_argument("function", help="logical id in template.yaml, e.g. StartTranscriptionFunction")
    parser.add_argument("event", help="event JSON file, or - for stdin")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="parameter override"
    )
    parser.add_argument("--model", help="model directory for a stack started by this command")
    parser.add_argument("--state-dir", default=str(STATE_DIR))
    parser.add_argument(
        "--seed",
        action="store_true",
        help="first put a placeholder recording where the event says one is; that upload itself runs "
        "the pipeline, so the invoke then finds the job already started (a duplicate), as on AWS",
    )
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
    spec = read_stack(
        args.template, parameters=parameters, region=endpoints.region, sqs_endpoint=endpoints.aws
    )
    try:
        function = spec.function(args.function)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return 2

    if args.seed:
        seed_recordings(event, endpoints)
    else:
        warn_missing_recordings(event, endpoints)
    print(f"invoking {function.logical_id} ({function.handler}) against the local stack", file=sys.stderr)
    process = FunctionProcess(function, function_environment(function, endpoints))
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
