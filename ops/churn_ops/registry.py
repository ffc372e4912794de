"""The model registry: a SageMaker Model Package Group, and content-addressed model artifacts.

Every candidate is uploaded once to ``s3://<bucket>/models/sha256-<digest>/model.tar.gz`` (the key
is the archive's SHA-256, so a key always names the same bytes: an existing key is never
written again, and a key whose object has other bytes is an error) and registered as a model
package with its comparison as ``ModelMetrics`` (a JSON document beside the archive) and an
approval status: PendingManualApproval, then Approved by ``promote`` when it is better, or
Rejected with the reason. On AWS this is SageMaker's registry; the local stack uses moto's
SageMaker, which implements the same calls (groups, packages, ModelMetrics, approval), so the
same code runs on both and no second registry format exists.

The stack's bucket policy (``ModelsAreWrittenOnce``) refuses any write under ``models/`` without
``If-None-Match``, so a key there is never overwritten and a ``ModelDataUrl`` from ``promote``
always names the same bytes. (The ``ModelDataUrl`` parameter itself still takes any
``s3://.../*.tar.gz``: a training job's output, the smoke deploy's archive.)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

MODEL_PREFIX = "models"
IMMUTABLE_MODEL_URL = re.compile(
    r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(?:[^/]+/)*sha256-[0-9a-f]{64}/model\.tar\.gz$"
)
APPROVED, PENDING, REJECTED = "Approved", "PendingManualApproval", "Rejected"


class RegistryError(RuntimeError):
    """The registry refused an operation (an overwritten key, a missing group)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_key(digest: str, prefix: str = MODEL_PREFIX) -> str:
    return f"{prefix}/sha256-{digest}/model.tar.gz"


def is_immutable_model_url(url: str) -> bool:
    return bool(IMMUTABLE_MODEL_URL.match(url))


@dataclass(frozen=True)
class Package:
    arn: str
    version: int
    status: str
    model_data_url: str
    metadata: Mapping[str, str]


class ModelRegistry:
    def __init__(self, sagemaker: Any, s3: Any, bucket: str, group: str, image: str) -> None:
        self.sagemaker, self.s3, self.bucket, self.group, self.image = sagemaker, s3, bucket, group, image

    def ensure_group(self) -> None:
        try:
            self.sagemaker.describe_model_package_group(ModelPackageGroupName=self.group)
        except ClientError:
            self.sagemaker.create_model_package_group(
                ModelPackageGroupName=self.group,
                ModelPackageGroupDescription="Churn models: every candidate, its comparison with the serving model, approval",
            )

    def upload(self, tarball: Path) -> tuple[str, str]:
        """(content-addressed URL, digest). Uploads only when the key is absent; never overwrites."""
        digest = sha256_of(tarball)
        key = model_key(digest)
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"404", "NoSuchKey", "NotFound"}:
                raise
            with tarball.open("rb") as body:
                self.s3.put_object(
                    Bucket=self.bucket, Key=key, Body=body, Metadata={"sha256": digest}, IfNoneMatch="*"
                )
        else:
            if head.get("Metadata", {}).get("sha256") != digest:
                raise RegistryError(
                    f"s3://{self.bucket}/{key} holds other bytes than its name says; refusing"
                )
        return f"s3://{self.bucket}/{key}", digest

    def register(
        self, model_data_url: str, digest: str, comparison: Mapping[str, Any], model_version: str
    ) -> Package:
        if not is_immutable_model_url(model_data_url):
            raise RegistryError(f"{model_data_url} is not a content-addressed model URL")
        # One comparison per registration (a candidate may be compared again later), written
        # once like everything under models/.
        body = json.dumps(comparison, indent=2, sort_keys=True).encode()
        metrics_key = (
            f"{MODEL_PREFIX}/sha256-{digest}/comparison-{hashlib.sha256(body).hexdigest()[:16]}.json"
        )
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=metrics_key,
                Body=body,
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "PreconditionFailed":  # the same comparison: it is there
                raise
        answer = self.sagemaker.create_model_package(
            ModelPackageGroupName=self.group,
            ModelPackageDescription=f"model {model_version}"[:1000],
            InferenceSpecification={
                "Containers": [{"Image": self.image, "ModelDataUrl": model_data_url}],
                "SupportedContentTypes": ["application/json", "application/jsonlines"],
                "SupportedResponseMIMETypes": ["application/json", "application/jsonlines"],
            },
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {
                        "ContentType": "application/json",
                        "S3Uri": f"s3://{self.bucket}/{metrics_key}",
                    }
                }
            },
            ModelApprovalStatus=PENDING,
            CustomerMetadataProperties={"sha256": digest, "model_version": model_version[:256]},
        )
        return self.describe(answer["ModelPackageArn"])

    def describe(self, arn: str) -> Package:
        found = self.sagemaker.describe_model_package(ModelPackageName=arn)
        container = found["InferenceSpecification"]["Containers"][0]
        return Package(
            arn=found["ModelPackageArn"],
            version=int(found.get("ModelPackageVersion") or 0),
            status=found["ModelApprovalStatus"],
            model_data_url=container["ModelDataUrl"],
            metadata=found.get("CustomerMetadataProperties") or {},
        )

    def decide(self, arn: str, approve: bool, reason: str) -> Package:
        before = self.describe(arn)
        # The metadata again: AWS keeps it on an update without it, moto 5.2.5 drops it.
        self.sagemaker.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus=APPROVED if approve else REJECTED,
            ApprovalDescription=reason[:1000],
            CustomerMetadataProperties=dict(before.metadata),
        )
        return self.describe(arn)

    def approved(self) -> Package | None:
        """The newest approved package: the model that serves."""
        try:
            listed = self.sagemaker.list_model_packages(
                ModelPackageGroupName=self.group,
                ModelApprovalStatus=APPROVED,
                SortBy="CreationTime",
                SortOrder="Descending",
                MaxResults=1,
            )["ModelPackageSummaryList"]
        except ClientError:
            return None
        return self.describe(listed[0]["ModelPackageArn"]) if listed else None

    def fetch(self, package: Package, into: Path) -> Path:
        """The package's archive, checked against its digest."""
        bucket, key = package.model_data_url[len("s3://") :].split("/", 1)
        into.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(bucket, key, str(into))
        if sha256_of(into) != package.metadata.get("sha256"):
            raise RegistryError(f"{package.model_data_url} does not match its registered digest")
        return into
