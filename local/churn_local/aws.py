"""Local AWS: a moto server on 127.0.0.1, provisioned from the stack blueprint.

moto's own CloudFormation skips many resource types (policies, subscriptions,
EventInvokeConfig, ...), so the resources are created here, one API call each.
"""

from __future__ import annotations

import contextlib
import json
import logging
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from .spec import RuleSpec, StackSpec

log = logging.getLogger(__name__)

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def client(service: str, endpoint_url: str, region: str) -> Any:
    """A boto3 client for the local endpoint, with moto's fake credentials."""
    return boto3.session.Session().client(
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
    resource = boto3.session.Session().resource(
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


def provision(spec: StackSpec, endpoint_url: str) -> Wiring:
    """Create the blueprint's resources in local AWS; returns the local event wiring."""
    clients = {s: client(s, endpoint_url, spec.region) for s in ("s3", "dynamodb", "sns", "sqs", "events")}
    for queue in spec.queues:
        attributes = {k: v for k, v in queue.attributes.items() if k != "RedrivePolicy"}
        clients["sqs"].create_queue(QueueName=queue.name, Attributes=attributes)
    for queue in spec.queues:  # redrive targets must exist first
        if "RedrivePolicy" in queue.attributes:
            clients["sqs"].set_queue_attributes(
                QueueUrl=queue.url, Attributes={"RedrivePolicy": queue.attributes["RedrivePolicy"]}
            )
    for bucket in spec.buckets:
        _create_bucket(clients["s3"], spec.region, bucket.name)
        if bucket.versioned:
            clients["s3"].put_bucket_versioning(
                Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
            )
        if bucket.eventbridge:
            clients["s3"].put_bucket_notification_configuration(
                Bucket=bucket.name, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )
    for table in spec.tables:
        clients["dynamodb"].create_table(**table.create_args)
        if table.ttl_attribute:
            clients["dynamodb"].update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
    for topic in spec.topics:
        clients["sns"].create_topic(Name=topic.name, Attributes=topic.attributes)
    for subscription in spec.subscriptions:
        if subscription.protocol in {"email", "email-json"} and not subscription.endpoint:
            continue
        clients["sns"].subscribe(
            TopicArn=subscription.topic_arn,
            Protocol=subscription.protocol,
            Endpoint=subscription.endpoint,
            Attributes=subscription.attributes,
        )
    wiring = Wiring()
    for rule in spec.rules:
        _create_rule(clients, spec, rule, wiring)
    return wiring


def _create_bucket(s3: Any, region: str, name: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _create_rule(clients: dict[str, Any], spec: StackSpec, rule: RuleSpec, wiring: Wiring) -> None:
    events, sqs = clients["events"], clients["sqs"]
    if rule.event_bus != "default":
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=rule.event_bus)
    events.put_rule(Name=rule.name, EventPattern=json.dumps(rule.pattern), EventBusName=rule.event_bus)
    targets = []
    for target in rule.targets:
        arn = target.arn
        if target.function is not None:
            # Lambda targets are not invoked by moto: deliver to a queue the runner polls instead.
            queue_url = sqs.create_queue(QueueName=delivery_queue_name(rule, target.target_id))["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
                "QueueArn"
            ]
            wiring.delivery_queues.setdefault(target.function, []).append(queue_url)
        entry: dict[str, Any] = {"Id": target.target_id, "Arn": arn}
        for key in ("Input", "InputPath"):
            if key in target.extra:
                value = target.extra[key]
                entry[key] = value if isinstance(value, str) else json.dumps(value)
        targets.append(entry)
    if targets:
        events.put_targets(Rule=rule.name, EventBusName=rule.event_bus, Targets=targets)
    log.debug("rule %s -> %d target(s)", rule.name, len(targets))
