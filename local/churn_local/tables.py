"""Find the pipeline's tables, local or real, for the ops tools.

Local: the running local stack (``.local-stack/state.json``) and the template's names.
Real: the default AWS credential chain, with the physical name from ``--table`` or from
the deployed CloudFormation stack (``--stack-name``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import boto3

from .aws import table as local_table
from .spec import StackSpec, read_stack
from .stack import STATE_DIR, read_state


class TableNotFoundError(RuntimeError):
    """The tool cannot tell which table to use."""


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="the running local stack (default)")
    where.add_argument("--real", action="store_true", help="real AWS, default credentials")
    parser.add_argument("--table", help="physical table name (overrides the template's)")
    parser.add_argument("--stack-name", help="with --real: the deployed stack to look the table up in")
    parser.add_argument("--region", help="with --real: region (default: your AWS config)")
    parser.add_argument("--endpoint-url", help="any other endpoint, e.g. a moto server")
    parser.add_argument("--template", default="template.yaml")
    parser.add_argument("--state-dir", default=str(STATE_DIR))


def logical_table(spec: StackSpec, kind: str) -> str:
    """The template's table for ``kind`` ("profiles" or "calls"), by its logical id."""
    matches = [t.logical_id for t in spec.tables if kind.rstrip("s").lower() in t.logical_id.lower()]
    if len(matches) != 1:
        known = ", ".join(t.logical_id for t in spec.tables) or "none"
        raise TableNotFoundError(f"cannot tell which table holds {kind} (tables in the template: {known})")
    return matches[0]


def open_table(args: argparse.Namespace, kind: str) -> tuple[Any, str]:
    """A boto3 Table resource for ``kind`` and a line saying where it is."""
    if args.real:
        session = boto3.session.Session(region_name=args.region)
        name = args.table
        if name is None:
            if not args.stack_name:
                raise TableNotFoundError("with --real, pass --table NAME or --stack-name STACK")
            logical_id = logical_table(read_stack(args.template), kind)
            resource = session.client("cloudformation").describe_stack_resource(
                StackName=args.stack_name, LogicalResourceId=logical_id
            )
            name = resource["StackResourceDetail"]["PhysicalResourceId"]
        return session.resource("dynamodb").Table(name), f"{name} (AWS, {session.region_name})"
    if args.endpoint_url:
        endpoint, region, parameters = args.endpoint_url, args.region or "us-east-1", {}
    else:
        state = read_state(Path(args.state_dir))
        if state is None:
            raise TableNotFoundError(
                "no local stack running: start one with `python -m churn_local.stack up`"
            )
        endpoint, region = state["endpoints"]["aws"], state["endpoints"]["region"]
        parameters = state.get("parameters") or {}
    if args.table:
        name = args.table
    else:
        spec = read_stack(args.template, parameters=parameters, endpoint_url=endpoint, region=region)
        name = spec.table(logical_table(spec, kind)).name
    return local_table(name, endpoint, region), f"{name} (local, {endpoint})"
