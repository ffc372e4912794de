"""Load and chaos through the local stack: N calls, faults injected, then exactly one alert each?

    python local/benchmarks/bench_chaos.py --calls 1000            # make bench-chaos
    python local/benchmarks/bench_chaos.py --calls 200 --model artifacts/model

The calls take the fast path (sidecar transcripts, no speech recognition). Each call is run twice,
on two fresh stacks: once without faults (the expected alerts), then with these faults:

- endpoint 503 (a ModelError whose container answered 503) on 5 % of requests;
- SNS Publish failing on 2 % of alerts (every SDK attempt of that invocation);
- DynamoDB throttling on 2 % of writes and reads (every SDK attempt of that request);
- a Transcribe completion event dropped on its way to the score function: 2 %;
- the score function's process killed as it publishes (between claim and publish): 1 %;
- duplicate event deliveries (to both functions): 10 %.

After Lambda's retries (1 s and 2 s here), the reconciler (every 15 s, leases of 60 s: the
template's minutes compressed) and one paced redrive of the failure queues, it prints calls
uploaded / scored / alerted / failed, alerts per alerted call (must be exactly 1), expected alerts
missing (must be 0), messages left in queues (must be 0), calls still open (must be 0), wall time,
calls/s, and the most environments each function ran at once (``CHURN_LOCAL_CONCURRENCY``, 4 by
default, as the local stack runs them).

Without ``--model`` the endpoint is a stand-in that speaks the real contract
(``churn_contracts.endpoint``) and scores by a hash of the text: the alerting machinery is what is
measured here, not the model. Every customer is distinct, so the quiet window plays no part.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.server
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from churn_contracts.endpoint import FeatureSpec, RequestError, parse_request, prediction
from churn_local.profiles import load_profiles
from churn_local.runner import AsyncInvoker, DestinationSender, EventRunner, FunctionPool
from churn_local.scenario import Pipeline, RetentionTeam, call_items, queue_depth, turns_of, upload
from churn_local.stack import LocalStack, function_environment, function_identity
from churn_model.data import generate_rows

TERMINAL = {"ALERTED", "TRANSCRIPTION_FAILED", "SCORING_FAILED"}


@dataclass
class Rates:
    endpoint_503: float = 0.05
    sns_failure: float = 0.02
    dynamodb_throttle: float = 0.02
    dropped_completion: float = 0.02
    killed_publish: float = 0.01
    duplicate_delivery: float = 0.10

    @classmethod
    def none(cls) -> Rates:
        return cls(0, 0, 0, 0, 0, 0)


@dataclass
class Injected:
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str) -> None:
        with self.lock:
            self.counts[name] += 1


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def endpoint_server(rates: Rates, injected: Injected, rng: random.Random, model_url: str | None) -> Any:
    """InvokeEndpoint: a 503 ModelError at the given rate, else the model (or the contract stand-in)."""
    spec = FeatureSpec()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                fail = rng.random() < rates.endpoint_503
            if fail:
                injected.add("endpoint 503")
                error = {"message": "Received server error (503) from primary", "OriginalStatusCode": 503}
                error["OriginalMessage"] = "no worker available"
                self._send(424, json.dumps(error).encode(), {"x-amzn-ErrorType": "ModelError:http://"})
                return
            if model_url:
                target = urlparse(model_url)
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                connection.request("POST", self.path, body, dict(self.headers))
                answer = connection.getresponse()
                self._send(answer.status, answer.read(), {"Content-Type": "application/json"})
                return
            try:
                (record,) = parse_request(body, self.headers.get("Content-Type"), spec).records
            except RequestError as exc:
                self._send(exc.status, exc.to_json(), {"Content-Type": "application/json"})
                return
            text = str(record.features.get("text") or "")
            p = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
            answer = json.dumps(prediction(p, "chaos-stand-in", record.missing)).encode()
            self._send(200, answer, {"Content-Type": "application/json"})

    return _serve(Handler)


@dataclass
class Sticky:
    """Which requests fail, by body: shared by a function's proxies, so a request chosen to fail
    fails on every SDK attempt, and one let through is let through again, whichever environment
    sends it."""

    remaining: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def aws_proxy(
    aws_url: str,
    rates: Rates,
    injected: Injected,
    rng: random.Random,
    kill: Callable[[], bool] | None,
    sticky_state: Sticky | None = None,
) -> Any:
    """Forwards one function environment's AWS calls to local AWS, failing some: a chosen request
    fails on every SDK attempt (it is recognised by its body), so the fault reaches the function's
    own code. ``kill`` ends the environment that sent the request (one proxy per environment)."""
    target = urlparse(aws_url)
    state = sticky_state or Sticky()
    sticky, lock = state.remaining, state.lock

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_: Any) -> None:
            pass

        def _fault(self, body: bytes) -> str | None:
            amz_target = self.headers.get("X-Amz-Target", "")
            if b"Action=Publish" in body:
                kind, rate = "sns", rates.sns_failure
            elif amz_target.startswith("DynamoDB_"):
                kind, rate = "dynamodb", rates.dynamodb_throttle
            else:
                return None
            digest = hashlib.sha256(amz_target.encode() + body).hexdigest()
            with lock:
                if digest in sticky:
                    sticky[digest] -= 1
                    return kind if sticky[digest] >= 0 else None
                if kind == "sns" and kill is not None and rng.random() < rates.killed_publish:
                    sticky[digest] = 0
                    return "kill"
                if rng.random() < rate:
                    sticky[digest] = 3  # the SDK's attempts
                    return kind
                sticky[digest] = -1
            return None

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length", 0) or 0)
            body = self.rfile.read(length) if length else b""
            fault = self._fault(body)
            if fault == "kill":
                injected.add("killed at publish")
                assert kill is not None
                kill()
                self.close_connection = True
                return
            if fault == "sns":
                injected.add("SNS failure")
                error = b"<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code>"
                self._reply(500, error + b"<Message>injected</Message></Error></ErrorResponse>", "text/xml")
                return
            if fault == "dynamodb":
                injected.add("DynamoDB throttled")
                error = {
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "injected",
                }
                self._reply(400, json.dumps(error).encode(), "application/x-amz-json-1.0")
                return
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in {"connection"}}
            connection.request(self.command, self.path, body, headers)
            answer = connection.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in {"transfer-encoding", "connection", "content-length"}:
                    self.send_header(name, value)
            # A HEAD answer states the object's length, with no body.
            length = answer.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    return _serve(Handler)


def _job_status(event: Any) -> str | None:
    detail = event.get("detail") if isinstance(event, dict) else None
    return detail.get("TranscriptionJobStatus") if isinstance(detail, dict) else None


def chaotic(invoker: AsyncInvoker, rates: Rates, injected: Injected, rng: random.Random) -> None:
    """Deliveries as EventBridge makes them under chaos: some twice, some completions never."""
    original = invoker.invoke_async
    lock = threading.Lock()

    def invoke_async(event: Any, received_at: float | None = None) -> Any:
        with lock:
            drop = _job_status(event) == "COMPLETED" and rng.random() < rates.dropped_completion
            twice = rng.random() < rates.duplicate_delivery
        if drop:
            injected.add("completion event dropped")
            return None
        if twice:
            injected.add("duplicate delivery")
            threading.Thread(target=original, args=(event,), daemon=True).start()
        return original(event, received_at)

    invoker.invoke_async = invoke_async  # type: ignore[method-assign]


def start_functions(
    stack: LocalStack,
    rates: Rates,
    injected: Injected,
    rng: random.Random,
    model_url: str | None,
    log_sink: Callable[[str, str], None],
) -> list[Any]:
    """The stack's functions, each behind its own fault-injecting proxies (what LocalStack does, plus chaos)."""
    assert stack.spec is not None and stack.endpoints is not None
    servers = []
    endpoint, endpoint_url = endpoint_server(rates, injected, rng, model_url)
    servers.append(endpoint)
    destinations = DestinationSender(stack.client)
    stack.runner = EventRunner(stack.client("sqs"), stack.spec.account)
    work_dir = Path(stack._exit.enter_context(tempfile.TemporaryDirectory(prefix="churn-chaos-iam-")))
    for logical_id, spec in stack.spec.functions.items():
        # Each function as its own role with IAM enforced, as the stack runs it (STS through the
        # stack's own endpoint: the chaos proxies fault the function's calls, not its start).
        identity = function_identity(
            stack.spec, spec, stack.endpoints, work_dir, enforce=stack.enforce_iam, record=stack.call_log
        )
        pool: list[FunctionPool] = []
        sticky = Sticky()

        def environment(
            index: int,
            spec: Any = spec,
            identity: Any = identity,
            pool: list[FunctionPool] = pool,
            sticky: Sticky = sticky,
        ) -> dict[str, str]:
            # Each environment its own proxy, so a kill at publish ends the environment publishing.
            def kill() -> bool:
                worker = pool[0].environments[index]._process  # ended as a timeout or OOM would end it
                if worker is not None and worker.poll() is None:
                    os.kill(worker.pid, signal.SIGKILL)
                return True

            killing = kill if spec.logical_id == "ScoreCallFunction" else None
            proxy, proxy_url = aws_proxy(stack.endpoints.aws, rates, injected, rng, killing, sticky)
            servers.append(proxy)
            endpoints = replace(stack.endpoints, aws=proxy_url, sagemaker_runtime=endpoint_url)
            return function_environment(spec, endpoints, identity)

        process = FunctionPool(spec, environment, log_sink)
        pool.append(process)
        stack._exit.callback(process.close)
        invoker = AsyncInvoker(spec, process, destinations, (1.0, 2.0))
        if logical_id in {"ScoreCallFunction", "StartTranscriptionFunction"}:
            chaotic(invoker, rates, injected, rng)
        stack.invokers[logical_id] = invoker
        for queue_url in stack.wiring.delivery_queues.get(logical_id, []):
            stack.runner.add_route(queue_url, invoker)
    destinations.functions = stack.invokers
    stack.runner.start()
    stack._exit.callback(stack.runner.stop)
    stack._start_schedules()
    return servers


