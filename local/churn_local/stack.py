"""The local stack: local AWS, the model server, local transcription and the function runner.

In process: ``with LocalStack(...) as stack: ...``. In the background, for developers:
``python -m churn_local.stack up`` / ``status`` / ``down`` (state under ``.local-stack/``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_ops.template_rules import TemplateError, check_parameters, load_template

from .aws import FAKE_CREDENTIALS, LocalAws, Wiring, client, table, wire
from .runner import AsyncInvoker, DestinationSender, EventRunner, FunctionPool, LogSink, Outcome, print_log
from .spec import DEFAULT_REGION, FunctionSpec, StackSpec, deploy

log = logging.getLogger(__name__)

STATE_DIR = Path(".local-stack")
STATE_FILE = "state.json"
# Seeded where the template's OfferRulesUri points (churn_ops.offers validates replacements).
DEFAULT_OFFER_RULES = Path(__file__).resolve().parents[2] / "offers" / "default-rules.json"
# What a worker process inherits from ours; everything else comes from the template.
_INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "PYTHONPATH", "HF_HUB_OFFLINE")
# Minutes of AWS time compressed to seconds here: leases, the reconciler's age and its "stuck" age,
# applied only to functions whose template environment declares them (CHURN_LOCAL_<NAME> overrides).
COMPRESSED_TIME = {
    "LEASE_SECONDS": "60",
    "RECONCILE_AFTER_MINUTES": "1",
    "RECONCILE_AFTER_SECONDS": "60",
    "STUCK_AFTER_SECONDS": "600",
}
# The template's Schedule events (the reconciler's rate(5 minutes)) run this often locally.
SCHEDULE_EVERY_S = 15.0


@dataclass(frozen=True)
class Endpoints:
    """Where the functions reach local AWS, local Transcribe and the local model server."""

    aws: str
    transcribe: str | None = None
    sagemaker_runtime: str | None = None
    region: str = DEFAULT_REGION

    def to_dict(self) -> dict[str, Any]:
        return {
            "aws": self.aws,
            "transcribe": self.transcribe,
            "sagemaker_runtime": self.sagemaker_runtime,
            "region": self.region,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Endpoints:
        return cls(data["aws"], data.get("transcribe"), data.get("sagemaker_runtime"), data["region"])


def function_environment(
    spec: FunctionSpec, endpoints: Endpoints, identity: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The function's environment: the template's variables plus the local endpoints, and its role's
    credentials and IAM check (``identity``, from :func:`function_identity`) when given."""
    env = {k: os.environ[k] for k in _INHERITED_ENV if k in os.environ}
    env.update(FAKE_CREDENTIALS)
    env.update(identity or {})
    env.update(
        {
            "AWS_REGION": endpoints.region,
            "AWS_DEFAULT_REGION": endpoints.region,
            "AWS_ENDPOINT_URL": endpoints.aws,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "LAMBDA_TASK_ROOT": str(spec.code_uri),
            "CHURN_LOCAL_FUNCTION_ARN": spec.arn,
            # No X-Ray daemon here; the SDK would only warn on every call.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if endpoints.transcribe:
        env["AWS_ENDPOINT_URL_TRANSCRIBE"] = endpoints.transcribe
    if endpoints.sagemaker_runtime:
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = endpoints.sagemaker_runtime
    env.update(spec.environment)
    if "RECONCILE_AFTER_MINUTES" in spec.environment or "LEASE_SECONDS" in spec.environment:
        for name, value in COMPRESSED_TIME.items():
            env[name] = os.environ.get(f"CHURN_LOCAL_{name}", value)
    return env


def function_identity(
    stack: StackSpec,
    function: FunctionSpec,
    endpoints: Endpoints,
    work_dir: Path,
    *,
    enforce: bool = True,
    record: Path | None = None,
) -> dict[str, str]:
    """The function runs as its own role: STS AssumeRole on the role the stack created for it, and
    every AWS call it makes checked against that role's policies (``churn_local.iam``).

    Returns the environment that does it: the role session's credentials, and ``CHURN_LOCAL_IAM``,
    the worker's IAM configuration (the role's policies, the KMS keys of encrypted resources and
    where to record calls).
    """
    sts = client("sts", endpoints.aws, endpoints.region)
    session = sts.assume_role(RoleArn=function.role_arn, RoleSessionName=function.name[:64])
    credentials = session["Credentials"]
    config = {
        "function": function.logical_id,
        "principal": session["AssumedRoleUser"]["Arn"],
        "region": stack.region,
        "account": stack.account,
        "policies": list(function.policies),
        "kms_keys": stack.kms_keys,
        "enforce": enforce,
        "record": str(record) if record else None,
    }
    path = work_dir / f"iam-{function.logical_id}.json"
    path.write_text(json.dumps(config))
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "CHURN_LOCAL_IAM": str(path),
    }


def scheduled_event(region: str = DEFAULT_REGION) -> dict[str, Any]:
    """What EventBridge Scheduler sends a scheduled function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [],
        "detail": {},
    }


class LocalStack:
    """Everything the pipeline needs on one machine; stops all it started on exit."""

    def __init__(
        self,
        template: str | Path = "template.yaml",
        *,
        parameters: Mapping[str, Any] | None = None,
        model_dir: str | Path | None = None,
        sagemaker_runtime_url: str | None = None,
        transcribe: bool = True,
        run_functions: bool = True,
        region: str = DEFAULT_REGION,
        log_sink: LogSink = print_log,
        retry_delays_s: Sequence[float] = (1.0, 2.0),
        on_outcome: Callable[[Outcome], None] | None = None,
        progress: Callable[[str], None] = lambda message: None,
        api_key: str | None = None,
        enforce_iam: bool = True,
        call_log: str | Path | None = None,
    ) -> None:
        self.template = Path(template)
        # Each function's AWS calls are checked against its own role; a refused call raises
        # AccessDenied in the handler, as on AWS. call_log (or CHURN_LOCAL_CALL_LOG) records them.
        self.enforce_iam = enforce_iam
        call_log = call_log or os.environ.get("CHURN_LOCAL_CALL_LOG") or None
        self.call_log = Path(call_log).resolve() if call_log else None
        self.parameters = {k: str(v) for k, v in (parameters or {}).items()}
        self.model_dir = Path(model_dir) if model_dir else None
        # An already running model server (tests share one), instead of starting one on model_dir.
        self._sagemaker_runtime_url = sagemaker_runtime_url
        self.region = region
        self._transcribe = transcribe
        self._run_functions = run_functions
        self._log_sink = log_sink
        self._retry_delays = retry_delays_s
        self._on_outcome = on_outcome
        self._progress = progress
        self._exit = contextlib.ExitStack()
        self.spec: StackSpec | None = None
        self.wiring: Wiring | None = None
        self.endpoints: Endpoints | None = None
        self.invokers: dict[str, AsyncInvoker] = {}
        self.runner: EventRunner | None = None
        # The template's REST APIs, served by local API gateways (churn_local.api_gateway).
        self.api_key = api_key
        self.apis: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        assert self.endpoints is not None, "stack not started"
        url = {
            "transcribe": self.endpoints.transcribe,
            "sagemaker-runtime": self.endpoints.sagemaker_runtime,
        }.get(service) or self.endpoints.aws
        return client(service, url, self.region)

    def table(self, name: str) -> Any:
        assert self.endpoints is not None, "stack not started"
        return table(name, self.endpoints.aws, self.region)

    def start(self) -> LocalStack:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._progress("starting local AWS (moto server)")
        aws = self._exit.enter_context(LocalAws())
        self._progress("deploying the SAM-translated template through local CloudFormation")
        self.spec = deploy(self.template, aws.url, parameters=self.parameters, region=self.region)
        self._progress(
            f"stack created: {len(self.spec.buckets)} bucket(s), {len(self.spec.tables)} table(s), "
            f"{len(self.spec.topics)} topic(s), {len(self.spec.queues)} queue(s), {len(self.spec.rules)} rule(s), "
            f"{len(self.spec.functions)} function(s); {len(self.spec.skipped)} resource(s) not created locally"
        )
        self.wiring = wire(self.spec, aws.url)
        sagemaker_url = self._sagemaker_runtime_url
        if sagemaker_url is None and self.model_dir is not None:
            self._progress(f"starting the local model server on {self.model_dir}")
            from churn_model.serving.server import LocalEndpointServer

            sagemaker_url = self._exit.enter_context(
                LocalEndpointServer(self.model_dir, host="127.0.0.1", port=0)
            ).url
        transcribe_url = None
        if self._transcribe:
            self._progress("starting local transcription")
            from churn_local.transcribe import LocalTranscribe

            transcribe_url = self._exit.enter_context(
                LocalTranscribe(aws_endpoint_url=aws.url, host="127.0.0.1", port=0, region=self.region)
            ).url
        self.endpoints = Endpoints(aws.url, transcribe_url, sagemaker_url, self.region)
        self._seed_offer_rules()
        if self._run_functions:
            self._start_functions()

    def _seed_offer_rules(self) -> None:
        """The default retention offer rules, where the template says the score function reads them."""
        assert self.spec is not None
        uri = self.spec.outputs.get("OfferRulesUri")
        if not isinstance(uri, str) or not uri.startswith("s3://") or not DEFAULT_OFFER_RULES.is_file():
            return
        bucket, _, key = uri[len("s3://") :].partition("/")
        body = DEFAULT_OFFER_RULES.read_bytes()
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        self._progress(f"seeded the default offer rules at {uri}")

    def _start_functions(self) -> None:
        assert self.spec is not None and self.wiring is not None and self.endpoints is not None
        destinations = DestinationSender(self.client)
        self.runner = EventRunner(self.client("sqs"), self.spec.account)
        work_dir = Path(self._exit.enter_context(tempfile.TemporaryDirectory(prefix="churn-local-iam-")))
        for logical_id, spec in self.spec.functions.items():
            identity = function_identity(
                self.spec, spec, self.endpoints, work_dir, enforce=self.enforce_iam, record=self.call_log
            )
            environment = function_environment(spec, self.endpoints, identity)
            process = FunctionPool(spec, environment, self._log_sink)
            self._exit.callback(process.close)
            invoker = AsyncInvoker(spec, process, destinations, self._retry_delays, self._on_outcome)
            self.invokers[logical_id] = invoker
            for queue_url in self.wiring.delivery_queues.get(logical_id, []):
                self.runner.add_route(queue_url, invoker)
            if self.wiring.delivery_queues.get(logical_id):
                # The pipeline's first events then wait for no cold start (scheduled and API
                # functions start on their first use).
                process.warm()
        destinations.functions = self.invokers
        self._progress(f"running {len(self.invokers)} function(s) on {len(self.runner.routes)} event rule(s)")
        self.runner.start()
        self._exit.callback(self.runner.stop)
        self._start_schedules()
        self._start_apis()

    def _start_schedules(self) -> None:
        """The template's Schedule events (the reconciler), compressed to SCHEDULE_EVERY_S."""
        assert self.spec is not None
        every = float(os.environ.get("CHURN_LOCAL_SCHEDULE_EVERY_S", SCHEDULE_EVERY_S))
        # The deployed schedule rules' function targets (moto's EventBridge does not fire schedules).
        scheduled = sorted(
            {
                target.function
                for rule in self.spec.rules
                if rule.schedule
                for target in rule.targets
                if target.function in self.invokers
            }
        )
        if not scheduled or every <= 0:
            return
        stop = threading.Event()

        def tick() -> None:
            while not stop.wait(every):
                for logical_id in scheduled:
                    self.invokers[logical_id].invoke_async(scheduled_event(self.region))

        thread = threading.Thread(target=tick, name="local-schedules", daemon=True)
        thread.start()
        self._exit.callback(stop.set)
        self._progress(
            f"running {', '.join(scheduled)} every {every:g} s (the template's schedule, compressed)"
        )

    def _start_apis(self) -> None:
        from .api_gateway import Credentials, serve_apis

        assert self.spec is not None
        processes = {logical_id: invoker.process for logical_id, invoker in self.invokers.items()}
        self.apis = serve_apis(
            self.spec,
            self.template,
            processes,
            api_key=self.api_key,
            credentials=Credentials(
                FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"], FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"]
            ),
            region=self.region,
            account=self.spec.account,
        )
        for logical_id, gateway in self.apis.items():
            self._exit.callback(gateway.stop)
            self._progress(f"serving {logical_id} on {gateway.url}")

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- the background stack --------------------------------------------------------------------


