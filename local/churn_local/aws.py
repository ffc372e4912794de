"""Local AWS: a moto server on 127.0.0.1, where the template is deployed (``churn_local.spec``),
and the local event wiring: rules' Lambda targets delivered to queues the runner polls."""

from __future__ import annotations

import logging
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from .spec import RuleSpec, StackSpec

log = logging.getLogger(__name__)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


# One loader for every session here: a service's model is read and parsed once per process, not
# once per client (about 60 ms each; starting the stack made 26 clients).
_LOADER = botocore.loaders.create_loader()


def session(**kwargs: Any) -> boto3.session.Session:
    """A new boto3 session (sessions are not thread-safe: one per client) on the shared loader."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.session.Session(botocore_session=core, **kwargs)


def client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client for the local endpoint, with moto's fake credentials."""
    return session().client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=Config(retries={"max_attempts": 2, "mode": "standard"}),
    )


def table(name: str, endpoint_url: str, region: str) -> Any:
    """A boto3 DynamoDB Table resource on the local endpoint, with moto's fake credentials."""
    resource = session().resource(
        "dynamodb",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    )
    return resource.Table(name)


class LocalAws:
    """moto in server mode on loopback; ``url`` is the endpoint every local client uses."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.url = ""

    def start(self) -> LocalAws:
        # The werkzeug request log is one line per API call: too loud for a terminal demo.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        # moto keeps its state per process, not per server: a stack started after another in
        # the same process (tests, notebooks) would find the last one's tables. Start empty.
        reset = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")  # noqa: S310 - loopback
        urllib.request.urlopen(reset, timeout=10).close()  # noqa: S310 - our own loopback http URL
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class Wiring:
    """What provisioning created beyond the template: one delivery queue per function rule target."""

    # function logical id -> delivery queue URLs that the runner polls for it
    delivery_queues: dict[str, list[str]] = field(default_factory=dict)


def delivery_queue_name(rule: RuleSpec, target_id: str) -> str:
    return f"local-delivery-{rule.name}-{target_id}"[:80].replace(".", "-")


def wire(spec: StackSpec, endpoint_url: str) -> Wiring:
    """Point each deployed rule's Lambda targets at a local delivery queue the runner polls.

    moto's EventBridge would invoke moto's Lambda (Docker); locally the runner is the Lambda
    service. Rules with a schedule are run by the stack's own timer, not through a queue.
    """
    events = client("events", endpoint_url, spec.region)
    sqs = client("sqs", endpoint_url, spec.region)
    wiring = Wiring()
    for rule in spec.rules:
        if rule.schedule:
            # The stack's timer invokes scheduled functions; left in place, moto's PutEvents tries
            # every pattern-less rule's Lambda target for every event and fails (500).
            lambda_ids = [t.target_id for t in rule.targets if t.function is not None]
            if lambda_ids:
                events.remove_targets(Rule=rule.name, EventBusName=rule.event_bus, Ids=lambda_ids)
            continue
        replaced = []
        for target in rule.targets:
            if target.function is None:
                continue
            queue_url = sqs.create_queue(QueueName=delivery_queue_name(rule, target.target_id))["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            wiring.delivery_queues.setdefault(target.function, []).append(queue_url)
            entry: dict[str, Any] = {"Id": target.target_id, "Arn": arn}
            entry.update({k: v for k, v in target.extra.items() if k in {"Input", "InputPath"}})
            replaced.append(entry)
        if replaced:
            events.put_targets(Rule=rule.name, EventBusName=rule.event_bus, Targets=replaced)
        log.debug("rule %s -> %d local delivery target(s)", rule.name, len(replaced))
    return wiring
