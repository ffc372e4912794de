"""promote: the paired bootstrap and the decision, the registry (moto's SageMaker and S3), and the
real models through the bulk path (a model trained on shuffled labels is refused)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from churn_ops import promote
from churn_ops.registry import (
    APPROVED,
    REJECTED,
    ModelRegistry,
    RegistryError,
    is_immutable_model_url,
    model_key,
    sha256_of,
)
from moto import mock_aws

REGION = "us-east-1"


def synthetic(n: int = 400, seed: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels, a model that knows something, and one that knows nothing (scores unrelated to y)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    informed = 1 / (1 + np.exp(-(2.0 * y - 1.0 + rng.normal(0, 1.0, n))))
    shuffled = rng.permutation(informed)
    return y, informed, shuffled


def test_a_candidate_that_knows_nothing_is_refused_and_a_better_one_promoted() -> None:
    y, informed, shuffled = synthetic()
    worse = promote.paired_bootstrap(y, serving=informed, candidate=shuffled, n=300)
    by = {row.name: row for row in worse}
    assert by["roc_auc"].difference < -0.2 and by["roc_auc"].high < 0  # clearly worse
    assert by["brier"].low > 0
    refused = promote.decide(worse)
    assert not refused.promote and any("ROC AUC is not higher" in r for r in refused.reasons)

    better = promote.paired_bootstrap(y, serving=shuffled, candidate=informed, n=300)
    assert promote.decide(better).promote


def test_a_tie_is_not_promoted_and_the_interval_is_of_the_paired_difference() -> None:
    y, informed, _ = synthetic()
    same = promote.paired_bootstrap(y, informed, informed.copy(), n=200)
    assert all(row.difference == 0 and row.low == 0 and row.high == 0 for row in same)
    assert not promote.decide(same).promote
    # A slightly noisier copy: the paired interval is narrow around a small difference.
    noisy = np.clip(informed + np.random.default_rng(3).normal(0, 0.02, len(y)), 0, 1)
    rows = {r.name: r for r in promote.paired_bootstrap(y, informed, noisy, n=300)}
    assert rows["roc_auc"].high - rows["roc_auc"].low < 0.03


def test_a_worse_model_check_refuses_a_better_auc() -> None:
    y, informed, shuffled = synthetic()
    rows = promote.paired_bootstrap(y, shuffled, informed, n=200)
    decision = promote.decide(rows, {"serving": 0.97, "candidate": 0.80})
    assert not decision.promote and "model check" in decision.reasons[0]


def test_too_few_labelled_rows_or_one_class_cannot_be_compared() -> None:
    with pytest.raises(promote.PromoteError, match="need at least"):
        promote.paired_bootstrap(np.array([0, 1] * 5), np.zeros(10), np.zeros(10))
    with pytest.raises(promote.PromoteError, match="of each label"):
        promote.paired_bootstrap(np.zeros(100, dtype=int), np.zeros(100), np.zeros(100))


def tarball(path: Path, content: bytes) -> Path:
    inner = path.with_suffix(".txt")
    inner.write_bytes(content)
    with tarfile.open(path, "w:gz") as archive:
        archive.add(inner, arcname="model.json")
    return path


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="churn-models")
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        found = ModelRegistry(
            sagemaker, s3, "churn-models", "churn-models", "123.dkr.ecr/churn:2.6.0-cpu-py312"
        )
        found.ensure_group()
        found.ensure_group()  # idempotent
        yield found


def test_candidates_are_content_addressed_registered_and_the_newest_approved_serves(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    first = tarball(tmp_path / "a.tar.gz", b'{"model_version": "a"}')
    url, digest = registry.upload(first)
    assert digest == sha256_of(first) and url == f"s3://churn-models/{model_key(digest)}"
    assert is_immutable_model_url(url)
    assert registry.upload(first) == (url, digest)  # the same bytes: the same key, nothing written
    a = registry.register(url, digest, {"promote": True}, "a")
    assert registry.approved() is None
    a = registry.decide(a.arn, True, "better")
    assert a.status == APPROVED and registry.approved().arn == a.arn

    second = tarball(tmp_path / "b.tar.gz", b'{"model_version": "b"}')
    b = registry.register(*registry.upload(second), {"promote": False}, "b")
    assert registry.decide(b.arn, False, "worse").status == REJECTED
    assert registry.approved().arn == a.arn  # a rejected candidate never serves
    fetched = registry.fetch(registry.approved(), tmp_path / "serving" / "model.tar.gz")
    assert sha256_of(fetched) == digest
    uri = registry.sagemaker.describe_model_package(ModelPackageName=a.arn)["ModelMetrics"]["ModelQuality"][
        "Statistics"
    ]["S3Uri"]
    bucket, key = uri[len("s3://") :].split("/", 1)
    assert key.startswith(f"models/sha256-{digest}/comparison-")
    assert json.loads(registry.s3.get_object(Bucket=bucket, Key=key)["Body"].read()) == {"promote": True}


def test_a_key_holding_other_bytes_is_refused_and_mutable_urls_are_not_registered(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    model = tarball(tmp_path / "a.tar.gz", b"one")
    digest = sha256_of(model)
    registry.s3.put_object(Bucket="churn-models", Key=model_key(digest), Body=b"tampered")
    with pytest.raises(RegistryError, match="other bytes"):
        registry.upload(model)
    with pytest.raises(RegistryError, match="content-addressed"):
        registry.register("s3://churn-models/churn/model.tar.gz", digest, {}, "a")
    assert not is_immutable_model_url("s3://b/models/sha256-abc/model.tar.gz")


@pytest.mark.slow
@pytest.mark.model
def test_promote_refuses_a_model_trained_on_shuffled_labels_and_promotes_the_real_one(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from churn_model.data.generate import write_dataset
    from churn_model.train import TrainConfig, train_model

    data = tmp_path / "data"
    write_dataset(data, rows=1200, test_fraction=0.75, seed=99)  # 900 recent calls the models never saw
    rows = [json.loads(line) for line in (data / "train.jsonl").read_text().splitlines()]
    labels = np.random.default_rng(0).permutation([r["y"] for r in rows])
    shuffled_data = tmp_path / "shuffled.jsonl"
    shuffled_data.write_text(
        "".join(json.dumps({**r, "y": int(y)}) + "\n" for r, y in zip(rows, labels, strict=True))
    )
    train_model(
        shuffled_data,
        tmp_path / "shuffled-model",
        config=TrainConfig(n_estimators=30, seed=0, progress=False),
        model_version="shuffled-labels",
    )
    recent = data / "test.jsonl"
    args = ["--data", str(recent), "--dry-run", "--bootstrap", "300", "--no-check"]
    assert (
        promote.main(
            ["--candidate", str(tmp_path / "shuffled-model"), "--serving", str(tiny_model_dir), *args]
        )
        == 1
    )
    refused = capsys.readouterr().out
    assert "REFUSE" in refused and "roc_auc" in refused and "pr_auc" in refused and "brier" in refused
    assert (
        promote.main(
            ["--candidate", str(tiny_model_dir), "--serving", str(tmp_path / "shuffled-model"), *args]
        )
        == 0
    )
    assert "PROMOTE" in capsys.readouterr().out


def test_the_rank_auc_is_sklearns_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(5)
    y = (rng.random(300) < 0.3).astype(int)
    p = np.round(rng.random(300), 1)  # many ties
    assert promote.roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
