"""Run the template's functions locally with Lambda's asynchronous-invocation semantics.

EventBridge invokes Lambda asynchronously: a failed invocation is retried
(``MaximumRetryAttempts``, 2 by default), then the event goes to the function's
on-failure destination as an invocation record. Locally each rule's Lambda target is
a delivery queue; :class:`EventRunner` polls it and hands each event to
:class:`AsyncInvoker`, which runs the handler in a :class:`FunctionProcess`.

Lambda's asynchronous queue does not hold the next event back while one waits for its retry:
each route runs up to ``concurrency`` events at once, so retry waits overlap. Lambda also scales
a function out to more execution environments while events wait: :class:`FunctionPool` keeps up
to ``CHURN_LOCAL_CONCURRENCY`` (4) warm environments per function, fewer where the function's
reserved concurrency says so, and each environment still runs one event at a time.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .spec import Destination, FunctionSpec

log = logging.getLogger(__name__)

LogSink = Callable[[str, str], None]


def print_log(function: str, line: str) -> None:
    print(f"[{function}] {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Invocation:
    """One run of a handler: its result, or Lambda's error payload."""

    request_id: str
    ok: bool
    result: Any = None
    error: dict[str, Any] | None = None
    duration_s: float = 0.0


WORKER = Path(__file__).with_name("worker.py")


def runtime_interpreter(runtime: str, near: Path) -> tuple[str, str | None]:
    """The Python for a Lambda runtime (``python3.13``), and why it is another one, if it is.

    This interpreter when its version matches; else ``CHURN_LOCAL_PYTHON``, else the repo's
    ``.venv-fn313`` (``make functions-py313`` builds it, with the functions' dependencies), found
    from the function's folder upwards; else this interpreter, with the reason.
    """
    version = runtime.removeprefix("python")
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    if not runtime.startswith("python") or version == here:
        return sys.executable, None
    override = os.environ.get("CHURN_LOCAL_PYTHON")
    if override:
        return override, None
    venv = f".venv-fn{version.replace('.', '')}"
    for folder in (near, *near.parents):
        candidate = folder / venv / "bin" / "python"
        if candidate.is_file():
            return str(candidate), None
    return sys.executable, f"runs on Python {here}, not {version}: no {venv} (make functions-py313 builds it)"


def code_stamp(folders: Sequence[Path]) -> tuple[int, int]:
    """(file count, newest mtime in ns) of the Python sources in the function's code and layers."""
    count, newest = 0, 0
    for folder in folders:
        for path in folder.rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            count += 1
            newest = max(newest, path.stat().st_mtime_ns)
    return count, newest


