"""The ops commands in a shell not set up for AWS, and their help naming real stack outputs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError
from churn_ops import redrive
from churn_ops.stack import aws_error_line

from tests.unit.test_template_iam import load_template

ROOT = Path(__file__).resolve().parents[3]


def run_without_credentials(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",  # no instance-metadata probe: fail at once
        AWS_DEFAULT_REGION="us-east-1",
    )
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "command",
    [
        ("churn_ops.teardown", "--stack", "churn-alerts", "--dry-run"),
        (
            "churn_ops.redrive",
            "--stack",
            "churn-alerts",
            "--output",
            "ScoreCallFailuresQueueUrl",
            "--dry-run",
        ),
        ("churn_local.profiles", "{profiles}", "--real", "--table", "churn-alerts-profiles"),
    ],
    ids=["teardown", "redrive", "profiles"],
)
def test_no_credentials_is_one_line_not_a_traceback(tmp_path, command):
    profiles = tmp_path / "profiles.csv"
    profiles.write_text("customer_id,plan\nC-1,A\n")
    result = run_without_credentials(tmp_path, *(part.format(profiles=profiles) for part in command))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no AWS credentials found" in lines[0], result.stderr


def test_error_lines_name_the_fix():
    assert "aws configure" in aws_error_line(NoCredentialsError())
    assert "--region" in aws_error_line(NoRegionError())
    expired = ClientError({"Error": {"Code": "ExpiredToken", "Message": "x"}}, "DescribeStacks")
    assert "refresh them" in aws_error_line(expired)


def test_redrive_help_names_only_outputs_the_template_has():
    outputs = set(load_template()["Outputs"])
    texts = [redrive.__doc__ or "", redrive.parser().format_help()]
    named = {name for text in texts for name in re.findall(r"\b([A-Z][A-Za-z]+(?:QueueUrl|DLQUrl))\b", text)}
    assert named, "the help should name the queue outputs"
    assert named <= outputs, f"not outputs of template.yaml: {sorted(named - outputs)}"
