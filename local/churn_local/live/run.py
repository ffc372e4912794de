"""The live path on one machine, wired together: :class:`LiveLocal` beside a running local stack.

The stack (churn_local.stack) deploys template.yaml with ``LiveCalls=true``: the stream, tables,
bus, rule, failure queue and the five live functions with their roles (:mod:`.resources` reads
them back and fills the stream's gaps). Each live function runs as the stack's functions do: in
its own worker process on its runtime, with its template environment and its role's credentials
(STS AssumeRole), every AWS call checked against that role's policies (``churn_local.iam``). They
are reached by:
- :class:`~.poller.ShardPoller`: the Kinesis event source mapping (batches, partial failures,
  retries, bisect, the on-failure queue) -> LiveScoreFunction;
- the bus rule's delivery queue -> AgentPushFunction (as the local stack delivers EventBridge rules);
- :class:`~.socket.AgentSocket`: the WebSocket API ($connect, $disconnect, ``current``) and its
  ``@connections`` endpoint, which the functions reach at the URL the deployment gave them.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from ..runner import FunctionProcess, LogSink, print_log
from ..stack import LocalStack, function_environment, function_identity
from .poller import MappingSettings, ShardPoller
from .producer import SegmentWriter
from .resources import FUNCTIONS, LiveResources, from_stack, mapping_settings
from .socket import AgentSocket

ROOT = Path(__file__).resolve().parents[3]
log = logging.getLogger(__name__)
# The parameters the stack must be deployed with for the live path.
LIVE_PARAMETERS = {"LiveCalls": "true"}


def live_stack(
    sagemaker_runtime_url: str, *, parameters: dict[str, str] | None = None, **options: Any
) -> LocalStack:
    """A local stack for the live path: LiveCalls=true, no post-call functions or transcription
    (``options`` go to :class:`~churn_local.stack.LocalStack`: progress, call_log, ...)."""
    return LocalStack(
        sagemaker_runtime_url=sagemaker_runtime_url,
        transcribe=False,
        run_functions=False,
        parameters={**LIVE_PARAMETERS, **(parameters or {})},
        **options,
    )


class FunctionError(RuntimeError):
    """The function's invocation failed (Lambda's error payload)."""

    def __init__(self, function: str, error: dict[str, Any] | None) -> None:
        self.error = error or {}
        super().__init__(f"{function}: {self.error.get('errorType')}: {self.error.get('errorMessage')}")


class LiveLocal:
    def __init__(
        self,
        stack: Any,
        *,
        template: str | Path = ROOT / "template.yaml",
        rescore_seconds: float | None = None,
        thresholds: tuple[float, float] | None = None,
        log_sink: LogSink = print_log,
    ) -> None:
        self.stack, self.template = stack, Path(template)
        # Overrides of the deployed LiveRescoreSeconds and risk thresholds (None: as deployed).
        self.rescore_seconds = rescore_seconds
        self.thresholds = thresholds
        self.log_sink = log_sink
        self.resources: LiveResources | None = None
        self.poller: ShardPoller | None = None
        self.socket: AgentSocket | None = None
        self.writer: SegmentWriter | None = None
        self.processes: dict[str, FunctionProcess] = {}
        self.pushes = 0
        self.updates: list[dict[str, Any]] = []  # every Churn Risk Updated detail the bus delivered
        self.delivered_at: dict[str, float] = {}  # contact -> perf_counter when its last update left the bus
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Updates taken off the bus rule's queue and not yet pushed (a cold push worker takes seconds).
        self._pushing = 0
        self._work_dir: tempfile.TemporaryDirectory[str] | None = None

    def _overrides(self, environment: dict[str, str]) -> dict[str, str]:
        """What differs from the deployment here: the local socket's URL, quieter logs, the overrides."""
        extra = {
            # No CloudWatch here: the metrics' EMF lines would only fill the terminal.
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("CHURN_LIVE_METRICS_DISABLED", "true"),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("CHURN_LIVE_LOG_LEVEL", "WARNING"),
        }
        if "CONNECTIONS_ENDPOINT" in environment:
            assert self.socket is not None
            extra["CONNECTIONS_ENDPOINT"] = local_connections_endpoint(
                environment["CONNECTIONS_ENDPOINT"], self.socket.management_url
            )
        if self.rescore_seconds is not None and "RESCORE_INTERVAL_SECONDS" in environment:
            extra["RESCORE_INTERVAL_SECONDS"] = str(self.rescore_seconds)
        if self.thresholds is not None and "HIGH_RISK_THRESHOLD" in environment:
            extra["MEDIUM_RISK_THRESHOLD"], extra["HIGH_RISK_THRESHOLD"] = map(str, self.thresholds)
        return extra

    def _start_functions(self) -> None:
        stack = self.stack
        self._work_dir = tempfile.TemporaryDirectory(prefix="churn-live-iam-")
        for logical_id in FUNCTIONS:
            spec = stack.spec.function(logical_id)
            identity = function_identity(
                stack.spec,
                spec,
                stack.endpoints,
                Path(self._work_dir.name),
                enforce=stack.enforce_iam,
                record=stack.call_log,
            )
            environment = function_environment(spec, stack.endpoints, identity)
            environment.update(self._overrides(environment))
            self.processes[logical_id] = FunctionProcess(spec, environment, self.log_sink)

    def function(self, logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
        """Invoke the function's worker synchronously; a failed invocation raises :class:`FunctionError`."""

        def invoke(event: dict[str, Any], context: Any = None) -> Any:
            invocation = self.processes[logical_id].invoke(event)
            if not invocation.ok:
                raise FunctionError(logical_id, invocation.error)
            return invocation.result

        return invoke

    def _route(self, logical_id: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
        """A WebSocket route's integration: a failed function is API Gateway's 500."""
        invoke = self.function(logical_id)

        def route(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
            try:
                return invoke(event, context)
            except FunctionError as exc:
                log.warning("%s", exc)
                return {"statusCode": 500, "body": json.dumps({"message": "Internal server error"})}

        return route

    def start(self) -> LiveLocal:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LiveLocal:
        self.resources = resources = from_stack(self.stack)
        self.socket = AgentSocket(
            self._route("AgentConnectFunction"),
            self._route("AgentDisconnectFunction"),
            routes={"current": self._route("AgentCurrentFunction")},
        ).start()
        self._start_functions()
        settings = MappingSettings.from_template(mapping_settings(self.template))
        self.poller = ShardPoller(
            self.stack.client("kinesis"),
            self.stack.client("sqs"),
            resources.stream_name,
            resources.stream_arn,
            self.function("LiveScoreFunction"),
            settings,
            resources.failures_queue_url,
            region=self.stack.region,
            starting_position="TRIM_HORIZON",
        ).start()
        thread = threading.Thread(target=self._deliver_updates, daemon=True)
        thread.start()
        self._threads.append(thread)
        self.writer = SegmentWriter(self.stack.client("kinesis"), resources.stream_name)
        return self

    def _deliver_updates(self) -> None:
        """The bus rule's target: each Churn Risk Updated event to the push function."""
        assert self.resources is not None
        sqs = self.stack.client("sqs")
        while not self._stop.is_set():
            messages = sqs.receive_message(
                QueueUrl=self.resources.updates_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            self._pushing = len(messages)
            for message in messages:
                event = json.loads(message["Body"])
                contact = (event.get("detail") or {}).get("contact_id")
                if isinstance(contact, str):
                    self.delivered_at[contact] = time.perf_counter()
                try:
                    self.function("AgentPushFunction")(event, None)
                    self.pushes += 1
                    self.updates.append(event.get("detail") or {})
                except Exception as exc:  # left on the queue: delivered again after its visibility timeout
                    log.warning("Agent push failed: %s", type(exc).__name__)
                    continue
                sqs.delete_message(
                    QueueUrl=self.resources.updates_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
            self._pushing = 0

    def seed_contact(self, contact_id: str, customer_id: str) -> None:
        """What the contact flow's attribute gives on AWS (Connect's GetContactAttributes is not in moto)."""
        assert self.resources is not None
        self.stack.table(self.resources.contacts_table).put_item(
            Item={
                "contact_id": contact_id,
                "customer_id": customer_id,
                "customer_looked_up": True,
                "status": "LIVE",
                "turns": {},
                "version": 0,
                "expires_at": int(time.time()) + 3600,
            }
        )

    def contact(self, contact_id: str) -> dict[str, Any] | None:
        assert self.resources is not None
        return (
            self.stack.table(self.resources.contacts_table)
            .get_item(Key={"contact_id": contact_id}, ConsistentRead=True)
            .get("Item")
        )

    def wait_idle(
        self, settle_s: float = 1.0, timeout_s: float = 60.0, until: Callable[[], bool] | None = None
    ) -> None:
        """Until the poller has read nothing new and no update was pushed for ``settle_s``, none is
        being pushed (and ``until`` holds)."""
        assert self.poller is not None
        deadline = time.monotonic() + timeout_s
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = self.poller.counters.records_in + self.pushes
            if count != seen or self._pushing:
                seen, quiet_since = count, time.monotonic()
            elif time.monotonic() - quiet_since >= settle_s and (until is None or until()):
                return
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        if self.poller is not None:
            self.poller.stop()
        if self.socket is not None:
            self.socket.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        for process in self.processes.values():
            process.close()
        if self._work_dir is not None:
            self._work_dir.cleanup()

    def __enter__(self) -> LiveLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def local_connections_endpoint(deployed: str, management_url: str) -> str:
    """The deployed ``https://{api}.execute-api.{region}.amazonaws.com/{stage}`` on the local socket:
    ``{management_url}/{api}/{stage}``, so the IAM check still sees the API id and stage it authorises
    (``execute-api:ManageConnections`` on ``{api}/{stage}/POST/@connections/*``)."""
    url = urlparse(deployed)
    api = (url.hostname or "").split(".", 1)[0]
    return f"{management_url.rstrip('/')}/{api}{url.path.rstrip('/')}"
