"""What the template declares, resolved to local names: the local stack's blueprint.

Only the resource kinds the pipeline's data and event paths need are emulated
(buckets, tables, topics, subscriptions, queues, rules, functions); the rest
(IAM, KMS, alarms, policies, log groups, SageMaker resources) are listed as skipped.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .template import (
    DEFAULT_ACCOUNT,
    DEFAULT_MAX_EVENT_AGE_S,
    DEFAULT_MAX_RETRIES,
    DEFAULT_REGION,
    DEFAULT_STACK_NAME,
    Resolver,
    TemplateError,
    check_parameters,
    load_template,
)


@dataclass(frozen=True)
class BucketSpec:
    logical_id: str
    name: str
    eventbridge: bool
    versioned: bool


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    create_args: dict[str, Any]
    ttl_attribute: str | None


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    name: str
    arn: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class SubscriptionSpec:
    topic_arn: str
    protocol: str
    endpoint: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    url: str
    arn: str
    attributes: dict[str, str]


@dataclass(frozen=True)
class Destination:
    """An async-invocation or rule destination: an ARN of a queue, topic, bus or function."""

    arn: str

    @property
    def service(self) -> str:
        return self.arn.split(":")[2]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout_s: int
    memory_mb: int
    max_retries: int = DEFAULT_MAX_RETRIES
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_failure: Destination | None = None
    on_success: Destination | None = None
    # Folders of the function's layers (SAM ContentUri), put on its import path as Lambda does.
    layer_paths: tuple[Path, ...] = ()
    # The Lambda runtime (python3.13): the runner looks for that interpreter (.venv-fn313).
    runtime: str = ""


@dataclass(frozen=True)
class TargetSpec:
    target_id: str
    arn: str
    # The function this target invokes, when it is one of the template's functions.
    function: str | None
    extra: dict[str, Any]


@dataclass(frozen=True)
class RuleSpec:
    logical_id: str
    name: str
    pattern: dict[str, Any]
    event_bus: str
    targets: tuple[TargetSpec, ...]


@dataclass
class StackSpec:
    region: str
    account: str
    stack_name: str
    parameters: dict[str, str]
    buckets: list[BucketSpec] = field(default_factory=list)
    tables: list[TableSpec] = field(default_factory=list)
    topics: list[TopicSpec] = field(default_factory=list)
    subscriptions: list[SubscriptionSpec] = field(default_factory=list)
    queues: list[QueueSpec] = field(default_factory=list)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def function(self, name_or_logical_id: str) -> FunctionSpec:
        for spec in self.functions.values():
            if name_or_logical_id in {spec.logical_id, spec.name}:
                return spec
        known = ", ".join(sorted(self.functions))
        raise KeyError(f"no function {name_or_logical_id!r} in the template (known: {known})")

    def table(self, logical_id: str) -> TableSpec:
        return next(t for t in self.tables if t.logical_id == logical_id)

    def queue(self, logical_id: str) -> QueueSpec:
        return next(q for q in self.queues if q.logical_id == logical_id)

    def topic(self, logical_id: str) -> TopicSpec:
        return next(t for t in self.topics if t.logical_id == logical_id)


_FUNCTION_KINDS = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
_GSI_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput")


def read_stack(
    template_path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT,
    stack_name: str = DEFAULT_STACK_NAME,
    sqs_endpoint: str | None = None,
) -> StackSpec:
    """Resolve the template at ``template_path`` into the local stack's blueprint."""
    template_path = Path(template_path).resolve()
    template = load_template(template_path)
    # The same checks as CloudFormation's (and the risk thresholds' order): fail here, not later.
    check_parameters(template, parameters)
    resolver = Resolver(
        template,
        parameters={k: str(v) for k, v in (parameters or {}).items()},
        region=region,
        account=account,
        stack_name=stack_name,
        sqs_endpoint=sqs_endpoint,
    )
    spec = StackSpec(region, account, stack_name, dict(resolver.parameters))
    root = template_path.parent
    globals_function = (template.get("Globals") or {}).get("Function") or {}
    invoke_configs = _event_invoke_configs(resolver)

    for logical_id, resource in resolver.resources.items():
        if not resolver.enabled(logical_id):
            spec.skipped[logical_id] = "condition is false"
            continue
        kind = resource.get("Type", "")
        props = resolver.resolve(resource.get("Properties") or {})
        if kind == "AWS::S3::Bucket":
            spec.buckets.append(_bucket(resolver, logical_id, props))
        elif kind in {"AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"}:
            spec.tables.append(_table(resolver, logical_id, kind, props))
        elif kind == "AWS::SNS::Topic":
            spec.topics.append(_topic(resolver, logical_id, props))
            for sub in props.get("Subscription") or []:
                spec.subscriptions.append(
                    SubscriptionSpec(resolver.arn(logical_id), sub["Protocol"], sub["Endpoint"], {})
                )
        elif kind == "AWS::SNS::Subscription":
            spec.subscriptions.append(_subscription(props))
        elif kind == "AWS::SQS::Queue":
            spec.queues.append(_queue(resolver, logical_id, props))
        elif kind in _FUNCTION_KINDS:
            merged = _merge_globals(globals_function, resource.get("Properties") or {}, kind)
            function_props = resolver.resolve(merged)
            spec.functions[logical_id] = _function(
                resolver, logical_id, function_props, root, invoke_configs.get(logical_id)
            )
            spec.rules.extend(_sam_event_rules(resolver, logical_id, function_props, spec))
        elif kind == "AWS::Events::Rule":
            continue  # after the functions, so targets can be matched to them
        elif kind == "AWS::Lambda::EventInvokeConfig":
            continue  # folded into the function above
        else:
            spec.skipped[logical_id] = f"{kind} is not emulated locally"

    arn_to_function = {f.arn: f.logical_id for f in spec.functions.values()}
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") == "AWS::Events::Rule" and resolver.enabled(logical_id):
            spec.rules.append(
                _rule(resolver, logical_id, resolver.resolve(resource["Properties"]), arn_to_function)
            )

    for name, output in (template.get("Outputs") or {}).items():
        if "Condition" in output and not resolver.condition(output["Condition"]):
            continue
        spec.outputs[name] = resolver.resolve(output.get("Value"))
    return spec


