"""Export one scoring record per customer for bulk scoring: profile + newest scored call's text.

    python -m churn_ops.export_latest_calls --output customers.jsonl                # the local stack
    python -m churn_ops.export_latest_calls --output customers.jsonl --stack-name churn-alerts [--region R]
    python -m churn_ops.export_latest_calls --output customers.jsonl --profiles-table P --calls-table C \\
        [--endpoint-url URL]

For every item of the profiles table (scanned page by page): the customer's newest call with a
score (status SCORED or ALERTED, from the calls table's ``by-customer`` index, newest first), and
its transcript from S3, rendered with the shared renderer (``churn_contracts``), so the text is
exactly what the score function sent the endpoint. A customer without a scored call, or whose
transcript has expired, is exported with ``text: null`` (scored on the profile, the text imputed)
and counted. ``customer_id``, ``call_id`` and ``job_name`` ride along for joining, with the weekly
list's ``last_call_at`` (when that call was scored) and ``alerted_at`` (the customer's newest alert,
from any call); the model never reads them. Memory stays flat: records are written as they are built (to ``OUT.tmp``, renamed at
the end). stdlib + boto3 only, so it runs in any of the environments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from churn_contracts.calls import CallStatus
from churn_contracts.endpoint import request_record
from churn_contracts.features import CALL_ID, CUSTOMER_ID
from churn_contracts.profile import item_to_record
from churn_contracts.transcribe import (
    DEFAULT_CUSTOMER_CHANNEL,
    DEFAULT_CUSTOMER_SPEAKER,
    TranscriptError,
    parse_transcript,
)

BY_CUSTOMER_INDEX = "by-customer"
SCORED_STATUSES = (CallStatus.SCORED.value, CallStatus.ALERTED.value)
# Two round trips per customer (the index, the transcript): a few in flight at once.
DEFAULT_WORKERS = 8
LOCAL_STATE = Path(".local-stack") / "state.json"


class ExportError(RuntimeError):
    """The export cannot start: tables not found, no local stack, bad arguments."""


@dataclass
class ExportReport:
    customers: int = 0
    with_call: int = 0
    without_scored_call: int = 0
    transcript_unavailable: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Sources:
    """Where the records come from: two DynamoDB Table resources and an S3 client."""

    profiles: Any
    calls: Any
    s3: Any
    customer_channel: str = DEFAULT_CUSTOMER_CHANNEL
    customer_speaker: str = DEFAULT_CUSTOMER_SPEAKER


def scan_profiles(profiles: Any, page_size: int = 500) -> Iterator[dict[str, Any]]:
    """Every profile item, one page in memory at a time."""
    kwargs: dict[str, Any] = {"Limit": page_size}
    while True:
        page = profiles.scan(**kwargs)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def newest_scored_call(calls: Any, customer_id: str) -> dict[str, Any] | None:
    """The customer's newest call with a score and a transcript, or None.

    Through the table resource's client (threads may share a client, not a resource); that client
    still converts between Python values and DynamoDB's typed ones.
    """
    kwargs: dict[str, Any] = {
        "TableName": calls.name,
        "IndexName": BY_CUSTOMER_INDEX,
        "KeyConditionExpression": "customer_id = :c",
        "FilterExpression": "#s IN (:scored, :alerted) AND attribute_exists(transcript_uri)",
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {
            ":c": customer_id,
            ":scored": SCORED_STATUSES[0],
            ":alerted": SCORED_STATUSES[1],
        },
        "ScanIndexForward": False,  # newest first
        "Limit": 10,
    }
    while True:
        page = calls.meta.client.query(**kwargs)
        items = page.get("Items", [])
        if items:
            return dict(items[0])
        if "LastEvaluatedKey" not in page:
            return None
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def newest_alert_at(calls: Any, customer_id: str) -> str | None:
    """When this customer was last alerted (any call), as stored; None if never."""
    kwargs: dict[str, Any] = {
        "TableName": calls.name,
        "IndexName": BY_CUSTOMER_INDEX,
        "KeyConditionExpression": "customer_id = :c",
        "FilterExpression": "attribute_exists(alerted_at)",
        "ExpressionAttributeValues": {":c": customer_id},
        "ScanIndexForward": False,  # newest call first; its alert is the newest
        "Limit": 25,
    }
    while True:
        page = calls.meta.client.query(**kwargs)
        for item in page.get("Items", []):
            if isinstance(item.get("alerted_at"), str):
                return item["alerted_at"]
        if "LastEvaluatedKey" not in page:
            return None
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) from ``s3://bucket/key`` or the ``https://s3...amazonaws.com/bucket/key`` form."""
    if uri.startswith("s3://"):
        bucket, _, key = uri[5:].partition("/")
    elif uri.startswith("https://"):
        bucket, _, key = uri.split("/", 3)[3].partition("/")
    else:
        raise ValueError("not an S3 location")
    if not bucket or not key:
        raise ValueError("not an S3 location")
    return bucket, key


def customer_text(sources: Sources, transcript_uri: str) -> str | None:
    """The customer's side of the call, as the score function renders it; None if unreadable."""
    try:
        bucket, key = split_s3_uri(transcript_uri)
        body = sources.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        conversation = parse_transcript(
            json.loads(body),
            customer_channel=sources.customer_channel,
            customer_speaker=sources.customer_speaker,
        )
    except (ClientError, ValueError, TranscriptError):
        return None
    return conversation.customer_text


def _fetch(
    sources: Sources, item: Mapping[str, Any]
) -> tuple[Mapping[str, Any], dict[str, Any] | None, str | None]:
    call = newest_scored_call(sources.calls, str(item[CUSTOMER_ID]))
    text = customer_text(sources, str(call["transcript_uri"])) if call is not None else None
    if call is not None:
        call = {**call, "_alerted_at": newest_alert_at(sources.calls, str(item[CUSTOMER_ID]))}
    return item, call, text


