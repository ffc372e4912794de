"""What is left of the hand-written template resolution: the local API gateway's reader.

The local stack no longer resolves the template: it deploys it (``churn_local.spec``), and the
parameter checks live in ``churn_ops.template_rules`` (re-exported here for old imports).
``Resolver`` remains only because ``churn_local.api_gateway`` still reads the ``AWS::Serverless::Api``
from the SAM template with it; it goes when the gateway reads the deployed stack instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from churn_ops.template_rules import ParameterError, TemplateError, check_parameters, load_template

__all__ = ["ParameterError", "Resolver", "TemplateError", "check_parameters", "load_template"]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_STACK_NAME = "churn-local"
# Lambda's default for asynchronous invocations.
DEFAULT_MAX_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 21600

_NO_VALUE = object()


# --- resolution ----------------------------------------------------------------------------


@dataclass
class Resolver:
    """Resolves intrinsic functions against local parameters, pseudo parameters and names."""

    template: Mapping[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    stack_name: str = DEFAULT_STACK_NAME
    # Base URL of the local SQS endpoint; queue URLs are derived from it as moto does.
    sqs_endpoint: str | None = None
    _resolving: set[str] = field(default_factory=set)
    _names: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters") or {}
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown parameter override(s): {', '.join(sorted(unknown))}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in self.parameters:
                values[name] = str(self.parameters[name])
            elif isinstance(spec, Mapping) and "Default" in spec:
                default = spec["Default"]
                values[name] = ",".join(map(str, default)) if isinstance(default, list) else str(default)
            else:
                raise TemplateError(f"parameter {name} has no default; pass an override")
        self.parameters = values

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.template["Resources"]

    # conditions

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self._evaluate(conditions[name]))

    def enabled(self, logical_id: str) -> bool:
        resource = self.resources[logical_id]
        condition = resource.get("Condition") if isinstance(resource, Mapping) else None
        return condition is None or self.condition(condition)

    def _evaluate(self, value: Any) -> Any:
        if isinstance(value, Mapping) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::And":
                return all(self._evaluate(v) for v in arg)
            if key == "Fn::Or":
                return any(self._evaluate(v) for v in arg)
        return self.resolve(value)

    # intrinsics

    def resolve(self, value: Any) -> Any:
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self._resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{self.stack_name}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self._ref_resource(name)
        raise TemplateError(f"!Ref to unknown name {name}")

    def physical_name(self, logical_id: str) -> str:
        """The resource's name: the one the template gives, else one derived from the stack."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._resolving:
            raise TemplateError(f"circular reference through {logical_id}")
        self._resolving.add(logical_id)
        try:
            resource = self.resources[logical_id]
            kind = resource.get("Type", "")
            props = resource.get("Properties") or {}
            name_property = _NAME_PROPERTY.get(kind)
            given = self.resolve(props.get(name_property)) if name_property else None
            if given:
                name = str(given)
            else:
                name = _derived_name(self.stack_name, logical_id, kind)
                if kind == "AWS::SQS::Queue" and str(self.resolve(props.get("FifoQueue"))).lower() == "true":
                    name += ".fifo"
            self._names[logical_id] = name
            return name
        finally:
            self._resolving.discard(logical_id)

    def queue_url(self, name: str) -> str:
        base = self.sqs_endpoint or f"https://sqs.{self.region}.amazonaws.com"
        return f"{base.rstrip('/')}/{self.account}/{name}"

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id].get("Type", "")
        name = self.physical_name(logical_id)
        r, a = self.region, self.account
        arns = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::Serverless::SimpleTable": f"arn:aws:dynamodb:{r}:{a}:table/{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{r}:{a}:{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{r}:{a}:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{r}:{a}:rule/{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{r}:{a}:function:{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{r}:{a}:function:{name}",
            "AWS::Serverless::LayerVersion": f"arn:aws:lambda:{r}:{a}:layer:{name}:1",
            "AWS::Lambda::LayerVersion": f"arn:aws:lambda:{r}:{a}:layer:{name}:1",
            "AWS::IAM::Role": f"arn:aws:iam::{a}:role/{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{r}:{a}:log-group:{name}:*",
            "AWS::KMS::Key": f"arn:aws:kms:{r}:{a}:key/{_fake_uuid(logical_id)}",
            "AWS::SageMaker::Endpoint": f"arn:aws:sagemaker:{r}:{a}:endpoint/{name.lower()}",
            "AWS::SageMaker::EndpointConfig": f"arn:aws:sagemaker:{r}:{a}:endpoint-config/{name.lower()}",
            "AWS::SageMaker::Model": f"arn:aws:sagemaker:{r}:{a}:model/{name.lower()}",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{r}:{a}:alarm:{name}",
        }
        return arns.get(kind, f"arn:aws:cloudformation:{r}:{a}:local/{logical_id}/{name}")

    def _ref_resource(self, logical_id: str) -> str:
        kind = self.resources[logical_id].get("Type", "")
        if kind in {
            "AWS::SNS::Topic",
            "AWS::SageMaker::Endpoint",
            "AWS::SageMaker::EndpointConfig",
            "AWS::SageMaker::Model",
            "AWS::Serverless::LayerVersion",
            "AWS::Lambda::LayerVersion",
        }:
            return self.arn(logical_id)
        if kind == "AWS::SQS::Queue":
            return self.queue_url(self.physical_name(logical_id))
        if kind == "AWS::KMS::Key":
            return _fake_uuid(logical_id)
        return self.physical_name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if logical_id not in self.resources:
            raise TemplateError(f"!GetAtt on unknown resource {logical_id}")
        name = self.physical_name(logical_id)
        if attribute == "Arn" or (attribute.endswith("Arn") and attribute != "StreamArn"):
            return self.arn(logical_id)
        if attribute in {"QueueName", "TopicName", "EndpointName", "EndpointConfigName", "ModelName"}:
            return name
        if attribute == "QueueUrl":
            return self.queue_url(name)
        if attribute == "StreamArn":
            return f"{self.arn(logical_id)}/stream/local"
        if attribute == "KeyId":
            return _fake_uuid(logical_id)
        if attribute in {"DomainName", "RegionalDomainName"}:
            return f"{name}.s3.amazonaws.com"
        return name


def _fn_sub(resolver: Resolver, arg: Any) -> str:
    if isinstance(arg, list):
        text, variables = arg[0], {k: resolver.resolve(v) for k, v in (arg[1] or {}).items()}
    else:
        text, variables = arg, {}

    def replace(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("!"):
            return "${" + expression[1:] + "}"
        if expression in variables:
            return str(variables[expression])
        if "." in expression and not expression.startswith("AWS::"):
            logical_id, attribute = expression.split(".", 1)
            return str(resolver.get_att(logical_id, attribute))
        return str(resolver.ref(expression))

    return re.sub(r"\$\{([^}]+)\}", replace, str(text))


def _fn_if(resolver: Resolver, arg: Any) -> Any:
    name, when_true, when_false = arg
    return resolver._resolve(when_true if resolver.condition(name) else when_false)


def _fn_get_att(resolver: Resolver, arg: Any) -> str:
    logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
    return resolver.get_att(str(logical_id), str(resolver.resolve(attribute)))


def _fn_select(resolver: Resolver, arg: Any) -> Any:
    index, items = arg
    return resolver.resolve(items)[int(resolver.resolve(index))]


def _fn_find_in_map(resolver: Resolver, arg: Any) -> Any:
    map_name, top, second = (resolver.resolve(v) for v in arg[:3])
    return resolver.template["Mappings"][map_name][top][second]


_INTRINSICS = {
    "Ref": lambda r, arg: r.ref(arg),
    "Fn::Sub": _fn_sub,
    "Fn::If": _fn_if,
    "Fn::GetAtt": _fn_get_att,
    "Fn::Join": lambda r, arg: str(arg[0]).join(str(v) for v in r.resolve(arg[1])),
    "Fn::Select": _fn_select,
    "Fn::Split": lambda r, arg: str(r.resolve(arg[1])).split(arg[0]),
    "Fn::FindInMap": _fn_find_in_map,
    "Fn::Equals": lambda r, arg: r._evaluate({"Fn::Equals": arg}),
    "Fn::Not": lambda r, arg: r._evaluate({"Fn::Not": arg}),
    "Fn::And": lambda r, arg: r._evaluate({"Fn::And": arg}),
    "Fn::Or": lambda r, arg: r._evaluate({"Fn::Or": arg}),
    "Fn::Base64": lambda r, arg: r.resolve(arg),
    "Fn::GetAZs": lambda r, arg: [f"{r.region}a", f"{r.region}b"],
    "Fn::ToJsonString": lambda r, arg: json.dumps(r.resolve(arg)),
}

_NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::SimpleTable": "TableName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::Rule": "Name",
    "AWS::Serverless::Function": "FunctionName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Serverless::LayerVersion": "LayerName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::SageMaker::EndpointConfig": "EndpointConfigName",
    "AWS::SageMaker::Model": "ModelName",
    "AWS::CloudWatch::Alarm": "AlarmName",
}


def _derived_name(stack: str, logical_id: str, kind: str) -> str:
    name = f"{stack}-{logical_id}"
    if kind == "AWS::S3::Bucket":
        return re.sub(r"[^a-z0-9.-]", "-", name.lower())[:63]
    return name[:64] if kind in {"AWS::Events::Rule", "AWS::Serverless::Function"} else name[:80]


def _fake_uuid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
