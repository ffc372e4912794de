"""Run one function once with one event file against the local stack (``sam local invoke``'s job,
with no Docker).

    python -m churn_local.invoke StartTranscriptionFunction events/s3-put.json

Starts the background local stack if none is running. The handler and its environment come
from template.yaml; the handler's logs go to stderr and its result to stdout as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from .runner import FunctionProcess
from .spec import read_stack
from .stack import STATE_DIR, Endpoints, function_environment, up


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
