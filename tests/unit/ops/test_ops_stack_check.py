"""`python -m churn_ops.stack check`: samconfig.toml's parameters against the template's rules."""

from __future__ import annotations

import hashlib
from pathlib import Path

import boto3
import pytest
from churn_ops import publish_model
from churn_ops.stack import main, parse_overrides, samconfig_overrides
from moto import mock_aws

from .conftest import REGION

ROOT = Path(__file__).resolve().parents[3]
IMMUTABLE = "s3://models-a/models/sha256-" + "0f" * 32 + "/model.tar.gz"


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_parse_overrides_reads_sams_quoting():
    assert parse_overrides('A="x y" B=2 C=""') == {"A": "x y", "B": "2", "C": ""}
    assert parse_overrides(["A=1", 'B="2 3"']) == {"A": "1", "B": "2 3"}
    with pytest.raises(ValueError, match="Name=Value"):
        parse_overrides("oops")


def test_default_environment_passes(capsys):
    assert main(["check"]) == 0
    assert "parameters OK (default)" in capsys.readouterr().out


def test_prod_fails_on_the_placeholder_until_the_model_url_is_set(capsys):
    assert samconfig_overrides(ROOT / "samconfig.toml", "prod")["ModelDataUrl"].startswith("s3://replace-me")
    assert main(["check", "--config-env", "prod"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("error: invalid stack parameters") and "placeholder" in err and "Traceback" not in err
    )
    assert main(["check", "--config-env", "prod", "--parameter-overrides", f"ModelDataUrl={IMMUTABLE}"]) == 0


def test_misordered_thresholds_fail_before_any_deploy(capsys):
    code = main(["check", "--parameter-overrides", "MediumRiskThreshold=0.6", "HighRiskThreshold=0.4"])
    assert code == 1
    assert "MediumRiskThreshold (0.6) must be at most HighRiskThreshold (0.4)" in capsys.readouterr().err


# --- the immutable model URL rule (issue 21): a ModelDataUrl names bytes that cannot change ---


@pytest.mark.parametrize(
    "url",
    [
        "s3://my-churn-artifacts/churn-training/output/job-1/output/model.tar.gz",  # a training job's output
        "s3://models-a/models/sha256-" + "0f" * 31 + "/model.tar.gz",  # a digest too short
        "s3://models-a/models/sha256-" + "0F" * 32 + "/model.tar.gz",  # not as the publisher writes it
        "s3://models-a/models/sha256-" + "0f" * 32 + "/other.tar.gz",
    ],
)
def test_a_model_url_that_is_not_content_addressed_is_refused_with_how_to_publish_it(capsys, url):
    assert main(["check", "--parameter-overrides", f"ModelDataUrl={url}", "EndpointMode=serverless"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: ModelDataUrl {url!r} is not content-addressed") and "Traceback" not in err
    assert "python -m churn_ops.publish_model model.tar.gz --stack-name <stack>" in err


def test_an_empty_model_url_scores_on_the_named_endpoint_and_passes(capsys):
    assert main(["check", "--parameter-overrides", "ModelDataUrl=", "EndpointName=churn-risk"]) == 0
    assert "ModelDataUrl=''" in capsys.readouterr().out


def test_the_placeholder_is_refused_by_the_template_rule_and_by_the_url_rule_in_one_message(capsys):
    assert main(["check", "--config-env", "prod"]) == 1
    err = capsys.readouterr().err
    assert "ModelDataUrlIsNotThePlaceholder" in err and "is not content-addressed" in err


def test_publish_then_deploy_check_verifies_the_digest_and_a_rewritten_object_is_caught(tmp_path, capsys):
    """publish -> check --verify passes -> publish again (same URL, nothing written) -> the object is
    replaced behind the registry's back (a bucket without ModelsAreWrittenOnce) -> --verify refuses."""
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"\x1f\x8b model one")
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="models-a")
        # Versioned, so a second write of the key would show as a second version.
        s3.put_bucket_versioning(Bucket="models-a", VersioningConfiguration={"Status": "Enabled"})
        assert publish_model.main([str(archive), "--bucket", "models-a"]) == 0
        url = capsys.readouterr().out.strip().removeprefix("ModelDataUrl=")
        assert (
            url
            == f"s3://models-a/models/sha256-{hashlib.sha256(archive.read_bytes()).hexdigest()}/model.tar.gz"
        )

        overrides = ["--parameter-overrides", f"ModelDataUrl={url}", "EndpointMode=serverless"]
        assert main(["check", *overrides, "--verify"]) == 0
        assert "model digest verified" in capsys.readouterr().out

        assert publish_model.main([str(archive), "--bucket", "models-a"]) == 0  # again: a no-op
        assert capsys.readouterr().out.strip() == f"ModelDataUrl={url}"
        assert len(s3.list_object_versions(Bucket="models-a")["Versions"]) == 1

        key = url.removeprefix("s3://models-a/")
        s3.put_object(Bucket="models-a", Key=key, Body=b"other bytes")
        assert main(["check", *overrides, "--verify"]) == 1
        err = capsys.readouterr().err
        assert "its bytes hash to sha256" in err and "not the key's" in err
        assert publish_model.main([str(archive), "--bucket", "models-a"]) == 2  # and publish says so
        assert "holds other bytes than its name says" in capsys.readouterr().err

        missing = "s3://models-a/models/sha256-" + "1" * 64 + "/model.tar.gz"
        assert main(["check", "--parameter-overrides", f"ModelDataUrl={missing}", "--verify"]) == 1
        assert "cannot read it (AWS error NoSuchKey" in capsys.readouterr().err


def test_publish_refuses_bad_input_with_one_line(tmp_path, capsys):
    assert publish_model.main([str(tmp_path / "absent.tar.gz"), "--bucket", "models-a"]) == 2
    assert "no such file, or empty" in capsys.readouterr().err
    (tmp_path / "model.zip").write_bytes(b"zip")
    assert publish_model.main([str(tmp_path / "model.zip"), "--bucket", "models-a"]) == 2
    assert "expected a model.tar.gz" in capsys.readouterr().err
    assert publish_model.main([str(tmp_path / "model.zip")]) == 2
    assert "pass --bucket or --stack-name" in capsys.readouterr().err