class FunctionProcess:
    """A warm execution environment for one function: a worker process with the function's env.

    Each function gets its own process, so two functions never share ``os.environ`` or
    module-level clients, as on Lambda. The worker runs on the function's runtime (Python 3.13
    from ``.venv-fn313`` when there is one). Before each invocation the sources' mtimes are
    compared with those the worker started from: after an edit, the warm worker is replaced by a
    fresh one, so the running stack never runs old code.
    """

    def __init__(self, spec: FunctionSpec, environment: Mapping[str, str], log_sink: LogSink = print_log):
        self.spec = spec
        self._environment = dict(environment)
        self._log_sink = log_sink
        self._process: subprocess.Popen[str] | None = None
        self._replies: Any = None
        self._log_thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._folders = (spec.code_uri, *spec.layer_paths)
        self._stamp: tuple[int, int] | None = None
        self.python, why = runtime_interpreter(spec.runtime, spec.code_uri)
        self.starts = 0
        if why:
            log_sink(spec.logical_id, f"[local] {why}")

    def _start(self) -> None:
        self._stamp = code_stamp(self._folders)
        self.starts += 1
        read_fd, write_fd = os.pipe()
        paths = [str(self.spec.code_uri), *(str(p) for p in self.spec.layer_paths)]
        # The worker is stdlib only and run by path (-P: its folder is not put on sys.path), so any
        # interpreter can run it without this project installed.
        command = [self.python, "-P", str(WORKER), "--handler", self.spec.handler]
        for path in paths:
            command += ["--path", path]
        command += ["--reply-fd", str(write_fd)]
        self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self._environment,
            cwd=str(self.spec.code_uri),
            text=True,
            pass_fds=(write_fd,),
        )
        os.close(write_fd)
        self._replies = os.fdopen(read_fd, "r")
        self._log_thread = threading.Thread(target=self._stream_logs, args=(self._process,), daemon=True)
        self._log_thread.start()

    def _stream_logs(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        for line in process.stderr:
            self._log_sink(self.spec.logical_id, line.rstrip("\n"))

    def warm(self) -> None:
        """Start the environment now: its init (imports, clients) runs before the first event."""
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._start()

    def invoke(self, event: Any) -> Invocation:
        """Run the handler once; a timeout kills the environment, as Lambda does."""
        with self._lock:
            if self._process is not None and code_stamp(self._folders) != self._stamp:
                self._log_sink(self.spec.logical_id, "[local] code changed: starting a fresh environment")
                self._stop()
            if self._process is None or self._process.poll() is not None:
                self._start()
            assert self._process is not None and self._process.stdin is not None
            request_id = str(uuid.uuid4())
            started = time.monotonic()
            request = {"request_id": request_id, "event": event, "timeout_ms": self.spec.timeout_s * 1000}
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            reply = self._read_reply(self.spec.timeout_s)
            duration = time.monotonic() - started
            if reply is None:
                # The reply pipe closes when the worker exits, before the exit can be reaped: no
                # reply within the timeout is a timeout; an early end of the pipe is an exit.
                alive = duration >= self.spec.timeout_s and self._process.poll() is None
                self._kill()
                message = (
                    f"Task timed out after {self.spec.timeout_s:.2f} seconds"
                    if alive
                    else "Runtime exited without providing a reason"
                )
                kind = "Sandbox.Timedout" if alive else "Runtime.ExitError"
                return Invocation(
                    request_id, False, error={"errorType": kind, "errorMessage": message}, duration_s=duration
                )
            if reply["ok"]:
                return Invocation(request_id, True, result=reply["result"], duration_s=duration)
            return Invocation(request_id, False, error=reply["error"], duration_s=duration)

    def _read_reply(self, timeout_s: float) -> dict[str, Any] | None:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self._replies.readline()), daemon=True)
        reader.start()
        reader.join(timeout_s)
        if not box or not box[0]:
            return None
        return json.loads(box[0])

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._process = None
            if self._replies is not None:
                self._replies.close()
                self._replies = None

    def _stop(self) -> None:
        if self._process is not None and self._process.stdin is not None:
            try:
                self._process.stdin.close()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill()

    def close(self) -> None:
        with self._lock:
            self._stop()
            if self._log_thread is not None:
                self._log_thread.join(timeout=2)


DEFAULT_CONCURRENCY = 4


def pool_size(spec: FunctionSpec, limit: int | None = None) -> int:
    """Environments for ``spec``: ``limit`` (or ``CHURN_LOCAL_CONCURRENCY``, default 4), no more than
    the function's reserved concurrency, and at least one."""
    if limit is None:
        limit = int(os.environ.get("CHURN_LOCAL_CONCURRENCY", DEFAULT_CONCURRENCY))
    if spec.reserved_concurrency is not None:
        limit = min(limit, spec.reserved_concurrency)
    return max(1, limit)