class LocalLambda:
    """The Lambda Invoke API, for the redrive tool: an async invoke of a local function."""

    def __init__(self, stack: LocalStack) -> None:
        self.by_name = {}
        for invoker in stack.invokers.values():
            self.by_name[invoker.spec.arn] = invoker
            self.by_name[invoker.spec.name] = invoker

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: str) -> dict[str, Any]:
        invoker = self.by_name[FunctionName]
        threading.Thread(target=invoker.invoke_async, args=(json.loads(Payload),), daemon=True).start()
        return {"StatusCode": 202}


@dataclass
class Run:
    uploaded: int
    items: dict[str, dict[str, Any]]
    alerts: Counter[str]
    left_in_queues: int
    wall_s: float
    injected: Counter[str]
    redriven: dict[str, int]
    still_open: int = 0
    # The most environments each function ran at once (Lambda's concurrency, locally).
    environments: dict[str, int] = field(default_factory=dict)


def run(args: argparse.Namespace, rows: list[dict[str, Any]], rates: Rates, label: str) -> Run:
    rng = random.Random(args.seed)
    injected = Injected()
    parameters = {"AlertSuppressionDays": "0", "DeferredTranscription": "false"}
    model_url = None
    with LocalStack(
        args.template, parameters=parameters, run_functions=False, log_sink=lambda *_: None
    ) as stack:
        if args.model:
            from churn_model.serving.server import LocalEndpointServer

            model_url = stack._exit.enter_context(
                LocalEndpointServer(args.model, host="127.0.0.1", port=0)
            ).url
        sink = (lambda fn, line: print(f"{fn}: {line}", flush=True)) if args.verbose else (lambda *_: None)
        servers = start_functions(stack, rates, injected, rng, model_url, sink)
        try:
            pipeline = Pipeline.from_stack(stack)
            load_profiles(((i, r) for i, r in enumerate(rows)), stack.table(pipeline.profiles_table))
            team = RetentionTeam(stack, pipeline.alert_topic_arn)
            s3 = stack.client("s3")
            started = time.monotonic()
            keys = []
            for i, row in enumerate(rows):
                sent = upload(
                    s3,
                    pipeline,
                    label=str(i),
                    customer_id=row["customer_id"],
                    call_id=f"chaos-{i}",
                    kind="sidecar",
                    turns=turns_of(row),
                )
                keys.append(sent.key)
                if i % 100 == 99:
                    print(f"  [{label}] uploaded {i + 1}", flush=True)
            redriven: dict[str, int] = {}
            items = _settle(stack, pipeline, team, keys, args.timeout_s, label)
            # One paced redrive of whatever reached the failure queues, then settle again.
            from churn_ops.redrive import redrive

            for url in pipeline.failure_queue_urls:
                if queue_depth(stack, url):
                    report = redrive(
                        url, sqs=stack.client("sqs"), lambda_client=LocalLambda(stack), wait_s=0, rate=5.0
                    )
                    redriven[url.rsplit("/", 1)[-1]] = report.counts().get("sent", 0)
            if redriven:
                items = _settle(stack, pipeline, team, keys, args.timeout_s, label)
            wall = time.monotonic() - started
            team.poll()
            alerts = Counter(
                str(a["Message"].get("call_id"))
                for _, a in team.received
                if isinstance(a.get("Message"), dict)
            )
            queues = [q.url for q in stack.spec.queues] + [
                url for urls in stack.wiring.delivery_queues.values() for url in urls
            ]
            left = sum(queue_depth(stack, url) for url in queues if url != team.queue_url)
            still_open = sum(1 for k in keys if _open(items.get(k)))
            environments = {name: getattr(i.process, "peak", 1) for name, i in sorted(stack.invokers.items())}
        finally:
            for server in servers:
                server.shutdown()
    return Run(len(rows), items, alerts, left, wall, injected.counts, redriven, still_open, environments)


