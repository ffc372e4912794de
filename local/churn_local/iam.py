"""IAM for the local functions: which actions an AWS call needs, and whether a role's policies allow them.

Standard library only: the function's worker process (any interpreter, Python 3.13 included) loads
this file by path, checks every boto3 call the handler makes against the function's own role as the
stack created it, refuses a call its role does not allow with AWS's error, and records the call.

Why not moto's own IAM authorisation: it is one server-wide switch (every client, the test harness
included, would need IAM users), and it maps actions too coarsely for what matters here: moto
5.2.5's S3 check calls a HEAD with ``versionId`` ``s3:GetObject``, where AWS requires
``s3:GetObjectVersion``.

The evaluator: identity policies only (no resource policies, permission boundaries, SCPs or
session policies); ``Allow``/``Deny`` with ``Action``/``NotAction`` and ``Resource``/``NotResource``,
``*`` and ``?`` wildcards (actions case-insensitive, resources case-sensitive); an explicit Deny wins.
It does not evaluate ``Condition`` blocks: a statement with a condition counts as if its condition
held (so a condition that would refuse, such as ``iam:PassedToService``, is not caught), nor policy
variables (``${aws:username}``).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

# The request parameters that name what a call acts on (never bodies, messages or items: no PII).
IDENTIFYING = (
    "Bucket",
    "Key",
    "TableName",
    "IndexName",
    "TopicArn",
    "TargetArn",
    "QueueUrl",
    "EndpointName",
    "TranscriptionJobName",
    "Name",
    "FunctionName",
    "KeyId",
    "ConnectionId",
    "InstanceId",
    "InitialContactId",
)


@dataclass(frozen=True)
class Context:
    region: str
    account: str
    # resource ARN -> the KMS key ARN that encrypts it (SNS topics, SQS queues)
    kms_keys: Mapping[str, str]


def identifying(service: str, operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """What a recorded call keeps of its parameters: the names of what it acts on."""
    kept: dict[str, Any] = {k: params[k] for k in IDENTIFYING if isinstance(params.get(k), str)}
    if params.get("VersionId") not in (None, ""):
        kept["VersionId"] = True  # whether, not which
    if service == "transcribe":
        role = (params.get("JobExecutionSettings") or {}).get("DataAccessRoleArn")
        if role:
            kept["DataAccessRoleArn"] = role
        if params.get("Tags"):
            kept["Tags"] = True
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        kept["Tables"] = sorted(params.get("RequestItems") or {})
    if operation == "PutEvents":  # each entry's bus, never its detail
        kept["Entries"] = [
            {"EventBusName": e.get("EventBusName")} if e.get("EventBusName") else {}
            for e in params.get("Entries") or []
            if isinstance(e, Mapping)
        ]
    if operation in {"TransactWriteItems", "TransactGetItems"}:
        kept["Items"] = [
            [kind, body.get("TableName")]
            for item in params.get("TransactItems") or []
            for kind, body in item.items()
        ]
    return kept


# --- what AWS requires for each call ---------------------------------------------------------
# Source: the Service Authorization Reference (docs.aws.amazon.com/service-authorization/latest/
# reference/), each service's "Actions defined by ..." table, and the S3 API reference for HEAD/GET
# with versionId ("you need s3:GetObjectVersion"); SNS and SQS server-side encryption docs for the
# KMS actions a publisher/sender needs on a customer managed key (kms:GenerateDataKey*, kms:Decrypt).
# DynamoDB tables encrypted with a customer managed key: DynamoDB uses the key on the caller's
# behalf, authorised by the key policy (the documented statement allows principals of the account
# through kms:ViaService dynamodb), not by the caller's role; key policies are not evaluated here,
# so no kms: action is listed for item reads and writes. Topics and queues are different: the
# publisher or sender needs kms:GenerateDataKey* and kms:Decrypt in its own identity policy.

Required = list[tuple[str, str]]


def _s3_object(action: str, versioned: str | None = None) -> Callable[[dict[str, Any], Context], Required]:
    def need(p: dict[str, Any], c: Context) -> Required:
        chosen = versioned if versioned and p.get("VersionId") else action
        return [(chosen, f"arn:aws:s3:::{p['Bucket']}/{p['Key']}")]

    return need


def _table(action: str) -> Callable[[dict[str, Any], Context], Required]:
    def need(p: dict[str, Any], c: Context) -> Required:
        arn = f"arn:aws:dynamodb:{c.region}:{c.account}:table/{p['TableName']}"
        return [(action, f"{arn}/index/{p['IndexName']}" if p.get("IndexName") else arn)]

    return need


def _tables(action: str) -> Callable[[dict[str, Any], Context], Required]:
    return lambda p, c: [
        (action, f"arn:aws:dynamodb:{c.region}:{c.account}:table/{t}") for t in p.get("Tables", [])
    ]


_TRANSACT = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def _transact(p: dict[str, Any], c: Context) -> Required:
    return [
        (_TRANSACT[kind], f"arn:aws:dynamodb:{c.region}:{c.account}:table/{table}")
        for kind, table in p.get("Items", [])
    ]


def _encrypted(arn: str, c: Context) -> Required:
    key = c.kms_keys.get(arn)
    return [("kms:GenerateDataKey", key), ("kms:Decrypt", key)] if key else []


def _publish(p: dict[str, Any], c: Context) -> Required:
    topic = p.get("TopicArn") or p.get("TargetArn") or ""
    return [("sns:Publish", topic), *_encrypted(topic, c)]


def queue_arn(url: str, region: str) -> str:
    account, name = url.rstrip("/").split("/")[-2:]
    return f"arn:aws:sqs:{region}:{account}:{name}"


def _sqs(action: str, kms: bool) -> Callable[[dict[str, Any], Context], Required]:
    def need(p: dict[str, Any], c: Context) -> Required:
        arn = queue_arn(p["QueueUrl"], c.region)
        return [(action, arn), *(_encrypted(arn, c) if kms else [])]

    return need


def _job(action: str) -> Callable[[dict[str, Any], Context], Required]:
    def need(p: dict[str, Any], c: Context) -> Required:
        arn = f"arn:aws:transcribe:{c.region}:{c.account}:transcription-job/{p['TranscriptionJobName']}"
        needed = [(action, arn)]
        if p.get("Tags"):
            needed.append(("transcribe:TagResource", arn))
        if p.get("DataAccessRoleArn"):
            needed.append(("iam:PassRole", p["DataAccessRoleArn"]))
        return needed

    return need


def _connection(method: str) -> Callable[[dict[str, Any], Context], Required]:
    """API Gateway's @connections API: ``execute-api:ManageConnections`` on the connection, the API id
    and stage taken from the endpoint the client calls (``https://{api}.execute-api.{region}.
    amazonaws.com/{stage}``; the local socket serves ``http://host:port/{api}/{stage}``)."""

    def need(p: dict[str, Any], c: Context) -> Required:
        url = urlparse(str(p.get("Endpoint") or ""))
        parts = [part for part in url.path.split("/") if part]
        host = url.hostname or ""
        if ".execute-api." in host:
            parts = [host.split(".", 1)[0], *parts]
        api, stage = [*parts, "", ""][:2]
        connection = p.get("ConnectionId") or "*"
        resource = (
            f"arn:aws:execute-api:{c.region}:{c.account}:{api}/{stage}/{method}/@connections/{connection}"
        )
        return [("execute-api:ManageConnections", resource)]

    return need


def _kms_key(key_id: str, c: Context) -> str:
    """A key named by ARN or by id (aliases would need the alias's own ARN too; none is used)."""
    return key_id if key_id.startswith("arn:") else f"arn:aws:kms:{c.region}:{c.account}:key/{key_id}"


REQUIRED: dict[tuple[str, str], Callable[[dict[str, Any], Context], Required]] = {
    ("s3", "HeadObject"): _s3_object("s3:GetObject", versioned="s3:GetObjectVersion"),
    ("s3", "GetObject"): _s3_object("s3:GetObject", versioned="s3:GetObjectVersion"),
    ("s3", "PutObject"): _s3_object("s3:PutObject"),
    ("s3", "DeleteObject"): _s3_object("s3:DeleteObject", versioned="s3:DeleteObjectVersion"),
    ("s3", "ListObjectsV2"): lambda p, c: [("s3:ListBucket", f"arn:aws:s3:::{p['Bucket']}")],
    ("dynamodb", "GetItem"): _table("dynamodb:GetItem"),
    ("dynamodb", "PutItem"): _table("dynamodb:PutItem"),
    ("dynamodb", "UpdateItem"): _table("dynamodb:UpdateItem"),
    ("dynamodb", "DeleteItem"): _table("dynamodb:DeleteItem"),
    ("dynamodb", "Query"): _table("dynamodb:Query"),
    ("dynamodb", "Scan"): _table("dynamodb:Scan"),
    ("dynamodb", "BatchGetItem"): _tables("dynamodb:BatchGetItem"),
    ("dynamodb", "BatchWriteItem"): _tables("dynamodb:BatchWriteItem"),
    ("dynamodb", "TransactWriteItems"): _transact,
    ("dynamodb", "TransactGetItems"): _transact,
    ("sns", "Publish"): _publish,
    ("sqs", "SendMessage"): _sqs("sqs:SendMessage", kms=True),
    ("sqs", "ReceiveMessage"): _sqs("sqs:ReceiveMessage", kms=True),
    ("sqs", "DeleteMessage"): _sqs("sqs:DeleteMessage", kms=False),
    ("sagemaker-runtime", "InvokeEndpoint"): lambda p, c: [
        (
            "sagemaker:InvokeEndpoint",
            f"arn:aws:sagemaker:{c.region}:{c.account}:endpoint/{p['EndpointName'].lower()}",
        )
    ],
    ("transcribe", "StartTranscriptionJob"): _job("transcribe:StartTranscriptionJob"),
    ("transcribe", "GetTranscriptionJob"): _job("transcribe:GetTranscriptionJob"),
    ("events", "PutEvents"): lambda p, c: _event_buses(p, c),
    ("cloudwatch", "PutMetricData"): lambda p, c: [("cloudwatch:PutMetricData", "*")],
    ("kms", "GenerateMac"): lambda p, c: [("kms:GenerateMac", _kms_key(p["KeyId"], c))],
    ("connect", "GetContactAttributes"): lambda p, c: [
        (
            "connect:GetContactAttributes",
            f"arn:aws:connect:{c.region}:{c.account}:instance/{p['InstanceId']}/contact/{p['InitialContactId']}",
        )
    ],
    ("apigatewaymanagementapi", "PostToConnection"): _connection("POST"),
    ("apigatewaymanagementapi", "GetConnection"): _connection("GET"),
    ("apigatewaymanagementapi", "DeleteConnection"): _connection("DELETE"),
    ("kms", "VerifyMac"): lambda p, c: [("kms:VerifyMac", _kms_key(p["KeyId"], c))],
}


def _event_buses(params: Mapping[str, Any], context: Context) -> Required:
    """PutEvents is authorised on each entry's bus (a name or an ARN; none is the default bus)."""
    buses = {
        str(e.get("EventBusName") or "default") for e in params.get("Entries") or [] if isinstance(e, Mapping)
    }
    return [
        (
            "events:PutEvents",
            bus
            if bus.startswith("arn:")
            else f"arn:aws:events:{context.region}:{context.account}:event-bus/{bus}",
        )
        for bus in sorted(buses or {"default"})
    ]


def required(service: str, operation: str, ident: Mapping[str, Any], context: Context) -> Required:
    """The (action, resource ARN) pairs AWS checks for this call; unknown calls need ``service:Op`` on ``*``."""
    need = REQUIRED.get((service, operation))
    if need is None:
        return [(f"{service.split('-')[0]}:{operation}", "*")]
    return need(dict(ident), context)


# --- the evaluator ---------------------------------------------------------------------------


def _listed(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: Iterable[str], value: str, *, case_sensitive: bool) -> bool:
    for pattern in patterns:
        regex = fnmatch.translate(pattern)
        if re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE):
            return True
    return False