class FunctionPool:
    """A function's warm environments, as Lambda scales it out: up to ``size`` at once.

    An invocation takes an idle environment, or starts one while fewer than ``size`` exist, or
    waits for one to free up (Lambda's async queue holds the event while the function is at its
    concurrency limit). Environments start on demand, so a function that never runs two events at
    once keeps one process. ``environment`` is a mapping, or a factory of one per environment's
    index (the chaos benchmark gives each environment its own fault proxy).
    """

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str] | Callable[[int], Mapping[str, str]],
        log_sink: LogSink = print_log,
        size: int | None = None,
    ):
        self.spec = spec
        self.size = pool_size(spec, size)
        self._environment = environment
        self._log_sink = log_sink
        self.environments: list[FunctionProcess] = []
        self._idle: list[FunctionProcess] = []
        self._free = threading.Condition()
        self._closed = False

    @property
    def starts(self) -> int:
        return sum(environment.starts for environment in self.environments)

    @property
    def peak(self) -> int:
        """Environments started so far: the most the function has run at once."""
        return len(self.environments)

    def _acquire(self) -> FunctionProcess:
        with self._free:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.spec.logical_id}: the function's environments are closed")
                if self._idle:
                    # The most recently used one: warm, as Lambda prefers.
                    return self._idle.pop()
                if len(self.environments) < self.size:
                    return self._new_environment()
                self._free.wait()

    def _release(self, process: FunctionProcess) -> None:
        with self._free:
            self._idle.append(process)
            self._free.notify()

    def warm(self) -> None:
        """Start the first environment ahead of the first event, as Lambda's provisioned
        concurrency of one would: the stack pays its cold start while nothing waits for it."""
        with self._free:
            if self.environments or self._closed:
                return
            process = self._new_environment()
            self._idle.append(process)
        process.warm()

    def _new_environment(self) -> FunctionProcess:
        index = len(self.environments)
        environment = self._environment(index) if callable(self._environment) else self._environment
        process = FunctionProcess(self.spec, environment, self._log_sink)
        self.environments.append(process)
        return process

    def invoke(self, event: Any) -> Invocation:
        """Run the handler once in a free environment (see :meth:`FunctionProcess.invoke`)."""
        process = self._acquire()
        try:
            return process.invoke(event)
        finally:
            self._release(process)

    def close(self) -> None:
        with self._free:
            self._closed = True
            self._free.notify_all()
            environments = list(self.environments)
        for process in environments:
            process.close()


@dataclass(frozen=True)
class Outcome:
    """An event's fate after Lambda's async retries."""

    function: str
    event: Any
    invocations: tuple[Invocation, ...]
    condition: str  # Success | RetriesExhausted | EventAgeExceeded

    @property
    def ok(self) -> bool:
        return self.condition == "Success"


class DestinationSender:
    """Delivers invocation records to SQS, SNS, EventBridge or another local function."""

    def __init__(self, clients: Callable[[str], Any], functions: Mapping[str, AsyncInvoker] | None = None):
        self._clients = clients
        self.functions: dict[str, AsyncInvoker] = dict(functions or {})

    def send(self, destination: Destination, record: Mapping[str, Any]) -> None:
        body = json.dumps(record)
        service = destination.service
        if service == "sqs":
            name = destination.arn.split(":")[-1]
            sqs = self._clients("sqs")
            sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=body)
        elif service == "sns":
            self._clients("sns").publish(TopicArn=destination.arn, Message=body)
        elif service == "events":
            success = record["requestContext"]["condition"] == "Success"
            self._clients("events").put_events(
                Entries=[
                    {
                        "Source": "lambda",
                        "DetailType": f"Lambda Function Invocation Result - {'Success' if success else 'Failure'}",
                        "Detail": body,
                        "EventBusName": destination.arn,
                        "Resources": [destination.arn],
                    }
                ]
            )
        elif service == "lambda":
            target = next((f for f in self.functions.values() if f.spec.arn == destination.arn), None)
            if target is None:
                raise ValueError(f"destination function {destination.arn} is not in the template")
            threading.Thread(target=target.invoke_async, args=(dict(record),), daemon=True).start()
        else:
            raise ValueError(f"unsupported destination {destination.arn}")


