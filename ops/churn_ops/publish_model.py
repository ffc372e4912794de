"""Publish a model archive content-addressed, the only form the deploy check takes as ``ModelDataUrl``.

    python -m churn_ops.publish_model model.tar.gz --stack-name churn-alerts   # the stack's bucket
    python -m churn_ops.publish_model model.tar.gz --bucket my-churn-artifacts

Uploads to ``s3://<bucket>/models/sha256-<digest>/model.tar.gz`` with the registry's own upload
(``ModelRegistry.upload``: written once with ``If-None-Match``, an existing key with other bytes
refused), and prints the ``ModelDataUrl=...`` override. Publishing the same archive again uploads
nothing and prints the same URL. ``promote`` publishes the same way when it registers a candidate;
this is for an archive deployed without the comparison (the first model, a training job's output).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .registry import ModelRegistry, RegistryError


class PublishError(RuntimeError):
    """Nothing to publish, or nowhere to publish it."""


def publish(s3: Any, bucket: str, archive: Path) -> str:
    """The archive's content-addressed URL, after uploading it when that key is absent."""
    if not archive.is_file() or archive.stat().st_size == 0:
        raise PublishError(f"{archive}: no such file, or empty")
    if not archive.name.endswith(".tar.gz"):
        raise PublishError(f"{archive}: expected a model.tar.gz (a training job's output, or make package)")
    # upload() uses only the S3 client; the registry's SageMaker side is promote's business.
    url, _ = ModelRegistry(None, s3, bucket, group="", image="").upload(archive)
    return url


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_ops.publish_model",
        description="Upload a model.tar.gz under models/sha256-<digest>/ (written once); print its ModelDataUrl.",
    )
    p.add_argument("archive", type=Path, help="model.tar.gz (download a training job's output first)")
    p.add_argument("--bucket", help="the models' bucket (default: the stack's RecordingsBucketName)")
    p.add_argument("--stack-name")
    p.add_argument("--region")
    p.add_argument("--endpoint-url")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    import boto3

    from .stack import AWS_SETUP_ERRORS, StackError, aws_error_line, models_bucket

    args = parser().parse_args(argv)
    try:
        session = boto3.session.Session(region_name=args.region)
        bucket = models_bucket(session, args.bucket, args.stack_name, args.endpoint_url)
        if not bucket:
            raise PublishError("cannot tell the models' bucket: pass --bucket or --stack-name")
        url = publish(session.client("s3", endpoint_url=args.endpoint_url), bucket, args.archive)
    except (PublishError, RegistryError, StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except AWS_SETUP_ERRORS as exc:
        print(f"error: {aws_error_line(exc)}", file=sys.stderr)
        return 2
    print(f"ModelDataUrl={url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
