"""The live path on one machine, wired together: :class:`LiveLocal` beside a running local stack.

The stack (churn_local.stack) deploys the post-call template (profiles, the quiet window, the
model server); :mod:`.resources` adds the LiveCalls resources; the live function and the agents'
handlers run in this process, on the same code the template deploys, reached by:
- :class:`~.poller.ShardPoller`: the Kinesis event source mapping (batches, partial failures,
  retries, bisect, the on-failure queue);
- the bus rule's queue -> ``push_handler`` (as the local stack delivers EventBridge rules);
- :class:`~.socket.AgentSocket`: the WebSocket API and its ``@connections`` endpoint.

Unlike the stack's functions, these run as the local admin, not as their template roles.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..aws import FAKE_CREDENTIALS
from .poller import MappingSettings, ShardPoller
from .producer import SegmentWriter
from .resources import LiveResources, create, mapping_settings
from .socket import AgentSocket

ROOT = Path(__file__).resolve().parents[3]
log = logging.getLogger(__name__)


def _import_functions() -> tuple[Any, Any]:
    path = str(ROOT / "functions" / "live_score")
    if path not in sys.path:
        sys.path.insert(0, path)
    from live_score import agents, handler

    return handler, agents


class LiveLocal:
    def __init__(
        self,
        stack: Any,
        *,
        template: str | Path = ROOT / "template.yaml",
        rescore_seconds: float = 10.0,
        thresholds: tuple[float, float] | None = None,
    ) -> None:
        self.stack, self.template = stack, Path(template)
        self.rescore_seconds = rescore_seconds
        self.thresholds = thresholds
        self.resources: LiveResources | None = None
        self.poller: ShardPoller | None = None
        self.socket: AgentSocket | None = None
        self.writer: SegmentWriter | None = None
        self.pushes = 0
        self.updates: list[dict[str, Any]] = []  # every Churn Risk Updated detail the bus delivered
        self.delivered_at: dict[str, float] = {}  # contact -> perf_counter when its last update left the bus
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        # The handlers run in this process and read their settings from os.environ; what start()
        # changes is put back at stop(), so a later stack or test in the process is not pointed here.
        self._saved_environ: dict[str, str | None] = {}

    def _environment(self, resources: LiveResources) -> dict[str, str]:
        spec, endpoints = self.stack.spec, self.stack.endpoints
        score_env = spec.function("ScoreCallFunction").environment
        medium, high = self.thresholds or (
            float(score_env["MEDIUM_RISK_THRESHOLD"]),
            float(score_env["HIGH_RISK_THRESHOLD"]),
        )
        return {
            **FAKE_CREDENTIALS,
            "AWS_DEFAULT_REGION": endpoints.region,
            "AWS_ENDPOINT_URL": endpoints.aws,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": endpoints.sagemaker_runtime or endpoints.aws,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "ChurnAlerts",
            # No CloudWatch here: the metrics' EMF lines would only fill the terminal.
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("CHURN_LIVE_METRICS_DISABLED", "true"),
            "POWERTOOLS_SERVICE_NAME": "live-score",
            "POWERTOOLS_LOG_LEVEL": os.environ.get("CHURN_LIVE_LOG_LEVEL", "WARNING"),
            "CONTACTS_TABLE": resources.contacts_table,
            "PROFILES_TABLE": score_env["PROFILES_TABLE"],
            "CUSTOMER_ALERTS_TABLE": score_env["CUSTOMER_ALERTS_TABLE"],
            "ENDPOINT_NAME": score_env["ENDPOINT_NAME"],
            "EVENT_BUS_NAME": resources.bus_name,
            "MEDIUM_RISK_THRESHOLD": str(medium),
            "HIGH_RISK_THRESHOLD": str(high),
            "ALERT_SUPPRESSION_DAYS": score_env.get("ALERT_SUPPRESSION_DAYS", "7"),
            "RESCORE_INTERVAL_SECONDS": str(self.rescore_seconds),
            "CONTACT_TTL_HOURS": "12",
            "CONNECTIONS_TABLE": resources.connections_table,
        }

    def start(self) -> LiveLocal:
        self.resources = resources = create(self.stack.client, self.template)
        self._set_environ(self._environment(resources))
        self.handler, self.agents = _import_functions()
        self.socket = AgentSocket(
            self.agents.connect_handler,
            self.agents.disconnect_handler,
            routes={"current": self.agents.current_handler},
        ).start()
        self._set_environ({"CONNECTIONS_ENDPOINT": self.socket.management_url})
        self.handler.reset()
        self.agents.reset()
        settings = MappingSettings.from_template(mapping_settings(self.template))
        self.poller = ShardPoller(
            self.stack.client("kinesis"),
            self.stack.client("sqs"),
            resources.stream_name,
            resources.stream_arn,
            self._invoke,
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

    def _invoke(self, event: dict[str, Any], context: Any) -> Any:
        # One function instance at a time in this process (Powertools' logger and metrics are
        # per process, as on Lambda).
        with self._lock:
            return self.handler.lambda_handler(event, context)

    def _deliver_updates(self) -> None:
        """The bus rule's target: each Churn Risk Updated event to the push function."""
        assert self.resources is not None
        sqs = self.stack.client("sqs")
        while not self._stop.is_set():
            messages = sqs.receive_message(
                QueueUrl=self.resources.updates_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            for message in messages:
                event = json.loads(message["Body"])
                contact = (event.get("detail") or {}).get("contact_id")
                if isinstance(contact, str):
                    self.delivered_at[contact] = time.perf_counter()
                try:
                    self.agents.push_handler(event, None)
                    self.pushes += 1
                    self.updates.append(event.get("detail") or {})
                except Exception as exc:  # left on the queue: delivered again after its visibility timeout
                    log.warning("Agent push failed: %s", type(exc).__name__)
                    continue
                sqs.delete_message(
                    QueueUrl=self.resources.updates_queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

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
        """Until the poller has read nothing new for ``settle_s`` (and ``until`` holds)."""
        assert self.poller is not None
        deadline = time.monotonic() + timeout_s
        seen, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = self.poller.counters.records_in + self.pushes
            if count != seen:
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
        self._restore_environ()

    def _set_environ(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_environ.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _restore_environ(self) -> None:
        for name, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_environ.clear()

    def __enter__(self) -> LiveLocal:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