def _settle(stack, pipeline, team, keys, timeout_s: float, label: str) -> dict[str, dict[str, Any]]:
    """Until every call is final (terminal, or scored below high) and nothing is in flight."""
    deadline = time.monotonic() + timeout_s
    last = 0.0
    while True:
        team.poll()
        items = call_items(stack.client("dynamodb"), pipeline.calls_table)
        open_calls = [k for k in keys if _open(items.get(k))]
        busy = stack.runner.busy if stack.runner else 0
        if not open_calls and busy == 0:
            return items
        if time.monotonic() > deadline:
            print(f"  [{label}] {len(open_calls)} call(s) still open after {timeout_s:.0f} s", flush=True)
            return items
        if time.monotonic() - last > 10:
            states = Counter(str((items.get(k) or {}).get("status", "not started")) for k in open_calls)
            print(f"  [{label}] open: {dict(states)}", flush=True)
            last = time.monotonic()
        time.sleep(1.0)


def _open(item: dict[str, Any] | None) -> bool:
    if not item:
        return True
    if item.get("status") in TERMINAL:
        return False
    if item.get("status") == "SCORED":
        return item.get("risk_level") == "high" and item.get("alert_status") not in {"SENT", "SUPPRESSED"}
    return True


def summary(run: Run, expected: set[str]) -> dict[str, Any]:
    statuses = Counter(str(i.get("status")) for i in run.items.values())
    alerted = set(run.alerts)
    per_call = Counter(run.alerts.values())
    return {
        "uploaded": run.uploaded,
        "scored": statuses["SCORED"] + statuses["ALERTED"],
        "alerted": len(alerted),
        "failed": statuses["TRANSCRIPTION_FAILED"] + statuses["SCORING_FAILED"],
        "alerts per alerted call": dict(sorted(per_call.items())),
        "expected alerts missing": len(expected - alerted),
        "unexpected alerts": len(alerted - expected),
        "messages left in queues": run.left_in_queues,
        "calls still open": run.still_open,
        "wall s": round(run.wall_s, 1),
        "calls/s": round(run.uploaded / run.wall_s, 2) if run.wall_s else None,
        "faults injected": dict(sorted(run.injected.items())),
        "redriven": run.redriven,
        "environments (peak)": run.environments,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--model", type=Path, default=None, help="a model directory (default: the contract stand-in)"
    )
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--timeout-s", type=float, default=900.0, help="per settle phase")
    parser.add_argument("--verbose", action="store_true", help="print the functions' logs")
    args = parser.parse_args(argv)
    rows = generate_rows(args.calls, seed=args.seed)
    for i, row in enumerate(rows):
        row["customer_id"] = f"CH-{i:05d}"  # distinct customers: the quiet window plays no part

    print(f"fault-free run of {args.calls} calls ...", flush=True)
    clean = run(args, rows, Rates.none(), "fault-free")
    expected = set(clean.alerts)
    print(json.dumps({"fault-free": summary(clean, expected)}, indent=2), flush=True)
    print(f"chaos run of the same {args.calls} calls ...", flush=True)
    chaos = run(args, rows, Rates(), "chaos")
    figures = summary(chaos, expected)
    print(json.dumps({"chaos": figures}, indent=2), flush=True)
    ok = (
        set(figures["alerts per alerted call"]) <= {1}
        and figures["expected alerts missing"] == 0
        and figures["messages left in queues"] == 0
        and figures["calls still open"] == 0
    )
    print("PASS" if ok else "FAIL: see the figures above", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