def _applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        if not _matches(_listed(statement["Action"]), action, case_sensitive=False):
            return False
    elif not (
        "NotAction" in statement
        and not _matches(_listed(statement["NotAction"]), action, case_sensitive=False)
    ):
        return False
    if "Resource" in statement:
        return _matches(_listed(statement["Resource"]), resource, case_sensitive=True)
    if "NotResource" in statement:
        return not _matches(_listed(statement["NotResource"]), resource, case_sensitive=True)
    return False


def decide(policies: Sequence[Mapping[str, Any]], action: str, resource: str) -> str:
    """``Allow``, ``ExplicitDeny`` or ``ImplicitDeny`` for one action on one resource."""
    allowed = False
    for policy in policies:
        for statement in _listed_statements(policy.get("Statement")):
            if not _applies(statement, action, resource):
                continue
            if statement.get("Effect") == "Deny":
                return "ExplicitDeny"
            if statement.get("Effect") == "Allow":
                allowed = True
    return "Allow" if allowed else "ImplicitDeny"


def _listed_statements(value: Any) -> list[Mapping[str, Any]]:
    return [value] if isinstance(value, Mapping) else list(value or [])


def refusals(
    policies: Sequence[Mapping[str, Any]],
    service: str,
    operation: str,
    ident: Mapping[str, Any],
    context: Context,
) -> list[tuple[str, str, str]]:
    """(action, resource, decision) for each required action the policies do not allow."""
    found = []
    for action, resource in required(service, operation, ident, context):
        decision = decide(policies, action, resource)
        if decision != "Allow":
            found.append((action, resource, decision))
    return found


