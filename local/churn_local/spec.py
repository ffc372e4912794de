"""The local stack's blueprint, read from the template *deployed*: SAM-translated, created by moto's
CloudFormation, names and ARNs read back from the stack's resources and outputs.

Nothing here resolves ``!Ref``/``!Sub``/``!GetAtt``/``!If``: aws-sam-translator turns the SAM
template into plain CloudFormation, moto's CloudFormation creates it, and the blueprint is what
``list_stack_resources``, ``describe_stacks`` and the services' own describe calls say. The few
things moto's CloudFormation cannot create are listed in ``NOT_CREATED`` with the reason; where the
pipeline needs one (an ``EventInvokeConfig``, an SNS subscription, bucket versioning and EventBridge
notifications), the deployed template gets an extra output holding that resource's properties, so
moto resolves them, and the local stack creates it through the service's API.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import secrets
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from churn_ops.template_rules import TemplateError, check_parameters, load_template

from churn_local.kms_keys import honour_key_spec

log = logging.getLogger(__name__)
# moto warns once per resource type it has no model for (NOT_CREATED lists them, with why), from
# the server's thread, outside any catch_warnings of a deploy: filtered once, for that message only.
warnings.filterwarnings("ignore", message=r"Tried to parse AWS::\S+ but it's not supported by moto")

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_STACK_NAME = "churn-local"
# Lambda's defaults for asynchronous invocations.
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 21600
# Where the translated template's code placeholders live (moto's Lambda wants a zip; the runner
# runs the real code from the repo's folders).
CODE_BUCKET = "churn-local-code-{account}"
_GAP_OUTPUT = "LocalGap"
_API_OUTPUT = "LocalApi"
# The SAM Api properties the local gateway serves by (resolved by moto as outputs, see translate).
_API_PROPERTIES = ("StageName", "GatewayResponses")
_API_AUTH_PROPERTIES = ("DefaultAuthorizer", "ApiKeyRequired")

# What moto 5.2.5's CloudFormation does not create (its parsing.get_model_map has no model, or the
# local stack emulates the service itself), and why that is acceptable locally.
NOT_CREATED: dict[str, str] = {
    "AWS::ApiGateway::RestApi": "served by churn_local.api_gateway (moto's Deployment fails on an OpenAPI body)",
    "AWS::ApiGateway::Deployment": "served by churn_local.api_gateway",
    "AWS::ApiGateway::Stage": "served by churn_local.api_gateway (no moto model)",
    "AWS::ApiGateway::ApiKey": "served by churn_local.api_gateway (no moto model)",
    "AWS::ApiGateway::UsagePlan": "served by churn_local.api_gateway (no moto model)",
    "AWS::ApiGateway::UsagePlanKey": "served by churn_local.api_gateway (no moto model)",
    "AWS::ApiGateway::Account": "account-wide API logging setting; no moto model",
    "AWS::Lambda::EventInvokeConfig": "no moto model; the runner applies it (retries, event age, destinations)",
    "AWS::SNS::Subscription": "no moto model; created through SNS's API after the stack",
    "AWS::S3::BucketPolicy": "no moto model; resource policies are not enforced locally",
    "AWS::SNS::TopicPolicy": "no moto model; resource policies are not enforced locally",
    "AWS::SQS::QueuePolicy": "no moto model; resource policies are not enforced locally",
    "AWS::CloudWatch::Alarm": "no moto model; nothing raises alarms locally",
    "AWS::Cognito::UserPool": "no moto model; the local gateway requires but does not verify tokens",
    "AWS::ApplicationAutoScaling::ScalableTarget": "no moto model; the local model server does not scale",
    "AWS::ApplicationAutoScaling::ScalingPolicy": "no moto model; the local model server does not scale",
    # The agents' WebSocket API (LiveCalls=true): moto has no ApiGatewayV2 model in CloudFormation.
    "AWS::ApiGatewayV2::Api": "served by churn_local.live.socket (no moto model)",
    "AWS::ApiGatewayV2::Integration": "served by churn_local.live.socket (no moto model)",
    "AWS::ApiGatewayV2::Route": "served by churn_local.live.socket (no moto model)",
    "AWS::ApiGatewayV2::Deployment": "served by churn_local.live.socket (no moto model)",
    "AWS::ApiGatewayV2::Stage": "served by churn_local.live.socket (no moto model)",
}
# Left out of the deployed template (moto would fail on them, or on what refers to them).
_LEFT_OUT_PREFIXES = ("AWS::ApiGateway::", "AWS::ApiGatewayV2::")


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
    arn: str = ""


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
    # The execution role the stack created, and its policies as IAM holds them (inline + managed).
    role_arn: str = ""
    policies: tuple[dict[str, Any], ...] = ()
    # ReservedConcurrentExecutions, when the template reserves some: the local pool's ceiling.
    reserved_concurrency: int | None = None


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
    schedule: str | None = None


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
    # resource ARN -> the ARN of the KMS key that encrypts it (topics, queues, tables)
    kms_keys: dict[str, str] = field(default_factory=dict)
    # AWS::Serverless::Api logical id -> the settings the local gateway serves (StageName, Auth's
    # DefaultAuthorizer, ApiKeyRequired and UsagePlan Throttle/Quota, GatewayResponses), resolved
    apis: dict[str, dict[str, Any]] = field(default_factory=dict)

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


# --- translating and deploying --------------------------------------------------------------


def prewarm() -> None:
    """Import what a deployment needs (moto's CloudFormation imports every moto backend: seconds of
    CPU), e.g. in a thread while something else runs; a later deploy then starts at once."""
    import importlib

    for module in (
        "moto.cloudformation.parsing",
        "moto.server",
        "samtranslator.translator.translator",
        "churn_local.transcribe",  # scipy.signal, for the local Transcribe's audio
    ):
        importlib.import_module(module)
    from .aws import client

    # The service models the stack's clients load (through the shared loader: once per process).
    for service in (
        "s3",
        "cloudformation",
        "dynamodb",
        "sqs",
        "sns",
        "events",
        "lambda",
        "iam",
        "sts",
        "kms",
    ):
        client(service, "http://127.0.0.1:9", DEFAULT_REGION)


@dataclass(frozen=True)
class Translated:
    """The SAM template as plain CloudFormation, ready for ``create_stack``."""

    template: dict[str, Any]
    sam: dict[str, Any]
    # SAM logical id -> local folder, for each CodeUri / ContentUri that is a folder
    code: dict[str, Path]
    left_out: dict[str, str]


def translate(
    template_path: str | Path,
    parameters: Mapping[str, str],
    region: str,
    code_bucket: str = "code",
    sam: dict[str, Any] | None = None,
) -> Translated:
    """aws-sam-translator on the template, code folders replaced by placeholder S3 objects."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template_path = Path(template_path).resolve()
    sam = sam if sam is not None else load_template(template_path)
    document = json.loads(json.dumps(sam))
    code: dict[str, Path] = {}
    for logical_id, resource in document["Resources"].items():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                code[logical_id] = (template_path.parent / props[key]).resolve()
                # What `sam package` does: the folder becomes an S3 object.
                props[key] = f"s3://{code_bucket}/{logical_id}.zip"
    # No managed policies by name in this template (SAM policy templates expand locally); a session
    # with the region is all the translator needs (it reads the region and partition from it).
    session = boto3.session.Session(region_name=region)
    try:
        translated = Translator(None, Parser(), boto_session=session).translate(
            document, parameter_values=dict(parameters), get_managed_policy_map=lambda: {}
        )
    except Exception as exc:  # InvalidDocumentException lists every problem
        raise TemplateError(f"aws-sam-translator refused the template: {exc}") from exc
    resources = translated["Resources"]
    left_out = {
        logical_id: NOT_CREATED.get(resource["Type"], "left out")
        for logical_id, resource in resources.items()
        if resource["Type"].startswith(_LEFT_OUT_PREFIXES)
    }
    # A Kinesis event source mapping: the local poller (churn_local.live.poller) is the mapping, with
    # the template's settings; moto's would try to invoke Lambda in Docker inside every PutRecord.
    streams = {k for k, r in resources.items() if r["Type"] == "AWS::Kinesis::Stream"}
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::EventSourceMapping" and _references(resource) & streams:
            left_out[logical_id] = "the local event source mapping, churn_local.live.poller, reads the stream"
    # A function or role naming a left-out API (the score function builds outcome links on the API's
    # URL; the agents' push function and its role name the WebSocket API's @connections) keeps its
    # place: the API's id becomes a stand-in; the local gateway and socket serve on their own URLs.
    apis = {
        k for k, r in resources.items() if r["Type"] in {"AWS::ApiGateway::RestApi", "AWS::ApiGatewayV2::Api"}
    }
    for resource in resources.values():
        if (
            resource["Type"] in {"AWS::Lambda::Function", "AWS::IAM::Role"}
            and _references(resource.get("Properties")) & apis
        ):
            resource["Properties"] = _stand_in(resource["Properties"], apis)
    # moto 5.2.5 resolves a Ref to an AWS::Events::EventBus to its model object (a function
    # environment with one then breaks GetFunction with a 500); CloudFormation's Ref is the bus's
    # name, which GetAtt Name gives in both (a rule on the bus by Ref fails inside moto the same way).
    buses = {k for k, r in resources.items() if r["Type"] == "AWS::Events::EventBus"}
    for resource in resources.values():
        if (
            resource["Type"] in {"AWS::Lambda::Function", "AWS::Events::Rule"}
            and _references(resource.get("Properties")) & buses
        ):
            resource["Properties"] = _bus_names(resource["Properties"], buses)
    for output in (translated.get("Outputs") or {}).values():
        output["Value"] = _bus_names(output.get("Value"), buses)
    # Whatever refers to a left-out resource goes too (the API's Lambda permissions, its outputs).
    changed = True
    while changed:
        changed = False
        for logical_id, resource in resources.items():
            if logical_id not in left_out and _references(resource) & set(left_out):
                left_out[logical_id] = "refers to a resource the local stack emulates itself"
                changed = True
    for logical_id in left_out:
        resources.pop(logical_id)
    outputs = translated.setdefault("Outputs", {})
    for name in [n for n, o in outputs.items() if _references(o) & set(left_out)]:
        outputs.pop(name)
    # Gaps: moto resolves these resources' properties as outputs; the local stack creates them.
    for logical_id, resource in resources.items():
        # (A Kinesis stream: moto creates it without StreamModeDetails and StreamEncryption.)
        if resource["Type"] in {
            "AWS::Lambda::EventInvokeConfig",
            "AWS::SNS::Subscription",
            "AWS::Kinesis::Stream",
        }:
            output: dict[str, Any] = {"Value": {"Fn::ToJsonString": resource.get("Properties") or {}}}
            if "Condition" in resource:
                output["Condition"] = resource["Condition"]
            outputs[f"{_GAP_OUTPUT}{logical_id}"] = output
    # The APIs are served by churn_local.api_gateway: their settings, resolved by moto the same way.
    for logical_id, resource in sam["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::Api":
            props = resource.get("Properties") or {}
            auth = props.get("Auth") or {}
            plan = auth.get("UsagePlan") or {}
            served: dict[str, Any] = {k: props[k] for k in _API_PROPERTIES if k in props}
            served["Auth"] = {k: auth[k] for k in _API_AUTH_PROPERTIES if k in auth}
            served["Auth"]["UsagePlan"] = {k: plan[k] for k in ("Throttle", "Quota") if k in plan}
            output = {"Value": {"Fn::ToJsonString": served}}
            if "Condition" in resource:
                output["Condition"] = resource["Condition"]
            outputs[f"{_API_OUTPUT}{logical_id}"] = output
    return Translated(translated, sam, code, left_out)


def _stand_in(node: Any, ids: set[str]) -> Any:
    """``node`` with each Ref to one of ``ids`` (also inside Fn::Sub) as a literal stand-in id."""
    if isinstance(node, list):
        return [_stand_in(item, ids) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in ids:
        return stand_in_id(node["Ref"])
    if set(node) == {"Fn::Sub"}:
        value = node["Fn::Sub"]
        text, variables = (value, None) if isinstance(value, str) else (value[0], value[1])
        for logical_id in ids:
            text = text.replace("${" + logical_id + "}", stand_in_id(logical_id))
        return {"Fn::Sub": text if variables is None else [text, _stand_in(variables, ids)]}
    return {key: _stand_in(value, ids) for key, value in node.items()}


def _bus_names(node: Any, buses: set[str]) -> Any:
    if isinstance(node, list):
        return [_bus_names(item, buses) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in buses:
        return {"Fn::GetAtt": [node["Ref"], "Name"]}
    return {key: _bus_names(value, buses) for key, value in node.items()}


def stand_in_id(logical_id: str) -> str:
    """The id a function sees for an API the local stack serves itself (not a real API id)."""
    return f"{logical_id.lower()}-local"


def _references(node: Any) -> set[str]:
    """Logical ids a template fragment names (Ref, GetAtt, Sub, DependsOn): dependencies, not values."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else str(value).split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!][^}]*)\}", text))
                if isinstance(value, list) and len(value) > 1:
                    found |= _references(value[1])
            elif key == "DependsOn":
                found.update([value] if isinstance(value, str) else value)
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _clients(endpoint_url: str, region: str, account: str | None) -> Any:
    from .aws import FAKE_CREDENTIALS
    from .aws import session as new_session

    session = new_session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    config = Config(retries={"max_attempts": 2, "mode": "standard"})

    def make(service: str) -> Any:
        made = session.client(service, endpoint_url=endpoint_url, config=config)
        if account is not None:  # moto keeps one backend per account: a private one for this reader
            made.meta.events.register(
                "request-created",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account),
            )
        return made

    return make


def deploy(
    template_path: str | Path,
    endpoint_url: str,
    *,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    stack_name: str = DEFAULT_STACK_NAME,
    account: str | None = None,
) -> StackSpec:
    """Check the parameters, translate, ``create_stack`` on the moto server, fill the gaps, read back."""
    overrides = {k: str(v) for k, v in (parameters or {}).items()}
    # The same checks as CloudFormation's (and the risk thresholds' order): fail here, not later.
    sam = load_template(template_path)
    values = check_parameters(sam, overrides)
    code_bucket = CODE_BUCKET.format(account=account or DEFAULT_ACCOUNT)
    translated = translate(template_path, values, region, code_bucket, sam)
    client = _clients(endpoint_url, region, account)
    s3 = client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=code_bucket)
    placeholder = _placeholder_zip()
    for logical_id in translated.code:
        s3.put_object(Bucket=code_bucket, Key=f"{logical_id}.zip", Body=placeholder)
    cloudformation = client("cloudformation")
    honour_key_spec()  # HMAC keys as declared (moto's CloudFormation makes every key symmetric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("moto").setLevel(logging.ERROR)
        try:
            cloudformation.create_stack(
                StackName=stack_name,
                TemplateBody=json.dumps(translated.template),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in overrides.items()],
                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
            )
        except ClientError as exc:  # moto creates synchronously: a failed resource fails the call
            error = exc.response.get("Error", {})
            raise TemplateError(
                f"the local deployment of {template_path} failed: {error.get('Code')}: {error.get('Message')}"
            ) from exc
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise TemplateError(
            f"the local deployment ended {stack['StackStatus']}: {stack.get('StackStatusReason')}"
        )
    _fill_gaps(client, translated, stack_name, stack)
    return _read(client, translated, stack_name, region, values)


def read_stack(
    template_path: str | Path,
    *,
    parameters: Mapping[str, Any] | None = None,
    region: str = DEFAULT_REGION,
    endpoint_url: str | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
) -> StackSpec:
    """The deployed stack's blueprint: read from the stack at ``endpoint_url`` (a running local
    stack), or, without one, from a throwaway deployment in a private moto account."""
    if endpoint_url is None:
        with _private_moto() as url:
            return deploy(
                template_path,
                url,
                parameters=parameters,
                region=region,
                stack_name=stack_name,
                account=f"{secrets.randbelow(10**12):012d}",
            )
    sam = load_template(template_path)
    values = check_parameters(sam, {k: str(v) for k, v in (parameters or {}).items()})
    translated = translate(template_path, values, region, sam=sam)
    client = _clients(endpoint_url, region, None)
    return _read(client, translated, stack_name, region, values)


@contextlib.contextmanager
def _private_moto() -> Iterator[str]:
    # No reset: moto's state is per process, and a caller may have its own there (mock_aws, a stack).
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "placeholder: the local runner runs the code from the repository\n")
    return buffer.getvalue()


# --- reading the deployed stack -------------------------------------------------------------


def _read(
    client: Any, translated: Translated, stack_name: str, region: str, values: Mapping[str, str]
) -> StackSpec:
    cloudformation = client("cloudformation")
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    account = stack["StackId"].split(":")[4]
    spec = StackSpec(region, account, stack_name, dict(values))
    spec.subscriptions = _gap_subscriptions(stack)
    spec.outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in stack.get("Outputs", [])
        if not o["OutputKey"].startswith((_GAP_OUTPUT, _API_OUTPUT))
    }
    spec.apis = {
        o["OutputKey"].removeprefix(_API_OUTPUT): json.loads(o["OutputValue"])
        for o in stack.get("Outputs", [])
        if o["OutputKey"].startswith(_API_OUTPUT)
    }
    summaries = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        summaries.extend(page["StackResourceSummaries"])
    listed = {s["LogicalResourceId"] for s in summaries}
    created = {s["LogicalResourceId"]: s for s in summaries if s.get("PhysicalResourceId")}
    resources = translated.template["Resources"]
    spec.skipped.update(translated.left_out)
    for logical_id, resource in resources.items():
        if logical_id not in listed:
            kind = resource["Type"]
            spec.skipped[logical_id] = NOT_CREATED.get(kind, "its condition is false")

    dynamodb, sns, sqs = client("dynamodb"), client("sns"), client("sqs")
    kms, lam, events, iam = client("kms"), client("lambda"), client("events"), client("iam")
    for logical_id, summary in created.items():
        kind, physical = summary["ResourceType"], summary["PhysicalResourceId"]
        props = resources.get(logical_id, {}).get("Properties") or {}
        if kind == "AWS::S3::Bucket":
            # Literal settings moto's CloudFormation does not apply (see _fill_gaps).
            eventbridge = (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {}
            versioned = (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled"
            spec.buckets.append(
                BucketSpec(logical_id, physical, eventbridge.get("EventBridgeEnabled") is True, versioned)
            )
        elif kind == "AWS::DynamoDB::Table":
            table = dynamodb.describe_table(TableName=physical)["Table"]
            spec.tables.append(_table(logical_id, table, dynamodb))
            key = (table.get("SSEDescription") or {}).get("KMSMasterKeyArn")
            if key:
                spec.kms_keys[table["TableArn"]] = key
        elif kind == "AWS::SNS::Topic":
            attributes = sns.get_topic_attributes(TopicArn=physical)["Attributes"]
            kept = {
                k: v
                for k, v in attributes.items()
                if k in {"KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication"}
            }
            spec.topics.append(TopicSpec(logical_id, physical.split(":")[-1], physical, kept))
            if attributes.get("KmsMasterKeyId"):
                spec.kms_keys[physical] = _key_arn(kms, attributes["KmsMasterKeyId"])
        elif kind == "AWS::SQS::Queue":
            name = physical.rstrip("/").split("/")[-1]
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            spec.queues.append(QueueSpec(logical_id, name, url, attributes["QueueArn"], attributes))
            if attributes.get("KmsMasterKeyId"):
                spec.kms_keys[attributes["QueueArn"]] = _key_arn(kms, attributes["KmsMasterKeyId"])
    invoke_configs = _gap_values(stack, "AWS::Lambda::EventInvokeConfig", resources)
    for logical_id, summary in created.items():
        if summary["ResourceType"] == "AWS::Lambda::Function":
            spec.functions[logical_id] = _function(
                logical_id, summary["PhysicalResourceId"], translated, lam, iam, invoke_configs
            )
    by_arn = {f.arn: f.logical_id for f in spec.functions.values()}
    for logical_id, summary in created.items():
        if summary["ResourceType"] == "AWS::Events::Rule":
            declared = resources.get(logical_id, {}).get("Properties") or {}
            # Which function each target Id names, from the template's references (the local
            # stack delivers those targets to queues, so the deployed target ARN no longer says).
            by_id = {
                str(t.get("Id")): next(iter(_references(t.get("Arn")) & set(spec.functions)), None)
                for t in declared.get("Targets") or []
            }
            spec.rules.append(_rule(logical_id, summary["PhysicalResourceId"], events, by_arn, by_id))
    return spec


def _table(logical_id: str, table: Mapping[str, Any], dynamodb: Any) -> TableSpec:
    args: dict[str, Any] = {
        "TableName": table["TableName"],
        "KeySchema": table["KeySchema"],
        "AttributeDefinitions": table["AttributeDefinitions"],
        "BillingMode": (table.get("BillingModeSummary") or {}).get("BillingMode", "PAY_PER_REQUEST"),
    }
    if args["BillingMode"] == "PROVISIONED":
        throughput = table["ProvisionedThroughput"]
        args["ProvisionedThroughput"] = {
            k: throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")
        }
    indexes = []
    for index in table.get("GlobalSecondaryIndexes") or []:
        indexes.append({k: index[k] for k in ("IndexName", "KeySchema", "Projection")})
    if indexes:
        args["GlobalSecondaryIndexes"] = indexes
    ttl = dynamodb.describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    ttl_attribute = (
        ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"} else None
    )
    return TableSpec(logical_id, table["TableName"], args, ttl_attribute, table["TableArn"])


def _key_arn(kms: Any, key_id: str) -> str:
    if key_id.startswith("arn:"):
        return key_id
    # list_keys, not describe_key: moto 5.2.5's DescribeKey fails (500) on keys its CloudFormation
    # created with a KeyPolicy object.
    for page in kms.get_paginator("list_keys").paginate():
        for key in page["Keys"]:
            if key["KeyId"] == key_id:
                return key["KeyArn"]
    raise TemplateError(f"KMS key {key_id} is not in the local stack")


def _gap_values(
    stack: Mapping[str, Any], kind: str, resources: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """The resolved properties of the gap resources of ``kind``, by logical id (from the outputs)."""
    values = {}
    for output in stack.get("Outputs", []):
        logical_id = output["OutputKey"].removeprefix(_GAP_OUTPUT)
        if output["OutputKey"].startswith(_GAP_OUTPUT) and resources.get(logical_id, {}).get("Type") == kind:
            values[logical_id] = json.loads(output["OutputValue"])
    return values


def gap_properties(client: Any, stack_name: str, logical_id: str) -> dict[str, Any] | None:
    """A gap resource's properties as the deployment resolved them (``client(service)`` on local AWS)."""
    stack = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    for output in stack.get("Outputs", []):
        if output["OutputKey"] == f"{_GAP_OUTPUT}{logical_id}":
            return json.loads(output["OutputValue"])
    return None


def _gap_subscriptions(stack: Mapping[str, Any]) -> list[SubscriptionSpec]:
    subscriptions = []
    for output in stack.get("Outputs", []):
        if not output["OutputKey"].startswith(_GAP_OUTPUT):
            continue
        props = json.loads(output["OutputValue"])
        if "TopicArn" in props and "Protocol" in props:
            attributes = {
                key: props[key] if isinstance(props[key], str) else json.dumps(props[key])
                for key in ("FilterPolicy", "FilterPolicyScope", "RawMessageDelivery", "RedrivePolicy")
                if props.get(key) is not None
            }
            subscriptions.append(
                SubscriptionSpec(props["TopicArn"], props["Protocol"], props.get("Endpoint", ""), attributes)
            )
    return subscriptions


def _function(
    logical_id: str,
    name: str,
    translated: Translated,
    lam: Any,
    iam: Any,
    invoke_configs: Mapping[str, Mapping[str, Any]],
) -> FunctionSpec:
    function = lam.get_function(FunctionName=name)
    config = function["Configuration"]
    reserved = (function.get("Concurrency") or {}).get("ReservedConcurrentExecutions")
    if logical_id not in translated.code:
        raise TemplateError(f"{logical_id}: a local function needs CodeUri (a folder)")
    invoke = next(
        (c for c in invoke_configs.values() if str(c.get("FunctionName")).split(":")[-1] == name), {}
    )
    destinations = invoke.get("DestinationConfig") or {}
    variables = (config.get("Environment") or {}).get("Variables") or {}
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=config["FunctionArn"],
        code_uri=translated.code[logical_id],
        handler=config["Handler"],
        environment={k: _env_value(v) for k, v in variables.items()},
        timeout_s=int(config.get("Timeout", 3)),
        memory_mb=int(config.get("MemorySize", 128)),
        max_retries=int(invoke.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)),
        max_event_age_s=int(invoke.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)),
        on_failure=_destination(destinations.get("OnFailure")),
        on_success=_destination(destinations.get("OnSuccess")),
        layer_paths=_layer_paths(translated, logical_id),
        runtime=str(config.get("Runtime") or ""),
        role_arn=config["Role"],
        policies=tuple(role_policies(iam, config["Role"].split("/")[-1])),
        reserved_concurrency=None if reserved is None else int(reserved),
    )


