"""Train the churn model on SageMaker: upload the data, submit a training job (sagemaker SDK v3).

    python -m churn_ops.training_job --train data/train.jsonl --test data/test.jsonl \\
        --bucket my-artifacts --role arn:aws:iam::123456789012:role/ChurnTraining [--dry-run]

The job runs ``churn_model.train`` unchanged in the PyTorch training DLC (through the entry shim
staged by :mod:`churn_ops.training_source`). Under SageMaker train.py writes the serving code into
SM_MODEL_DIR, so the job's ``model.tar.gz`` is the endpoint's ``ModelDataUrl`` as it is.

Needs the ops environment (.venv-ops: sagemaker==3.27.0). ``--dry-run`` validates the data, the
source folder and the SDK's configuration and prints what would be submitted; it makes no AWS call.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import boto3
from sagemaker.core import image_uris
from sagemaker.core.config.config import load_sagemaker_config
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.training.configs import (
    Compute,
    InputData,
    OutputDataConfig,
    SourceCode,
    StoppingCondition,
)
from sagemaker.train import ModelTrainer

from churn_ops import training_data, training_source
from churn_ops.best_flags import BEST_HYPERPARAMETERS

logger = logging.getLogger("churn_ops.training_job")


# The training DLC matches the endpoint's inference DLC (2.6.0, Python 3.12), so the pinned
# scikit-learn/numpy that pickled the model are the ones the endpoint installs.
FRAMEWORK = "pytorch"
FRAMEWORK_VERSION = "2.6.0"
PY_VERSION = "py312"
DEFAULT_INSTANCE_TYPE = "ml.g5.xlarge"
DEFAULT_PREFIX = "churn-training"
BASE_JOB_NAME = "churn-training"
DEFAULT_MAX_RUNTIME_S = 2 * 3600
DEFAULT_VOLUME_GB = 30
# The encoder comes from the pinned package; make sure nothing reaches for a hub anyway.
ENVIRONMENT: dict[str, str] = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


class LaunchError(RuntimeError):
    """The request cannot be submitted as it stands."""


@dataclass(frozen=True)
class TrainingRequest:
    """What the operator asks for."""

    train: Path
    bucket: str
    role: str
    region: str
    test: Path | None = None
    prefix: str = DEFAULT_PREFIX
    instance_type: str = DEFAULT_INSTANCE_TYPE
    hyperparameters: Mapping[str, str] = field(default_factory=lambda: dict(BEST_HYPERPARAMETERS))
    max_runtime_s: int = DEFAULT_MAX_RUNTIME_S
    volume_gb: int = DEFAULT_VOLUME_GB
    run_id: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S"))


@dataclass(frozen=True)
class Upload:
    local: str
    s3_uri: str


@dataclass(frozen=True)
class TrainingPlan:
    """What will be submitted: printed by --dry-run, asserted by the tests."""

    base_job_name: str
    image: str
    instance_type: str
    role: str
    hyperparameters: dict[str, str]
    channels: dict[str, str]
    uploads: list[Upload]
    output_path: str
    code_prefix: str
    entry_script: str
    requirements: list[str]
    environment: dict[str, str]
    max_runtime_s: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def training_image(region: str, instance_type: str) -> str:
    """The PyTorch training DLC for the region; GPU or CPU build follows the instance type."""
    return image_uris.retrieve(
        framework=FRAMEWORK,
        region=region,
        version=FRAMEWORK_VERSION,
        py_version=PY_VERSION,
        instance_type=instance_type,
        image_scope="training",
    )


def _s3_prefix(request: TrainingRequest) -> str:
    return f"s3://{request.bucket}/{request.prefix.strip('/')}"


def plan(request: TrainingRequest, staged: Path) -> TrainingPlan:
    """Validate the request and say what would be submitted; no AWS call."""
    if not request.role.startswith("arn:") or ":role/" not in request.role:
        raise LaunchError(
            f"--role must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), got {request.role!r}"
        )
    if not request.instance_type.startswith("ml."):
        raise LaunchError(
            f"--instance-type must be a SageMaker instance type (ml.*), got {request.instance_type!r}"
        )
    hyperparameters = {key.removeprefix("--"): str(value) for key, value in request.hyperparameters.items()}
    training_data.check_hyperparameters(hyperparameters)
    base = _s3_prefix(request)
    data_prefix = f"{base}/data/{request.run_id}"
    uploads: list[Upload] = []
    channels: dict[str, str] = {}
    for channel, path in (("train", request.train), ("test", request.test)):
        if path is None:
            continue
        files = training_data.check(path, hyperparameters, channel=channel)
        channels[channel] = f"{data_prefix}/{channel}/"
        uploads += [Upload(str(file), f"{data_prefix}/{channel}/{file.name}") for file in files]
    requirements = (staged / training_source.REQUIREMENTS).read_text().splitlines()
    return TrainingPlan(
        base_job_name=BASE_JOB_NAME,
        image=training_image(request.region, request.instance_type),
        instance_type=request.instance_type,
        role=request.role,
        hyperparameters=hyperparameters,
        channels=channels,
        uploads=uploads,
        output_path=f"{base}/output",
        code_prefix=f"{base}/code",
        entry_script=training_source.ENTRY_SCRIPT,
        requirements=[line for line in requirements if line and not line.startswith("#")],
        environment=dict(ENVIRONMENT),
        max_runtime_s=request.max_runtime_s,
    )


def build_trainer(plan_: TrainingPlan, staged: Path, session: Session, volume_gb: int) -> ModelTrainer:
    """The SDK object; constructing it validates the source folder, image and compute."""
    return ModelTrainer(
        sagemaker_session=session,
        role=plan_.role,
        base_job_name=plan_.base_job_name,
        training_image=plan_.image,
        source_code=SourceCode(
            source_dir=str(staged),
            entry_script=plan_.entry_script,
            requirements=training_source.REQUIREMENTS,
        ),
        compute=Compute(instance_type=plan_.instance_type, instance_count=1, volume_size_in_gb=volume_gb),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=plan_.max_runtime_s),
        output_data_config=OutputDataConfig(s3_output_path=plan_.output_path, compression_type="GZIP"),
        hyperparameters=dict(plan_.hyperparameters),
        environment=dict(plan_.environment),
        input_s3_key_prefix="code",
    )


def input_data(plan_: TrainingPlan) -> list[InputData]:
    return [InputData(channel_name=name, data_source=uri) for name, uri in plan_.channels.items()]


def upload(s3_client: Any, uploads: Sequence[Upload]) -> None:
    for item in uploads:
        bucket, _, key = item.s3_uri.removeprefix("s3://").partition("/")
        s3_client.upload_file(item.local, bucket, key)
        logger.info("uploaded %s to %s", item.local, item.s3_uri)


@contextlib.contextmanager
def _role_validation_skipped() -> Iterator[None]:
    # The SDK checks the role with iam:SimulatePrincipalPolicy while building the trainer; a dry
    # run must not call AWS, so it skips that check (SageMaker itself checks on submit).
    previous = os.environ.get("SAGEMAKER_VALIDATE_ROLE")
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("SAGEMAKER_VALIDATE_ROLE", None)
        else:
            os.environ["SAGEMAKER_VALIDATE_ROLE"] = previous


def sdk_config() -> dict[str, Any]:
    """The operator's SDK defaults files, if any, with the SDK's usage telemetry turned off.

    The SDK otherwise sends a request to an AWS-owned S3 URL on every ``train()``; our launcher
    and its tests send nothing but the training job's own calls.
    """
    config = load_sagemaker_config()
    config.setdefault("SchemaVersion", "1.0")
    modules = config.setdefault("SageMaker", {}).setdefault("PythonSDK", {}).setdefault("Modules", {})
    modules["TelemetryOptOut"] = True
    return config


def session_for(boto_session: boto3.Session, request: TrainingRequest) -> Session:
    # The SDK stages the code and its drivers under the default bucket/prefix: ours.
    return Session(
        boto_session=boto_session,
        default_bucket=request.bucket,
        default_bucket_prefix=request.prefix.strip("/"),
        sagemaker_config=sdk_config(),
    )


def dry_run(request: TrainingRequest, boto_session: boto3.Session | None = None) -> TrainingPlan:
    """Everything but the uploads and the submission."""
    with tempfile.TemporaryDirectory(prefix="churn-training-src-") as tmp:
        staged = training_source.stage(Path(tmp) / "src")
        plan_ = plan(request, staged)
        boto_session = boto_session or boto3.Session(region_name=request.region)
        with _role_validation_skipped():
            build_trainer(plan_, staged, session_for(boto_session, request), request.volume_gb)
    return plan_


@dataclass(frozen=True)
class Launched:
    job_name: str
    model_data: str
    plan: TrainingPlan


def launch(request: TrainingRequest, boto_session: boto3.Session, *, wait: bool = False) -> Launched:
    """Upload the data and the code, submit the training job; returns where the model will be."""
    with tempfile.TemporaryDirectory(prefix="churn-training-src-") as tmp:
        staged = training_source.stage(Path(tmp) / "src")
        plan_ = plan(request, staged)
        trainer = build_trainer(plan_, staged, session_for(boto_session, request), request.volume_gb)
        upload(boto_session.client("s3"), plan_.uploads)
        trainer.train(input_data_config=input_data(plan_), wait=wait, logs=wait)
        # The SDK's documented handle on the submitted job.
        job_name = trainer._latest_training_job.training_job_name
    model_data = f"{plan_.output_path}/{job_name}/output/model.tar.gz"
    return Launched(job_name=job_name, model_data=model_data, plan=plan_)


# --- command line ----------------------------------------------------------------------------


def _hyperparameter(value: str) -> tuple[str, str]:
    key, sep, val = value.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (a train.py flag without --), got {value!r}")
    return key.strip().removeprefix("--"), val


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_ops.training_job",
        description="Upload the training data to S3 and train the churn model on SageMaker.",
    )
    p.add_argument("--train", type=Path, required=True, help="training data: .jsonl/.csv file or folder")
    p.add_argument("--test", type=Path, default=None, help="test data: .jsonl/.csv file or folder")
    p.add_argument("--bucket", required=True, help="S3 bucket for the data, the code and the model")
    p.add_argument(
        "--prefix", default=DEFAULT_PREFIX, help=f"key prefix in the bucket (default {DEFAULT_PREFIX})"
    )
    p.add_argument("--role", required=True, help="the SageMaker training execution role ARN")
    p.add_argument("--region", default=None, help="AWS region (default: your AWS configuration)")
    p.add_argument(
        "--instance-type", default=DEFAULT_INSTANCE_TYPE, help=f"default {DEFAULT_INSTANCE_TYPE} (GPU)"
    )
    p.add_argument(
        "--max-runtime", type=int, default=DEFAULT_MAX_RUNTIME_S, help="seconds before SageMaker stops it"
    )
    p.add_argument("--volume-gb", type=int, default=DEFAULT_VOLUME_GB)
    p.add_argument(
        "--hp",
        type=_hyperparameter,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one default hyperparameter, e.g. --hp n-estimators=500 (repeatable)",
    )
    p.add_argument("--wait", action="store_true", help="wait for the job and stream its logs")
    p.add_argument(
        "--dry-run", action="store_true", help="validate and print what would be submitted; no AWS call"
    )
    return p


def request_from_args(args: argparse.Namespace, region: str) -> TrainingRequest:
    hyperparameters = dict(BEST_HYPERPARAMETERS)
    hyperparameters.update(dict(args.hp))
    return TrainingRequest(
        train=args.train,
        test=args.test,
        bucket=args.bucket,
        prefix=args.prefix,
        role=args.role,
        region=region,
        instance_type=args.instance_type,
        hyperparameters=hyperparameters,
        max_runtime_s=args.max_runtime,
        volume_gb=args.volume_gb,
    )


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    region = args.region or boto3.Session().region_name
    if not region:
        print("error: no AWS region: pass --region or set AWS_REGION", file=sys.stderr)
        return 2
    request = request_from_args(args, region)
    try:
        if args.dry_run:
            plan_ = dry_run(request)
            print(json.dumps({"dry_run": True, **plan_.to_dict()}, indent=2))
            print("dry run: valid; nothing uploaded, nothing submitted", file=sys.stderr)
            return 0
        launched = launch(request, boto3.Session(region_name=region), wait=args.wait)
    except (LaunchError, training_data.DataCheckError, training_source.SourceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"training_job": launched.job_name, "model_data": launched.model_data}, indent=2))
    if not args.wait:
        print(
            f"follow it: aws sagemaker describe-training-job --training-job-name {launched.job_name} "
            "--query TrainingJobStatus",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