def export_records(
    sources: Sources, report: ExportReport, *, page_size: int = 500, workers: int = DEFAULT_WORKERS
) -> Iterator[dict[str, Any]]:
    """One record per profile, in the scan's order; one page of customers in flight at a time."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        page: list[Mapping[str, Any]] = []
        for item in scan_profiles(sources.profiles, page_size):
            page.append(item)
            if len(page) >= page_size:
                yield from _records(pool.map(lambda i: _fetch(sources, i), page), report)
                page = []
        yield from _records(pool.map(lambda i: _fetch(sources, i), page), report)


def _records(
    fetched: Iterable[tuple[Mapping[str, Any], dict[str, Any] | None, str | None]], report: ExportReport
) -> Iterator[dict[str, Any]]:
    for item, call, text in fetched:
        report.customers += 1
        if call is None:
            report.without_scored_call += 1
        else:
            report.with_call += 1
            if text is None:
                report.transcript_unavailable += 1
        record: dict[str, Any] = {
            CUSTOMER_ID: str(item[CUSTOMER_ID]),
            CALL_ID: call.get(CALL_ID) if call else None,
            "job_name": call.get("job_name") if call else None,
            "last_call_at": (call.get("scored_at") or call.get("created_at")) if call else None,
            "alerted_at": call.get("_alerted_at") if call else None,
        }
        # The score function's own record: the same shortening of long texts, empty text as null.
        record.update(request_record(item_to_record(item), text))
        yield record


def export(
    sources: Sources,
    output: Path,
    *,
    page_size: int = 500,
    progress_every: int = 0,
    workers: int = DEFAULT_WORKERS,
) -> ExportReport:
    """Write the records to ``output`` (JSON Lines), atomically: a partial file never replaces it."""
    report = ExportReport()
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".tmp")
    with partial.open("w", encoding="utf-8") as handle:
        for record in export_records(sources, report, page_size=page_size, workers=workers):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            if progress_every and report.customers % progress_every == 0:
                rate = report.customers / max(time.perf_counter() - started, 1e-9)
                print(f"export: {report.customers} customers ({rate:.0f}/s)", file=sys.stderr, flush=True)
    os.replace(partial, output)
    report.seconds = time.perf_counter() - started
    return report


# --- where the tables are ----------------------------------------------------------------------


def local_endpoint(state_file: Path = LOCAL_STATE) -> tuple[str, str, Mapping[str, str]]:
    """(endpoint URL, region, stack outputs) of the running local stack."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        raise ExportError(
            f"no local stack state at {state_file}: start one with `python -m churn_local.stack up`"
        ) from None
    return state["endpoints"]["aws"], state["endpoints"]["region"], state.get("outputs") or {}


def sources_from_args(args: argparse.Namespace) -> tuple[Sources, str]:
    """The tables and the S3 client the flags point at, and a line saying where."""
    session_kwargs: dict[str, Any] = {}
    endpoint = args.endpoint_url
    region = args.region
    outputs: Mapping[str, str] = {}
    if args.stack_name:
        from churn_ops.stack import StackError, stack_outputs

        session = boto3.session.Session(region_name=region)
        try:
            outputs = stack_outputs(session.client("cloudformation", endpoint_url=endpoint), args.stack_name)
        except StackError as exc:
            raise ExportError(str(exc)) from None
        where = f"stack {args.stack_name} ({session.region_name})"
    elif endpoint is None and not (args.profiles_table and args.calls_table):
        endpoint, region, outputs = local_endpoint(Path(args.state_file))
        session_kwargs = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        where = f"local stack ({endpoint})"
    else:
        where = endpoint or "AWS"
    session = boto3.session.Session(region_name=region, **session_kwargs)
    profiles_name = args.profiles_table or outputs.get("ProfilesTableName")
    calls_name = args.calls_table or outputs.get("CallsTableName")
    if not profiles_name or not calls_name:
        raise ExportError("cannot tell the tables: pass --stack-name, or --profiles-table and --calls-table")
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    sources = Sources(
        profiles=dynamodb.Table(profiles_name),
        calls=dynamodb.Table(calls_name),
        s3=session.client("s3", endpoint_url=endpoint),
        customer_channel=args.customer_channel,
        customer_speaker=args.customer_speaker,
    )
    return sources, f"{profiles_name} + {calls_name} in {where}"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_ops.export_latest_calls",
        description="One JSON Lines record per customer: profile + the newest scored call's customer text.",
    )
    p.add_argument("--output", type=Path, required=True)
    p.add_argument("--stack-name", help="a deployed stack: the tables come from its outputs")
    p.add_argument("--region", default=None)
    p.add_argument("--endpoint-url", default=None, help="another endpoint (e.g. a moto server)")
    p.add_argument("--profiles-table", default=None)
    p.add_argument("--calls-table", default=None)
    p.add_argument("--state-file", default=str(LOCAL_STATE), help="the local stack's state (default)")
    p.add_argument(
        "--customer-channel", default=DEFAULT_CUSTOMER_CHANNEL, help="as the stack's CustomerChannel"
    )
    p.add_argument(
        "--customer-speaker", default=DEFAULT_CUSTOMER_SPEAKER, help="as the stack's CustomerSpeaker"
    )
    p.add_argument("--page-size", type=int, default=500)
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="customers fetched at once")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        sources, where = sources_from_args(args)
        print(f"export: from {where}", file=sys.stderr)
        report = export(
            sources, args.output, page_size=args.page_size, progress_every=1000, workers=args.workers
        )
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"error: AWS refused the export: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"output": str(args.output), **report.to_dict()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
