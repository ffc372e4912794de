"""Reading the deployed stack (its outputs and resources, boto3 only), and checking its parameters.

python -m churn_ops.stack check --config-env prod          # before `sam deploy --config-env prod`
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)


class StackError(RuntimeError):
    """The stack is not there, or not in a state to act on."""


# Errors that mean "this shell is not set up for AWS": one line for them, never a traceback.
AWS_SETUP_ERRORS = (BotoCoreError, ClientError)
_BAD_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
}


def aws_error_line(exc: BaseException) -> str:
    """One line saying what is wrong with the AWS set-up, and what to do."""
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return "no AWS credentials found: set AWS_PROFILE, or run `aws configure` (or `aws sso login`)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: pass --region, or set AWS_REGION"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", "")
        if code in _BAD_CREDENTIAL_CODES:
            return f"AWS refused the credentials ({code}): refresh them (`aws sso login`, or new keys)"
        return f"AWS error {code}: {message}"
    return f"AWS error: {exc}"


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


# --- checking parameters before a deploy --------------------------------------------------------
# CloudFormation's Rules compare strings only, so the risk thresholds' order cannot be a template
# rule; this check runs the template's constraints and Rules plus that order, as `stack up` does.


def samconfig_overrides(config_file: Path, config_env: str) -> dict[str, str]:
    """``parameter_overrides`` of one samconfig.toml environment, as NAME -> value."""
    config = tomllib.loads(config_file.read_text(encoding="utf-8"))
    deploy = ((config.get(config_env) or {}).get("deploy") or {}).get("parameters") or {}
    return parse_overrides(deploy.get("parameter_overrides", ""))


def parse_overrides(text: str | Sequence[str]) -> dict[str, str]:
    """SAM's ``Name=Value Name2="a value"`` form (a string, or a list of such pairs)."""
    pairs = shlex.split(text) if isinstance(text, str) else [p for item in text for p in shlex.split(item)]
    overrides = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"expected Name=Value, got {pair!r}")
        overrides[name] = value
    return overrides


def check(args: argparse.Namespace) -> int:
    from .template_rules import TemplateError, check_parameters, load_template

    try:
        overrides = samconfig_overrides(Path(args.config_file), args.config_env) if args.config_file else {}
        overrides.update(parse_overrides(args.parameter_overrides or []))
        values = check_parameters(load_template(args.template), overrides)
    except (TemplateError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    shown = ("ModelDataUrl", "EndpointName", "MediumRiskThreshold", "HighRiskThreshold")
    print(
        f"parameters OK ({args.config_env}): " + ", ".join(f"{k}={values[k]!r}" for k in shown if k in values)
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_ops.stack", description="Checks on the stack's parameters before a deploy."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "check", help="check samconfig.toml's parameters (and overrides) against the template's rules"
    )
    command.add_argument(
        "--config-env", default="default", help="samconfig.toml environment (default: default)"
    )
    command.add_argument("--config-file", default="samconfig.toml", help="'' to skip samconfig.toml")
    command.add_argument("--template", default="template.yaml")
    command.add_argument(
        "--parameter-overrides",
        nargs="*",
        metavar="NAME=VALUE",
        help="as for sam deploy; they win over samconfig",
    )
    args = parser.parse_args(argv)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