# --- in the worker ---------------------------------------------------------------------------

_ERROR_CODES = {"s3": "AccessDenied", "sqs": "AccessDenied", "sns": "AuthorizationError"}


def install(config_path: str) -> None:
    """Check (and record) every boto3 call this process makes against its role (worker only)."""
    import os
    import time

    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    config = json.loads(open(config_path, encoding="utf-8").read())  # noqa: SIM115 - read once
    context = Context(config["region"], config["account"], config.get("kms_keys") or {})
    policies = config["policies"]
    principal = config.get("principal", "")
    record_path = config.get("record")
    original = BaseClient._make_api_call

    def checked(self: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        ident = identifying(service, operation_name, api_params)
        if service == "apigatewaymanagementapi":  # the API and stage are in the endpoint, not the params
            ident["Endpoint"] = self.meta.endpoint_url
        refused = refusals(policies, service, operation_name, ident, context)
        if record_path:
            line = {
                "function": config["function"],
                "service": service,
                "operation": operation_name,
                "params": ident,
                "refused": [list(r) for r in refused],
                "at": time.time(),
            }
            # One write per line with O_APPEND: lines from concurrent workers do not interleave.
            fd = os.open(record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (json.dumps(line) + "\n").encode())
            finally:
                os.close(fd)
        if refused and config.get("enforce", True):
            action, resource, decision = refused[0]
            why = (
                "with an explicit deny"
                if decision == "ExplicitDeny"
                else "because no identity-based policy allows the"
            )
            message = f"User: {principal} is not authorized to perform: {action} on resource: {resource} " + (
                f"{why} {action} action" if decision != "ExplicitDeny" else why
            )
            if operation_name == "HeadObject":  # a HEAD response has no body: S3 says 403 only
                error = {"Code": "403", "Message": "Forbidden"}
            else:
                error = {"Code": _ERROR_CODES.get(service, "AccessDeniedException"), "Message": message}
            print(f"[local IAM] denied {action} on {resource}", flush=True)
            raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation_name)
        return original(self, operation_name, api_params)

    BaseClient._make_api_call = checked  # type: ignore[method-assign]