def destination_refusals(spec: FunctionSpec, destination: Destination) -> list[tuple[str, str, str]]:
    """What the function's role lacks to send an invocation record to ``destination`` (none when the
    spec carries no policies: a runner outside a deployed stack)."""
    if not spec.policies:
        return []
    from .iam import decide

    action = {
        "sqs": "sqs:SendMessage",
        "sns": "sns:Publish",
        "events": "events:PutEvents",
        "lambda": "lambda:InvokeFunction",
    }.get(destination.service)
    if action is None:
        return []
    decision = decide(spec.policies, action, destination.arn)
    return [] if decision == "Allow" else [(action, destination.arn, decision)]


def invocation_record(
    spec: FunctionSpec, event: Any, outcome_invocations: Sequence[Invocation], condition: str
) -> dict:
    """The record Lambda sends to an async destination (same shape for success and failure)."""
    last = outcome_invocations[-1] if outcome_invocations else None
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if last is not None and not last.ok:
        response_context["functionError"] = "Unhandled"
    return {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": last.request_id if last else str(uuid.uuid4()),
            "functionArn": f"{spec.arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": len(outcome_invocations),
        },
        "requestPayload": event,
        "responseContext": response_context,
        "responsePayload": (last.result if last.ok else last.error) if last else None,
    }


class AsyncInvoker:
    """Lambda's asynchronous invocation: retries, event age, then destinations."""

    def __init__(
        self,
        spec: FunctionSpec,
        process: FunctionProcess | FunctionPool,
        destinations: DestinationSender,
        retry_delays_s: Sequence[float] = (1.0, 2.0),
        on_outcome: Callable[[Outcome], None] | None = None,
    ):
        self.spec = spec
        self.process = process
        self._destinations = destinations
        # Lambda waits about 1 then 2 minutes between retries; locally seconds keep runs short.
        self._retry_delays = tuple(retry_delays_s)
        self._on_outcome = on_outcome
        self.counts: Counter[str] = Counter()

    def invoke_async(self, event: Any, received_at: float | None = None) -> Outcome:
        received_at = time.time() if received_at is None else received_at
        invocations: list[Invocation] = []
        condition = "RetriesExhausted"
        for attempt in range(self.spec.max_retries + 1):
            if time.time() - received_at > self.spec.max_event_age_s:
                condition = "EventAgeExceeded"
                break
            if attempt:
                time.sleep(
                    self._retry_delays[min(attempt - 1, len(self._retry_delays) - 1)]
                    if self._retry_delays
                    else 0
                )
            invocation = self.process.invoke(event)
            invocations.append(invocation)
            if invocation.ok:
                condition = "Success"
                break
            log.warning(
                "%s failed (attempt %d of %d): %s",
                self.spec.logical_id,
                attempt + 1,
                self.spec.max_retries + 1,
                (invocation.error or {}).get("errorType"),
            )
        outcome = Outcome(self.spec.logical_id, event, tuple(invocations), condition)
        self.counts["invocations"] += len(invocations)
        self.counts["errors"] += sum(1 for i in invocations if not i.ok)
        self.counts["succeeded" if outcome.ok else "failed"] += 1
        destination = self.spec.on_success if outcome.ok else self.spec.on_failure
        refused = destination_refusals(self.spec, destination) if destination is not None else []
        if destination is not None and refused:
            # Lambda sends the record with the function's role: without the permission it is lost.
            self.counts["destination_failures"] += 1
            log.error(
                "%s: the invocation record was not sent to %s: its role does not allow %s",
                self.spec.logical_id,
                destination.arn,
                ", ".join(action for action, _, _ in refused),
            )
        elif destination is not None:
            self._destinations.send(destination, invocation_record(self.spec, event, invocations, condition))
        elif not outcome.ok:
            log.error(
                "%s: event dropped after %s (no on-failure destination)", self.spec.logical_id, condition
            )
        if self._on_outcome is not None:
            self._on_outcome(outcome)
        return outcome