def _bucket(resolver: Resolver, logical_id: str, props: Mapping[str, Any]) -> BucketSpec:
    notification = props.get("NotificationConfiguration") or {}
    eventbridge = notification.get("EventBridgeConfiguration") or {}
    versioning = (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled"
    return BucketSpec(
        logical_id,
        resolver.physical_name(logical_id),
        eventbridge=_truthy(eventbridge.get("EventBridgeEnabled", bool(eventbridge))),
        versioned=versioning,
    )


def _table(resolver: Resolver, logical_id: str, kind: str, props: Mapping[str, Any]) -> TableSpec:
    name = resolver.physical_name(logical_id)
    if kind == "AWS::Serverless::SimpleTable":
        key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
        key_type = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": key_type}],
            "BillingMode": "PAY_PER_REQUEST",
        }
        return TableSpec(logical_id, name, args, None)
    args = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
    }
    if props.get("ProvisionedThroughput") and props.get("BillingMode") != "PAY_PER_REQUEST":
        args["ProvisionedThroughput"] = _ints(props["ProvisionedThroughput"])
        args["BillingMode"] = "PROVISIONED"
    else:
        args["BillingMode"] = "PAY_PER_REQUEST"
    for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if props.get(index_kind):
            args[index_kind] = [
                {k: (_ints(v) if k.endswith("Throughput") else v) for k, v in index.items() if k in _GSI_KEYS}
                for index in props[index_kind]
            ]
    stream = props.get("StreamSpecification")
    if stream:
        args["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    ttl = props.get("TimeToLiveSpecification") or {}
    ttl_attribute = ttl.get("AttributeName") if _truthy(ttl.get("Enabled", False)) else None
    return TableSpec(logical_id, name, args, ttl_attribute)


def _topic(resolver: Resolver, logical_id: str, props: Mapping[str, Any]) -> TopicSpec:
    attributes = {}
    if _truthy(props.get("FifoTopic", False)):
        attributes["FifoTopic"] = "true"
    if props.get("ContentBasedDeduplication") is not None:
        attributes["ContentBasedDeduplication"] = str(props["ContentBasedDeduplication"]).lower()
    return TopicSpec(logical_id, resolver.physical_name(logical_id), resolver.arn(logical_id), attributes)


def _subscription(props: Mapping[str, Any]) -> SubscriptionSpec:
    attributes = {}
    for key in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy"):
        if props.get(key) is not None:
            value = props[key]
            attributes[key] = value if isinstance(value, str) else _json(value)
    return SubscriptionSpec(props["TopicArn"], props["Protocol"], props["Endpoint"], attributes)


def _queue(resolver: Resolver, logical_id: str, props: Mapping[str, Any]) -> QueueSpec:
    name = resolver.physical_name(logical_id)
    attributes: dict[str, str] = {}
    for key in (
        "VisibilityTimeout",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "MaximumMessageSize",
        "ReceiveMessageWaitTimeSeconds",
        "FifoQueue",
        "ContentBasedDeduplication",
    ):
        if props.get(key) is not None:
            value = props[key]
            attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if props.get("RedrivePolicy"):
        attributes["RedrivePolicy"] = _json(props["RedrivePolicy"])
    return QueueSpec(logical_id, name, resolver.queue_url(name), resolver.arn(logical_id), attributes)


def _merge_globals(
    globals_function: Mapping[str, Any], props: Mapping[str, Any], kind: str
) -> dict[str, Any]:
    """SAM's Globals: maps merge (Environment.Variables included), everything else is overridden."""
    if kind != "AWS::Serverless::Function":
        return dict(props)
    merged = copy.deepcopy(dict(globals_function))
    for key, value in props.items():
        if key == "Environment" and isinstance(merged.get(key), Mapping) and isinstance(value, Mapping):
            variables = dict(merged[key].get("Variables") or {})
            variables.update(value.get("Variables") or {})
            merged[key] = {**merged[key], **value, "Variables": variables}
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _event_invoke_configs(resolver: Resolver) -> dict[str, dict[str, Any]]:
    """AWS::Lambda::EventInvokeConfig resources, keyed by the logical id of their function."""
    by_name = {
        resolver.physical_name(logical_id): logical_id
        for logical_id, resource in resolver.resources.items()
        if resource.get("Type") in _FUNCTION_KINDS
    }
    configs = {}
    for logical_id, resource in resolver.resources.items():
        if resource.get("Type") == "AWS::Lambda::EventInvokeConfig" and resolver.enabled(logical_id):
            props = resolver.resolve(resource["Properties"])
            function = by_name.get(str(props.get("FunctionName")).split(":")[-1])
            if function is None:
                raise TemplateError(f"{logical_id}: FunctionName does not name a function in the template")
            configs[function] = props
    return configs


def _function(
    resolver: Resolver,
    logical_id: str,
    props: Mapping[str, Any],
    root: Path,
    invoke_config: Mapping[str, Any] | None,
) -> FunctionSpec:
    if "CodeUri" not in props or "Handler" not in props:
        raise TemplateError(f"{logical_id}: a local function needs CodeUri (a folder) and Handler")
    code_uri = (root / str(props["CodeUri"])).resolve()
    config = dict(props.get("EventInvokeConfig") or {})
    config.update(invoke_config or {})
    destinations = config.get("DestinationConfig") or {}
    variables = (props.get("Environment") or {}).get("Variables") or {}
    return FunctionSpec(
        logical_id=logical_id,
        name=resolver.physical_name(logical_id),
        arn=resolver.arn(logical_id),
        code_uri=code_uri,
        handler=str(props["Handler"]),
        environment={k: _env_value(v) for k, v in variables.items()},
        timeout_s=int(props.get("Timeout", 3)),
        memory_mb=int(props.get("MemorySize", 128)),
        max_retries=int(config.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
        max_event_age_s=int(config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)),
        on_failure=_destination(destinations.get("OnFailure")),
        on_success=_destination(destinations.get("OnSuccess")),
        layer_paths=_layer_paths(resolver, props.get("Layers") or [], root),
        runtime=str(props.get("Runtime") or ""),
    )


def _layer_paths(resolver: Resolver, layers: list[Any], root: Path) -> tuple[Path, ...]:
    by_arn = {
        resolver.arn(logical_id): resource
        for logical_id, resource in resolver.resources.items()
        if resource.get("Type") == "AWS::Serverless::LayerVersion"
    }
    paths = []
    for arn in layers:
        content_uri = ((by_arn.get(str(arn)) or {}).get("Properties") or {}).get("ContentUri")
        if isinstance(content_uri, str):
            paths.append((root / content_uri).resolve())
    return tuple(paths)


def _destination(config: Mapping[str, Any] | None) -> Destination | None:
    if not config or not config.get("Destination"):
        return None
    return Destination(str(config["Destination"]))


def _sam_event_rules(
    resolver: Resolver, logical_id: str, props: Mapping[str, Any], spec: StackSpec
) -> list[RuleSpec]:
    """The rules SAM generates from a function's EventBridgeRule / CloudWatchEvent events."""
    rules = []
    function_arn = resolver.arn(logical_id)
    for event_id, event in (props.get("Events") or {}).items():
        if event.get("Type") not in {"EventBridgeRule", "CloudWatchEvent"}:
            spec.skipped[f"{logical_id}.{event_id}"] = (
                f"event source {event.get('Type')} is not emulated locally"
            )
            continue
        event_props = event.get("Properties") or {}
        name = event_props.get("RuleName") or f"{resolver.stack_name}-{logical_id}{event_id}"[:64]
        target_extra = {k: event_props[k] for k in ("Input", "InputPath") if k in event_props}
        dlq = event_props.get("DeadLetterConfig") or {}
        if dlq.get("Arn"):
            target_extra["DeadLetterConfig"] = {"Arn": dlq["Arn"]}
        if dlq.get("Type") == "SQS":
            queue_id = dlq.get("QueueLogicalId") or f"{logical_id}{event_id}Queue"
            queue_name = f"{resolver.stack_name}-{queue_id}"[:80]
            spec.queues.append(
                QueueSpec(
                    queue_id,
                    queue_name,
                    resolver.queue_url(queue_name),
                    f"arn:aws:sqs:{resolver.region}:{resolver.account}:{queue_name}",
                    {},
                )
            )
            target_extra["DeadLetterConfig"] = {"Arn": spec.queues[-1].arn}
        target = TargetSpec(
            str((event_props.get("Target") or {}).get("Id") or f"{logical_id}{event_id}LambdaTarget"),
            function_arn,
            logical_id,
            target_extra,
        )
        rules.append(
            RuleSpec(
                f"{logical_id}{event_id}",
                name,
                dict(event_props.get("Pattern") or {}),
                str(event_props.get("EventBusName") or "default"),
                (target,),
            )
        )
    return rules


def _rule(
    resolver: Resolver, logical_id: str, props: Mapping[str, Any], arn_to_function: Mapping[str, str]
) -> RuleSpec:
    if "EventPattern" not in props:
        raise TemplateError(f"{logical_id}: only pattern rules are emulated (no ScheduleExpression)")
    pattern = props["EventPattern"]
    if isinstance(pattern, str):
        pattern = json.loads(pattern)
    targets = []
    for target in props.get("Targets") or []:
        arn = str(target["Arn"])
        extra = {k: v for k, v in target.items() if k in {"Input", "InputPath", "DeadLetterConfig"}}
        targets.append(TargetSpec(str(target["Id"]), arn, arn_to_function.get(arn), extra))
    return RuleSpec(
        logical_id,
        resolver.physical_name(logical_id),
        dict(pattern),
        str(props.get("EventBusName") or "default").split("/")[-1],
        tuple(targets),
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return (
        value if isinstance(value, str) else _json(value) if isinstance(value, (dict, list)) else str(value)
    )


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _ints(value: Mapping[str, Any]) -> dict[str, int]:
    return {k: int(v) for k, v in value.items()}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