# --- the recorded-calls check ----------------------------------------------------------------


def read_records(path: str) -> list[dict[str, Any]]:
    """The calls the workers recorded (one JSON object a line)."""
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def check_calls(
    records: Iterable[Mapping[str, Any]],
    policies_by_function: Mapping[str, Sequence[Mapping[str, Any]]],
    context: Context,
) -> list[str]:
    """One line per (function, operation, action, resource) its role's policies do not allow."""
    problems: dict[str, None] = {}
    for record in records:
        policies = policies_by_function.get(record["function"], ())
        for action, resource, decision in refusals(
            policies, record["service"], record["operation"], record["params"], context
        ):
            problems[
                f"{record['function']}: {record['operation']} needs {action} on {resource} ({decision})"
            ] = None
    return list(problems)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m churn_local.iam CALLS.jsonl``: what each function called, and every refusal.

    Record a run with ``CHURN_LOCAL_CALL_LOG=CALLS.jsonl`` (any local stack, e.g. the integration
    tests); each record carries the refusals its worker found against the function's own role.
    """
    import argparse
    from collections import Counter

    parser = argparse.ArgumentParser(prog="python -m churn_local.iam", description=main.__doc__)
    parser.add_argument("calls", help="a call log written with CHURN_LOCAL_CALL_LOG")
    args = parser.parse_args(argv)
    records = read_records(args.calls)
    made = Counter((r["function"], r["service"], r["operation"]) for r in records)
    for (function, service, operation), count in sorted(made.items()):
        print(f"{function:32} {service}:{operation} x{count}")
    refused = sorted(
        {
            f"{r['function']}: {r['operation']} needs {action} on {resource} ({decision})"
            for r in records
            for action, resource, decision in r.get("refused") or []
        }
    )
    for line in refused:
        print(f"REFUSED {line}")
    print(f"{len(records)} call(s), {len(made)} kind(s), {len(refused)} refusal(s)")
    return 1 if refused else 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
