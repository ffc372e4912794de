"""Reading the deployed stack: its outputs and its resources (boto3 only)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class StackError(RuntimeError):
    """The stack is not there, or not in a state to act on."""


def describe(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise StackError(f"stack {stack_name!r} not found ({exc.response['Error']['Message']})") from exc
    if not stacks:
        raise StackError(f"stack {stack_name!r} not found")
    return stacks[0]


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """OutputKey -> OutputValue."""
    return {o["OutputKey"]: o["OutputValue"] for o in describe(cloudformation, stack_name).get("Outputs", [])}


def stack_resources(cloudformation: Any, stack_name: str) -> list[dict[str, Any]]:
    """Every resource of the stack (LogicalResourceId, PhysicalResourceId, ResourceType, ...)."""
    resources: list[dict[str, Any]] = []
    paginator = cloudformation.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=stack_name):
        resources.extend(page["StackResourceSummaries"])
    return resources