def role_policies(iam: Any, role_name: str) -> list[dict[str, Any]]:
    """The role's identity policies as IAM holds them: inline, then attached managed ones."""
    documents = []
    for policy_name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        documents.append(
            _document(iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"])
        )
    for attached in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )
        documents.append(_document(version["PolicyVersion"]["Document"]))
    return documents


def _document(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        from urllib.parse import unquote

        text = unquote(value)
        try:
            value = json.loads(text)
        except ValueError:
            # moto 5.2.5 stores a policy its CloudFormation created as the Python dict's repr.
            import ast

            value = ast.literal_eval(text)
    return dict(value)


def _layer_paths(translated: Translated, logical_id: str) -> tuple[Path, ...]:
    """The folders of the function's layers: SAM's Globals layers, then its own (SAM appends them)."""
    globals_layers = ((translated.sam.get("Globals") or {}).get("Function") or {}).get("Layers") or []
    own = ((translated.sam["Resources"].get(logical_id) or {}).get("Properties") or {}).get("Layers") or []
    paths = []
    for layer in [*globals_layers, *own]:
        name = layer.get("Ref") if isinstance(layer, dict) else None
        if name in translated.code and translated.code[name] not in paths:
            paths.append(translated.code[name])
    return tuple(paths)


def _destination(config: Mapping[str, Any] | None) -> Destination | None:
    if not config or not config.get("Destination"):
        return None
    return Destination(str(config["Destination"]))


def _rule(
    logical_id: str,
    name: str,
    events: Any,
    arn_to_function: Mapping[str, str],
    id_to_function: Mapping[str, str | None],
) -> RuleSpec:
    rule = events.describe_rule(Name=name, EventBusName=_bus_of_rule(events, name))
    bus = str(rule.get("EventBusName") or "default").split("/")[-1]
    targets = []
    for target in events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]:
        extra = {
            k: v for k, v in target.items() if k in {"Input", "InputPath", "DeadLetterConfig", "RetryPolicy"}
        }
        function = arn_to_function.get(target["Arn"]) or id_to_function.get(target["Id"])
        targets.append(TargetSpec(target["Id"], target["Arn"], function, extra))
    pattern = json.loads(rule["EventPattern"]) if rule.get("EventPattern") else {}
    return RuleSpec(logical_id, name, pattern, bus, tuple(targets), rule.get("ScheduleExpression"))