def normalize_event(event: Any, account: str) -> Any:
    """Undo moto's known deviations from the events EventBridge really delivers.

    moto's S3 events say ``reason: "ObjectCreated"`` (AWS: the API, e.g. ``PutObject``),
    ``eTag`` (AWS: ``etag``) and ``version-id: "null"`` for unversioned buckets (AWS: absent);
    ``PutEvents`` events lack ``account``.
    """
    if not isinstance(event, dict) or "detail-type" not in event:
        return event
    event.setdefault("account", account)
    detail = event.get("detail")
    if event.get("source") == "aws.s3" and isinstance(detail, dict):
        if detail.get("reason") == "ObjectCreated":
            detail["reason"] = "PutObject"
        obj = detail.get("object")
        if isinstance(obj, dict):
            if "eTag" in obj:
                obj["etag"] = obj.pop("eTag")
            if obj.get("version-id") == "null":
                del obj["version-id"]
    return event


@dataclass
class _Route:
    queue_url: str
    invoker: AsyncInvoker


@dataclass
class EventRunner:
    """Polls each function's delivery queues and invokes the function for every event."""

    sqs: Any
    account: str
    routes: list[_Route] = field(default_factory=list)
    poll_wait_s: int = 1
    # Events of one route in flight at once. One at a time, a failed event's 1 s + 2 s retry
    # waits stalled every event behind it: 1,000 calls with 2 % throttling never settled.
    concurrency: int = 4
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _busy: Counter[str] = field(default_factory=Counter)
    _busy_lock: threading.Lock = field(default_factory=threading.Lock)

    def add_route(self, queue_url: str, invoker: AsyncInvoker) -> None:
        self.routes.append(_Route(queue_url, invoker))

    def start(self) -> EventRunner:
        for route in self.routes:
            thread = threading.Thread(
                target=self._poll, args=(route,), daemon=True, name=f"runner-{route.invoker.spec.logical_id}"
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.poll_wait_s + 5)

    @property
    def busy(self) -> int:
        with self._busy_lock:
            return sum(self._busy.values())

    def _poll(self, route: _Route) -> None:
        slots = threading.BoundedSemaphore(self.concurrency)
        while not self._stop.is_set():
            # Receive only as many events as there are free slots: a received event is deleted at
            # once (Lambda's queue owns it), so none waits in memory for a slot.
            if not slots.acquire(timeout=self.poll_wait_s):
                continue
            free = 1
            while free < min(self.concurrency, 10) and slots.acquire(blocking=False):
                free += 1
            try:
                response = self.sqs.receive_message(
                    QueueUrl=route.queue_url,
                    MaxNumberOfMessages=free,
                    WaitTimeSeconds=self.poll_wait_s,
                    AttributeNames=["SentTimestamp"],
                )
            except Exception:
                for _ in range(free):
                    slots.release()
                if self._stop.is_set():
                    return
                log.exception("polling %s failed", route.queue_url)
                time.sleep(1)
                continue
            messages = response.get("Messages", [])
            for _ in range(free - len(messages)):
                slots.release()
            for message in messages:
                with self._busy_lock:
                    self._busy[route.queue_url] += 1
                threading.Thread(
                    target=self._deliver,
                    args=(route, message, slots),
                    daemon=True,
                    name=f"event-{route.invoker.spec.logical_id}",
                ).start()

    def _deliver(self, route: _Route, message: dict[str, Any], slots: threading.BoundedSemaphore) -> None:
        try:
            # Lambda's async queue owns the event from here on, whatever the handler does.
            self.sqs.delete_message(QueueUrl=route.queue_url, ReceiptHandle=message["ReceiptHandle"])
            event = normalize_event(json.loads(message["Body"]), self.account)
            sent_at = int(message.get("Attributes", {}).get("SentTimestamp", time.time() * 1000)) / 1000
            route.invoker.invoke_async(event, received_at=sent_at)
        except Exception:
            log.exception("delivering an event to %s failed", route.invoker.spec.logical_id)
        finally:
            with self._busy_lock:
                self._busy[route.queue_url] -= 1
            slots.release()
