"""The Batch Transform launcher against moto: the job's settings, the dry run, the padded upload.

Runs in the ops environment only (.venv-ops, sagemaker SDK v3): `make ops-test`.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from churn_contracts.endpoint import MAX_BATCH_RECORDS
from churn_ops import batch_transform
from moto import mock_aws

REGION = "eu-west-1"
BUCKET = "churn-batch-test"
MODEL = "churn-alerts-ScoringModel-abc"


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch) -> None:
    from sagemaker.core.telemetry import telemetry_logging

    def refuse(url: str, timeout: float) -> None:
        raise AssertionError(f"the SDK tried to send telemetry to {url}")

    monkeypatch.setattr(telemetry_logging, "_requests_helper", refuse)


@pytest.fixture
def aws():
    with mock_aws():
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        boto3.client("sagemaker", region_name=REGION).create_model(
            ModelName=MODEL,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/ScoringModelRole",
            PrimaryContainer={
                "Image": "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-inference:2.6.0-gpu-py312"
            },
        )
        yield


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "customers.jsonl"
    rows = [
        {"customer_id": "C1", "call_id": "k1", "job_name": "j1", "plan": "B", "text": "I want to leave."},
        {"customer_id": "C2", "call_id": None, "job_name": None, "plan": "A", "text": None},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def args(export: Path, *extra: str) -> list[str]:
    return [
        "--input-file",
        str(export),
        "--input",
        f"s3://{BUCKET}/batch/in/",
        "--output",
        f"s3://{BUCKET}/batch/out/",
        "--model-name",
        MODEL,
        "--region",
        REGION,
        *extra,
    ]


def test_dry_run_prints_the_job_and_touches_nothing(aws, export: Path, capsys) -> None:
    assert batch_transform.main(args(export, "--dry-run")) == 0
    printed = json.loads(capsys.readouterr().out)
    request = printed["request"]
    assert printed["dry_run"] is True
    assert request["ModelName"] == MODEL
    assert request["BatchStrategy"] == "MultiRecord"
    assert request["MaxPayloadInMB"] == 1
    assert request["TransformInput"]["SplitType"] == "Line"
    assert request["TransformInput"]["ContentType"] == "application/jsonlines"
    assert request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"].endswith("/customers.jsonl")
    assert request["TransformOutput"]["AssembleWith"] == "Line"
    assert request["TransformOutput"]["Accept"] == "application/jsonlines"
    assert request["DataProcessing"]["JoinSource"] == "Input"
    assert "SageMakerOutput" in request["DataProcessing"]["OutputFilter"]
    assert "text" not in request["DataProcessing"]["OutputFilter"]  # transcripts never reach the output
    assert request["TransformResources"] == {"InstanceType": "ml.g4dn.xlarge", "InstanceCount": 1}
    # Nothing uploaded, nothing submitted.
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=BUCKET)
    assert boto3.client("sagemaker").list_transform_jobs()["TransformJobSummaries"] == []


def test_submit_uploads_the_padded_export_and_creates_the_job(aws, export: Path, capsys) -> None:
    code = batch_transform.main(
        args(export, "--instance-type", "ml.g5.2xlarge", "--instance-count", "3", "--max-payload-mb", "2")
    )
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    job = boto3.client("sagemaker").describe_transform_job(TransformJobName=printed["job_name"])
    assert job["ModelName"] == MODEL
    assert job["BatchStrategy"] == "MultiRecord" and job["MaxPayloadInMB"] == 2
    assert job["TransformResources"]["InstanceType"] == "ml.g5.2xlarge"
    assert job["TransformResources"]["InstanceCount"] == 3
    assert job["TransformInput"]["SplitType"] == "Line"
    assert job["TransformOutput"]["AssembleWith"] == "Line"
    assert job["TransformOutput"]["S3OutputPath"].startswith(f"s3://{BUCKET}/batch/out/")

    uri = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    lines = body.split(b"\n")[:-1]
    floor = batch_transform.min_line_bytes(2)
    # A 2 MB mini-batch can hold at most 1,000 padded records: the container's own limit.
    assert all(len(line) + 1 >= floor for line in lines) and 2 * 1024 * 1024 // floor <= MAX_BATCH_RECORDS
    assert [json.loads(line) for line in lines] == [json.loads(x) for x in export.read_text().splitlines()]


class _StackResources:
    """CloudFormation's DescribeStackResource answer (moto's CloudFormation needs extras the ops venv lacks)."""

    def __init__(self, physical_id: str) -> None:
        self.physical_id = physical_id
        self.asked: list[dict] = []

    def describe_stack_resource(self, **kwargs):
        self.asked.append(kwargs)
        return {"StackResourceDetail": {"PhysicalResourceId": self.physical_id}}


@pytest.mark.parametrize("physical_id", [MODEL, f"arn:aws:sagemaker:{REGION}:123456789012:model/{MODEL}"])
def test_the_stacks_model_is_found_by_its_logical_id(physical_id: str) -> None:
    cloudformation = _StackResources(physical_id)
    assert batch_transform.model_from_stack(cloudformation, "churn-alerts") == MODEL
    assert cloudformation.asked == [{"StackName": "churn-alerts", "LogicalResourceId": "ScoringModel"}]


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--instance-type", "g4dn.xlarge"), "ml.*"),
        (("--max-payload-mb", "0"), "1..100"),
        (("--instance-count", "0"), "at least 1"),
    ],
)
def test_bad_settings_are_refused_before_any_call(aws, export: Path, capsys, extra, message) -> None:
    assert batch_transform.main(args(export, "--dry-run", *extra)) == 2
    assert message in capsys.readouterr().err


def test_a_model_that_does_not_exist_is_named(aws, export: Path, capsys) -> None:
    argv = args(export, "--dry-run")
    argv[argv.index(MODEL)] = "no-such-model"
    assert batch_transform.main(argv) == 2
    assert "no-such-model" in capsys.readouterr().err


def test_padding_refuses_a_line_that_is_not_json(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"customer_id": "C1"}\nnot json\n')
    with pytest.raises(batch_transform.LaunchError, match="line 2"):
        batch_transform.pad_lines(source, tmp_path / "out.jsonl", 1049)
