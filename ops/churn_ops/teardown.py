"""Tear the stack down: empty the recordings bucket (every version), delete the stack, name what stays.

    python -m churn_ops.teardown --stack churn-alerts --dry-run
    python -m churn_ops.teardown --stack churn-alerts --yes [--wait] [--keep-recordings]

The recordings bucket (stack output ``RecordingsBucketName``) holds customers' calls and their
transcripts: it is emptied of every object version and delete marker first, unless
``--keep-recordings``. The template retains the bucket itself (``DeletionPolicy: Retain``), so
the empty bucket outlives the stack; any other bucket the stack deletes is emptied too, since
CloudFormation cannot delete a bucket that still holds objects.

Resources with ``DeletionPolicy: Retain`` (the profiles, calls and customer-alerts tables, and the
recordings bucket) outlive the stack with their data: the command prints each, with the command
that deletes it, for when that is meant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from churn_ops.stack import AWS_SETUP_ERRORS, StackError, aws_error_line, describe, stack_resources

RECORDINGS_OUTPUT = "RecordingsBucketName"

RETAINING_POLICIES = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})
DELETE_COMMANDS = {
    "AWS::DynamoDB::Table": "aws dynamodb delete-table --table-name {id}",
    "AWS::S3::Bucket": "aws s3 rb s3://{id}  # once empty (this command empties the recordings bucket)",
    "AWS::KMS::Key": "aws kms schedule-key-deletion --key-id {id} --pending-window-in-days 30",
    "AWS::Logs::LogGroup": "aws logs delete-log-group --log-group-name {id}",
    # ApiGatewayLogsRole=true: the region's API Gateway logging role, kept for every API there.
    "AWS::IAM::Role": (
        "aws iam delete-role-policy --role-name {id} --policy-name api-gateway-logs && "
        "aws iam delete-role --role-name {id}  # only once no API in this region logs through it"
    ),
    "AWS::ApiGateway::Account": "nothing to delete: the region's setting (aws apigateway get-account)",
}


@dataclass(frozen=True)
class Retained:
    logical_id: str
    type: str
    physical_id: str
    policy: str
    delete_with: str


@dataclass
class TeardownReport:
    stack: str
    dry_run: bool
    emptied: dict[str, int] = field(default_factory=dict)  # bucket -> versions and markers deleted
    retained: list[Retained] = field(default_factory=list)
    deleted: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["retained"] = [asdict(r) for r in self.retained]
        return data


def deletion_policies(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """Logical id -> DeletionPolicy, from the processed template (SAM expanded)."""
    body = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    if isinstance(body, str):
        body = json.loads(body) if body.lstrip().startswith("{") else _yaml(body)
    return {
        logical_id: resource.get("DeletionPolicy", "Delete")
        for logical_id, resource in body.get("Resources", {}).items()
    }


def _yaml(text: str) -> dict[str, Any]:
    import yaml  # only for a template deployed as YAML without SAM

    class _Loader(yaml.SafeLoader):
        pass

    # Intrinsic-function tags (!Ref, !Sub, ...) matter not here: keep their values as they are.
    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def empty_bucket(s3: Any, bucket: str, *, dry_run: bool) -> int:
    """Delete every object version and delete marker; returns how many there were."""
    count = 0
    paginator = s3.get_paginator("list_object_versions")
    try:
        for page in paginator.paginate(Bucket=bucket):
            batch = [
                {"Key": item["Key"], "VersionId": item["VersionId"]}
                for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            count += len(batch)
            if batch and not dry_run:
                response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
                if response.get("Errors"):
                    first = response["Errors"][0]
                    raise StackError(f"could not delete {first['Key']} from {bucket}: {first['Message']}")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchBucket":
            return 0
        raise
    return count


def teardown(
    stack_name: str,
    *,
    cloudformation: Any,
    s3: Any,
    dry_run: bool = False,
    wait: bool = False,
    keep_recordings: bool = False,
) -> TeardownReport:
    stack = describe(cloudformation, stack_name)
    if stack["StackStatus"].endswith("_IN_PROGRESS"):
        raise StackError(f"stack {stack_name} is {stack['StackStatus']}: wait for it to settle first")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    recordings = outputs.get(RECORDINGS_OUTPUT)
    if recordings is None and not keep_recordings:
        raise StackError(
            f"stack {stack_name} has no {RECORDINGS_OUTPUT} output: which bucket holds the recordings?"
        )
    policies = deletion_policies(cloudformation, stack_name)
    report = TeardownReport(stack=stack_name, dry_run=dry_run)
    to_empty: list[str] = [] if keep_recordings or recordings is None else [recordings]
    for resource in stack_resources(cloudformation, stack_name):
        logical_id, kind = resource["LogicalResourceId"], resource["ResourceType"]
        physical_id = resource.get("PhysicalResourceId", "")
        policy = policies.get(logical_id, "Delete")
        if policy in RETAINING_POLICIES:
            command = DELETE_COMMANDS.get(kind, "delete it with its service's console or CLI").format(
                id=physical_id
            )
            report.retained.append(Retained(logical_id, kind, physical_id, policy, command))
        elif kind == "AWS::S3::Bucket" and physical_id and physical_id not in to_empty:
            to_empty.append(physical_id)
    for bucket in to_empty:
        report.emptied[bucket] = empty_bucket(s3, bucket, dry_run=dry_run)
    if not dry_run:
        cloudformation.delete_stack(StackName=stack_name)
        if wait:
            cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack_name)
        report.deleted = True
    return report


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m churn_ops.teardown", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--stack", default="churn-alerts", help="stack name (default churn-alerts, as in samconfig.toml)"
    )
    p.add_argument("--region", default=None)
    p.add_argument("--dry-run", action="store_true", help="say what would be emptied, deleted and retained")
    p.add_argument("--yes", action="store_true", help="do it: empties buckets and deletes the stack")
    p.add_argument("--wait", action="store_true", help="wait until the stack is deleted")
    p.add_argument(
        "--keep-recordings", action="store_true", help="do not empty the (retained) recordings bucket"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.dry_run and not args.yes:
        print(
            "error: this deletes recordings and the stack; pass --yes (or --dry-run to look first)",
            file=sys.stderr,
        )
        return 2
    try:
        session = boto3.Session(region_name=args.region)
        report = teardown(
            args.stack,
            cloudformation=session.client("cloudformation"),
            s3=session.client("s3"),
            dry_run=args.dry_run,
            wait=args.wait,
            keep_recordings=args.keep_recordings,
        )
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AWS_SETUP_ERRORS as exc:
        print(f"error: {aws_error_line(exc)}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2))
    for item in report.retained:
        print(
            f"retained: {item.type} {item.physical_id} ({item.logical_id}); delete with: {item.delete_with}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