def read_state(state_dir: Path = STATE_DIR) -> dict[str, Any] | None:
    """The running background stack's state, or None when none is running."""
    path = state_dir / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except (OSError, KeyError, ValueError):
        path.unlink(missing_ok=True)
        return None
    return state


def _parse_params(pairs: Sequence[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param expects NAME=VALUE, got {pair!r}")
        parameters[key] = value
    return parameters


def default_model_dir() -> Path | None:
    path = Path(os.environ.get("CHURN_MODEL_DIR", "artifacts/model"))
    return path if path.is_dir() else None


def missing_model(template: str | Path, model: str | None) -> str | None:
    """Why a stack of ``template`` could not score, or None.

    Without a model every score fails ("endpoint response is not JSON", the API's 502), long after
    the stack said it was running: a template with a SageMaker endpoint needs one up front.
    """
    if model:
        return None
    resources = (load_template(template).get("Resources") or {}).values()
    if not any(r.get("Type") == "AWS::SageMaker::Endpoint" for r in resources):
        return None
    path = Path(os.environ.get("CHURN_MODEL_DIR", "artifacts/model"))
    if (path / "model.joblib").is_file():
        return None
    return (
        f"no trained model in {path}: run `make data && make train` first "
        "(`make demo` trains a small one), or pass --model DIR"
    )


def serve(args: argparse.Namespace) -> int:
    """Run the stack in the foreground until SIGTERM/SIGINT, with a state file for other tools."""
    state_dir = Path(args.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    model_dir = Path(args.model) if args.model else default_model_dir()
    parameters = _parse_params(args.param)
    stack = LocalStack(
        args.template,
        parameters=parameters,
        model_dir=model_dir,
        transcribe=not args.no_transcribe,
        progress=lambda message: print(f"stack: {message}", flush=True),
        api_key=os.environ.get("CHURN_LOCAL_API_KEY") or None,  # else a fresh key per start
    )
    with stack:
        assert stack.endpoints is not None and stack.spec is not None
        state = {
            "pid": os.getpid(),
            "started_at": time.time(),
            "template": str(Path(args.template).resolve()),
            "parameters": parameters,
            "model_dir": str(model_dir) if model_dir else None,
            "endpoints": stack.endpoints.to_dict(),
            "outputs": stack.spec.outputs,
            "apis": {name: {"url": api.url, "api_key": api.api_key} for name, api in stack.apis.items()},
        }
        (state_dir / STATE_FILE).write_text(json.dumps(state, indent=2))
        print(f"stack: up ({json.dumps(stack.endpoints.to_dict())})", flush=True)
        try:
            while not stopping.wait(0.5):
                pass
        finally:
            (state_dir / STATE_FILE).unlink(missing_ok=True)
            print("stack: stopping", flush=True)
    return 0


def up(args: argparse.Namespace, *, quiet: bool = False) -> dict[str, Any]:
    """Start the background stack unless one is running; returns its state."""
    state_dir = Path(args.state_dir)
    state = read_state(state_dir)
    if state is not None:
        if not quiet:
            print(f"local stack already running (pid {state['pid']})")
        return state
    try:  # bad parameters fail here, in one message, not after retries in stack.log
        check_parameters(load_template(args.template), _parse_params(args.param))
    except TemplateError as exc:
        raise SystemExit(str(exc)) from None
    problem = missing_model(args.template, args.model)
    if problem:
        raise SystemExit(problem)
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "stack.log"
    command = [
        sys.executable,
        "-m",
        "churn_local.stack",
        "--state-dir",
        str(state_dir),
        "serve",
        "--template",
        args.template,
    ]
    for pair in args.param:
        command += ["--param", pair]
    if args.model:
        command += ["--model", args.model]
    if args.no_transcribe:
        command.append("--no-transcribe")
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    print(f"starting the local stack in the background (pid {process.pid}, log {log_path})", flush=True)
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the local stack exited with {process.returncode}; see {log_path}")
        state = read_state(state_dir)
        if state is not None and state["pid"] == process.pid:
            _print_state(state)
            return state
        time.sleep(0.5)
        print(".", end="", flush=True)
    process.terminate()
    raise SystemExit(f"the local stack did not come up within {args.wait}s; see {log_path}")


def down(args: argparse.Namespace) -> int:
    state = read_state(Path(args.state_dir))
    if state is None:
        print("no local stack running")
        return 0
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    for _ in range(60):
        try:
            os.kill(pid, 0)
        except OSError:
            print(f"local stack stopped (pid {pid})")
            return 0
        time.sleep(0.5)
    print(f"local stack (pid {pid}) did not stop within 30 s", file=sys.stderr)
    return 1


def _print_state(state: Mapping[str, Any]) -> None:
    endpoints = state["endpoints"]
    print(f"\nlocal stack running (pid {state['pid']})")
    print(f"  local AWS (S3, DynamoDB, SNS, SQS, EventBridge): {endpoints['aws']}")
    print(f"  local Transcribe:                                {endpoints.get('transcribe') or '-'}")
    print(
        f"  local SageMaker Runtime (model server):          {endpoints.get('sagemaker_runtime') or '- (no model)'}"
    )
    for name, api in (state.get("apis") or {}).items():
        print(f"  {name} (local API Gateway):{' ' * max(1, 24 - len(name))}{api['url']}")
        print(
            f"    API key (x-api-key): {api['api_key']}   sign with SigV4: the local credentials testing/testing"
        )
    for name, value in (state.get("outputs") or {}).items():
        print(f"  {name}: {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_local.stack", description=__doc__)
    parser.add_argument("--state-dir", default=str(STATE_DIR))
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "serve"):
        command = commands.add_parser(
            name, help="start in the background" if name == "up" else "run in the foreground"
        )
        command.add_argument("--template", default="template.yaml")
        command.add_argument(
            "--param", action="append", default=[], metavar="NAME=VALUE", help="parameter override"
        )
        command.add_argument(
            "--model", help="model directory or model.tar.gz (default: artifacts/model if present)"
        )
        command.add_argument("--no-transcribe", action="store_true", help="no local Transcribe")
        command.add_argument("--wait", type=int, default=180, help=argparse.SUPPRESS)
    commands.add_parser("down", help="stop the background stack")
    commands.add_parser("status", help="show the background stack")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return serve(args)
    if args.command == "up":
        up(args)
        return 0
    if args.command == "down":
        return down(args)
    state = read_state(Path(args.state_dir))
    if state is None:
        print("no local stack running")
        return 1
    _print_state(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
