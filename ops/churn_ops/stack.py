"""Reading the deployed stack (its outputs and resources, boto3 only), and checking its parameters.

python -m churn_ops.stack check --config-env prod          # before `sam deploy --config-env prod`
python -m churn_ops.stack check --config-env prod --verify # and hash the model's object (S3 read)
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


def models_bucket(
    session: Any, bucket: str | None, stack_name: str | None, endpoint_url: str | None = None
) -> str | None:
    """The bucket models are published to: ``bucket`` as given, else the stack's recordings bucket."""
    if bucket is None and stack_name:
        cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
        bucket = stack_outputs(cloudformation, stack_name).get("RecordingsBucketName")
    return bucket or None


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


# A ModelDataUrl must name bytes that cannot change under the stack (issue 21): a key carrying the
# archive's SHA-256 as the registry writes it (the pattern register() itself requires); in the
# stack's bucket, models/ also refuses any overwrite. A CloudFormation rule cannot match a pattern, and an AllowedPattern would refuse the
# empty value and samconfig's placeholder with a less useful message, so the deploy check holds it.
PUBLISH_HINT = (
    "publish the archive first: `python -m churn_ops.publish_model model.tar.gz --stack-name <stack>` "
    "(or --bucket <bucket>) prints the ModelDataUrl to deploy; `python -m churn_ops.promote` does the "
    "same when it registers a better candidate"
)


def model_url_problem(url: str) -> str | None:
    """Why this ModelDataUrl is refused, or None (empty: the stack scores on EndpointName)."""
    from .registry import is_immutable_model_url

    if url == "" or is_immutable_model_url(url):
        return None
    return (
        f"ModelDataUrl {url!r} is not content-addressed (s3://<bucket>/models/sha256-<sha256 of the "
        f"archive>/model.tar.gz, written once), so the bytes it names could change under the "
        f"endpoint: {PUBLISH_HINT}"
    )


def verify_model_digest(s3: Any, url: str) -> str | None:
    """Why the object's bytes do not match the digest its key names, or None. Reads the object."""
    import hashlib

    bucket, key = url[len("s3://") :].split("/", 1)
    named = key.rsplit("/", 2)[-2].removeprefix("sha256-")
    digest = hashlib.sha256()
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as exc:
        return f"ModelDataUrl {url}: cannot read it ({aws_error_line(exc)})"
    for block in iter(lambda: body.read(1 << 20), b""):
        digest.update(block)
    if digest.hexdigest() != named:
        return f"ModelDataUrl {url}: its bytes hash to sha256 {digest.hexdigest()}, not the key's; {PUBLISH_HINT}"
    return None


def check(args: argparse.Namespace) -> int:
    from .template_rules import ParameterError, TemplateError, check_parameters, load_template

    problems: list[str] = []
    try:
        overrides = samconfig_overrides(Path(args.config_file), args.config_env) if args.config_file else {}
        overrides.update(parse_overrides(args.parameter_overrides or []))
        template = load_template(args.template)
        try:
            values = check_parameters(template, overrides)
        except ParameterError as exc:
            problems.append(str(exc))
            values = {}
    except (TemplateError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    model_data_url = values.get("ModelDataUrl", overrides.get("ModelDataUrl", ""))
    url_problem = model_url_problem(model_data_url)
    if url_problem:
        problems.append(url_problem)
    elif args.verify and model_data_url and not problems:
        try:
            import boto3

            s3 = boto3.session.Session(region_name=args.region).client("s3")
            url_problem = verify_model_digest(s3, model_data_url)
        except AWS_SETUP_ERRORS as exc:
            url_problem = f"--verify: {aws_error_line(exc)}"
        if url_problem:
            problems.append(url_problem)
    if problems:
        print("error: " + "\n".join(problems), file=sys.stderr)
        return 1
    shown = ("ModelDataUrl", "EndpointName", "MediumRiskThreshold", "HighRiskThreshold")
    verified = " (model digest verified)" if args.verify and model_data_url else ""
    print(
        f"parameters OK ({args.config_env}){verified}: "
        + ", ".join(f"{k}={values[k]!r}" for k in shown if k in values)
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
    command.add_argument(
        "--verify",
        action="store_true",
        help="also read ModelDataUrl's object and check its bytes hash to the digest in its key (AWS access)",
    )
    command.add_argument("--region", help="for --verify")
    args = parser.parse_args(argv)
    return check(args)


if __name__ == "__main__":
    sys.exit(main())