def _bus_of_rule(events: Any, name: str) -> str:
    """The bus a rule is on: DescribeRule looks on "default" unless told, and a rule on one of the
    stack's own buses (the live bus) is named by the stack only (moto gives its bus no physical id)."""
    token: dict[str, str] = {}
    while True:
        page = events.list_event_buses(**token)
        for bus in page["EventBuses"]:
            rules = events.list_rules(NamePrefix=name, EventBusName=bus["Name"])["Rules"]
            if any(rule["Name"] == name for rule in rules):
                return bus["Name"]
        if not page.get("NextToken"):
            return "default"
        token = {"NextToken": page["NextToken"]}


def _fill_gaps(client: Any, translated: Translated, stack_name: str, stack: Mapping[str, Any]) -> None:
    """Apply what moto's CloudFormation skipped and the pipeline needs, through the services' APIs:
    bucket versioning and EventBridge notifications, table TTL (literal properties of the template)
    and SNS subscriptions (their properties resolved by moto as outputs)."""
    s3, dynamodb, sns = client("s3"), client("dynamodb"), client("sns")
    resources = translated.template["Resources"]
    for page in client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for summary in page["StackResourceSummaries"]:
            props = resources.get(summary["LogicalResourceId"], {}).get("Properties") or {}
            physical = summary.get("PhysicalResourceId")
            if summary["ResourceType"] == "AWS::S3::Bucket":
                if (props.get("VersioningConfiguration") or {}).get("Status") == "Enabled":
                    s3.put_bucket_versioning(Bucket=physical, VersioningConfiguration={"Status": "Enabled"})
                eventbridge = (props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration")
                if eventbridge and eventbridge.get("EventBridgeEnabled") is True:
                    s3.put_bucket_notification_configuration(
                        Bucket=physical, NotificationConfiguration={"EventBridgeConfiguration": {}}
                    )
            elif summary["ResourceType"] == "AWS::DynamoDB::Table":
                ttl = props.get("TimeToLiveSpecification") or {}
                if ttl.get("Enabled") is True and ttl.get("AttributeName"):
                    dynamodb.update_time_to_live(
                        TableName=physical,
                        TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                    )
    for subscription in _gap_subscriptions(stack):
        if subscription.protocol in {"email", "email-json"}:
            continue  # nobody confirms an email locally
        sns.subscribe(
            TopicArn=subscription.topic_arn,
            Protocol=subscription.protocol,
            Endpoint=subscription.endpoint,
            Attributes=subscription.attributes,
        )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return (
        value
        if isinstance(value, str)
        else json.dumps(value)
        if isinstance(value, (dict, list))
        else str(value)
    )
