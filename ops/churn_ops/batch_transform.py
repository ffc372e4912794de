"""Score the bulk export on SageMaker Batch Transform: the endpoint's model, its contract, no endpoint.

    python -m churn_ops.batch_transform --input-file customers.jsonl --input s3://BUCKET/batch/in/ \\
        --output s3://BUCKET/batch/out/ (--model-name NAME | --stack-name churn-alerts) [--dry-run] [--wait]

The job sends the endpoint's own content type both ways (JSON Lines), split on lines
(``SplitType=Line``), many records per request (``BatchStrategy=MultiRecord``) and writes one
output line per input line (``AssembleWith=Line``). ``JoinSource=Input`` joins each prediction to
its input record, and the output filter keeps the ids and ``SageMakerOutput`` only: every output
line carries ``customer_id``/``call_id``/``job_name`` and never the customer's text.
``churn_model.batch_report`` reads that output as it reads the local runner's.

The container answers 413 to a request of more than 1,000 records (the endpoint contract's
limit) and SageMaker packs records up to ``MaxPayloadInMB`` (1 MB at least). So ``--input-file``
is uploaded with each line padded with spaces to 1/1000 of the payload: a mini-batch can never
hold more than 1,000 records (JSON ignores the spaces). GPU by default, as the endpoint.

Needs the ops environment (.venv-ops: sagemaker==3.27.0). ``--dry-run`` validates, builds the
SDK's request and prints it; nothing is uploaded or submitted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from churn_contracts.endpoint import JSON_LINES, MAX_BATCH_RECORDS
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.transformer import Transformer

from churn_ops.training_job import sdk_config

logger = logging.getLogger("churn_ops.batch_transform")

# The endpoint's default instance (template EndpointInstanceType): the model runs as it serves.
DEFAULT_INSTANCE_TYPE = "ml.g4dn.xlarge"
DEFAULT_MAX_PAYLOAD_MB = 1
SPLIT_TYPE = "Line"
BATCH_STRATEGY = "MultiRecord"
ASSEMBLE_WITH = "Line"
JOIN_SOURCE = "Input"
# Ids and the prediction; the input's profile and text stay out of the output.
OUTPUT_FILTER = "$['customer_id','call_id','job_name','SageMakerOutput']"
BASE_JOB_NAME = "churn-batch"
MODEL_LOGICAL_ID = "ScoringModel"


class LaunchError(RuntimeError):
    """The request cannot be submitted as it stands."""


@dataclass(frozen=True)
class TransformRequest:
    input_uri: str
    output_uri: str
    region: str
    model_name: str | None = None
    stack_name: str | None = None
    input_file: Path | None = None
    instance_type: str = DEFAULT_INSTANCE_TYPE
    instance_count: int = 1
    max_payload_mb: int = DEFAULT_MAX_PAYLOAD_MB
    max_concurrent: int | None = None
    run_id: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S"))


@dataclass(frozen=True)
class TransformPlan:
    """What will be submitted: printed by --dry-run, asserted by the tests."""

    job_name: str
    model_name: str
    input_uri: str
    output_uri: str
    instance_type: str
    instance_count: int
    max_payload_mb: int
    max_concurrent: int | None
    content_type: str
    accept: str
    split_type: str
    batch_strategy: str
    assemble_with: str
    join_source: str
    output_filter: str
    upload: dict[str, Any] | None
    request: dict[str, Any] = field(default_factory=dict)  # the SDK's CreateTransformJob request

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def min_line_bytes(max_payload_mb: int) -> int:
    """The padded line length at which a mini-batch holds at most MAX_BATCH_RECORDS records."""
    return -(-max_payload_mb * 1024 * 1024 // MAX_BATCH_RECORDS)


def pad_lines(source: Path, target: Path, min_bytes: int) -> dict[str, int]:
    """Copy the JSON Lines file with every record padded to ``min_bytes`` (newline included)."""
    records = 0
    with source.open("rb") as src, target.open("wb") as dst:
        for number, raw in enumerate(src, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                json.loads(line)
            except ValueError:
                raise LaunchError(f"{source}: line {number} is not JSON") from None
            dst.write(line.ljust(min_bytes - 1) + b"\n")
            records += 1
    if records == 0:
        raise LaunchError(f"{source} holds no records")
    return {"records": records, "bytes": target.stat().st_size}


def _split_s3(uri: str, what: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise LaunchError(f"{what} must be an s3:// URI, got {uri!r}")
    if not bucket:
        raise LaunchError(f"{what} must be an s3:// URI, got {uri!r}")
    return bucket, key


def model_from_stack(cloudformation: Any, stack_name: str) -> str:
    """The stack's SageMaker model name (its physical id is the name or the model's ARN)."""
    try:
        resource = cloudformation.describe_stack_resource(
            StackName=stack_name, LogicalResourceId=MODEL_LOGICAL_ID
        )
    except ClientError as exc:
        raise LaunchError(
            f"stack {stack_name!r} has no {MODEL_LOGICAL_ID} (deployed with ModelDataUrl?): "
            f"{exc.response['Error']['Message']}"
        ) from None
    physical = resource["StackResourceDetail"]["PhysicalResourceId"]
    return physical.rsplit("model/", 1)[-1] if physical.startswith("arn:") else physical


def plan(request: TransformRequest, boto_session: boto3.Session) -> TransformPlan:
    """Validate the request (the model exists, the locations are S3) and say what would run."""
    if not request.instance_type.startswith("ml."):
        raise LaunchError(
            f"--instance-type must be a SageMaker instance type (ml.*), got {request.instance_type!r}"
        )
    if request.instance_count < 1:
        raise LaunchError("--instance-count must be at least 1")
    if not 1 <= request.max_payload_mb <= 100:
        raise LaunchError("--max-payload-mb must be 1..100 (SageMaker's range)")
    _split_s3(request.input_uri, "--input")
    _split_s3(request.output_uri, "--output")
    if request.input_file is not None and not request.input_file.is_file():
        raise LaunchError(f"--input-file {request.input_file} is not a file")
    model_name = request.model_name
    if model_name is None:
        if not request.stack_name:
            raise LaunchError("pass --model-name, or --stack-name to use the stack's model")
        model_name = model_from_stack(boto_session.client("cloudformation"), request.stack_name)
    try:
        boto_session.client("sagemaker").describe_model(ModelName=model_name)
    except ClientError as exc:
        raise LaunchError(f"model {model_name!r}: {exc.response['Error']['Message']}") from None
    upload = None
    input_uri = request.input_uri
    if request.input_file is not None:
        # One folder per run: an S3Prefix input would also read an earlier run's files.
        input_uri = f"{request.input_uri.rstrip('/')}/{request.run_id}/{request.input_file.name}"
        upload = {
            "file": str(request.input_file),
            "to": input_uri,
            "pad_to_bytes": min_line_bytes(request.max_payload_mb),
        }
    return TransformPlan(
        job_name=f"{BASE_JOB_NAME}-{request.run_id}",
        model_name=model_name,
        input_uri=input_uri,
        output_uri=f"{request.output_uri.rstrip('/')}/{request.run_id}/",
        instance_type=request.instance_type,
        instance_count=request.instance_count,
        max_payload_mb=request.max_payload_mb,
        max_concurrent=request.max_concurrent,
        content_type=JSON_LINES,
        accept=JSON_LINES,
        split_type=SPLIT_TYPE,
        batch_strategy=BATCH_STRATEGY,
        assemble_with=ASSEMBLE_WITH,
        join_source=JOIN_SOURCE,
        output_filter=OUTPUT_FILTER,
        upload=upload,
    )


class _RequestSession(Session):
    """The SDK's session, keeping the CreateTransformJob request; a dry run stops before submitting."""

    def __init__(self, *args: Any, submit: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submit = submit
        self.captured: dict[str, Any] | None = None

    def _intercept_create_request(self, request: dict, create: Any, func_name: str | None = None) -> Any:
        self.captured = request
        return create(request) if self.submit else None


def transformer(plan_: TransformPlan, session: Session) -> Transformer:
    return Transformer(
        model_name=plan_.model_name,
        instance_count=plan_.instance_count,
        instance_type=plan_.instance_type,
        strategy=plan_.batch_strategy,
        assemble_with=plan_.assemble_with,
        output_path=plan_.output_uri,
        accept=plan_.accept,
        max_payload=plan_.max_payload_mb,
        max_concurrent_transforms=plan_.max_concurrent,
        sagemaker_session=session,
    )


def run(
    request: TransformRequest, boto_session: boto3.Session, *, dry_run: bool, wait: bool = False
) -> TransformPlan:
    """Plan, then (unless a dry run) upload the padded input and submit the job."""
    plan_ = plan(request, boto_session)
    session = _RequestSession(boto_session=boto_session, sagemaker_config=sdk_config(), submit=not dry_run)
    if plan_.upload is not None and not dry_run:
        with tempfile.TemporaryDirectory(prefix="churn-batch-") as tmp:
            padded = Path(tmp) / Path(plan_.upload["file"]).name
            plan_.upload.update(pad_lines(Path(plan_.upload["file"]), padded, plan_.upload["pad_to_bytes"]))
            bucket, key = _split_s3(plan_.upload["to"], "--input")
            boto_session.client("s3").upload_file(str(padded), bucket, key)
            logger.info("uploaded %s records to %s", plan_.upload["records"], plan_.upload["to"])
    transformer(plan_, session).transform(
        data=plan_.input_uri,
        data_type="S3Prefix",
        content_type=plan_.content_type,
        split_type=plan_.split_type,
        join_source=plan_.join_source,
        output_filter=plan_.output_filter,
        job_name=plan_.job_name,
        wait=wait,
        logs=wait,
    )
    assert session.captured is not None
    return TransformPlan(**{**plan_.to_dict(), "request": session.captured})


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_ops.batch_transform", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--input", required=True, help="s3:// prefix (with --input-file) or the JSON Lines input")
    p.add_argument("--output", required=True, help="s3:// prefix; the job writes <run id>/<input name>.out")
    p.add_argument(
        "--input-file", type=Path, default=None, help="a local export to upload (padded) to --input first"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--model-name", default=None, help="an existing SageMaker model")
    where.add_argument("--stack-name", default=None, help="use the deployed stack's model (ScoringModel)")
    p.add_argument("--region", default=None)
    p.add_argument(
        "--instance-type", default=DEFAULT_INSTANCE_TYPE, help=f"default {DEFAULT_INSTANCE_TYPE} (GPU)"
    )
    p.add_argument("--instance-count", type=int, default=1)
    p.add_argument(
        "--max-payload-mb", type=int, default=DEFAULT_MAX_PAYLOAD_MB, help="MaxPayloadInMB (default 1)"
    )
    p.add_argument("--max-concurrent", type=int, default=None, help="MaxConcurrentTransforms per instance")
    p.add_argument("--wait", action="store_true", help="wait for the job and stream its logs")
    p.add_argument(
        "--dry-run", action="store_true", help="validate and print the job; nothing uploaded or submitted"
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    region = args.region or boto3.Session().region_name
    if not region:
        print("error: no AWS region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    request = TransformRequest(
        input_uri=args.input,
        output_uri=args.output,
        region=region,
        model_name=args.model_name,
        stack_name=args.stack_name,
        input_file=args.input_file,
        instance_type=args.instance_type,
        instance_count=args.instance_count,
        max_payload_mb=args.max_payload_mb,
        max_concurrent=args.max_concurrent,
    )
    try:
        result = run(request, boto3.Session(region_name=region), dry_run=args.dry_run, wait=args.wait)
    except LaunchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"dry_run": args.dry_run, **result.to_dict()}, indent=2, default=str))
    if args.dry_run:
        print("dry run: valid; nothing uploaded, nothing submitted", file=sys.stderr)
    else:
        print(
            f"follow it: aws sagemaker describe-transform-job --transform-job-name {result.job_name} "
            "--query TransformJobStatus",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
