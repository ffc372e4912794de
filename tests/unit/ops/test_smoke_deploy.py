"""The smoke deploy's plan and argument handling (issue 24 section 4). It talks to a real account
only when run by hand (make deploy-smoke); here nothing reaches AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from churn_ops import smoke_deploy
from churn_ops.template_rules import check_parameters, load_template

ROOT = Path(__file__).resolve().parents[3]
MODEL = "s3://my-churn-artifacts/models/sha256-" + "ab" * 32 + "/model.tar.gz"


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    path.write_bytes(b"RIFF" + bytes(40))
    return path


def args(recording: Path, *extra: str) -> list[str]:
    return ["--stack", "churn-smoke", "--model-data-url", MODEL, "--recording", str(recording), *extra]


def test_the_plan_deploys_serverless_with_every_call_alerted_and_passes_the_templates_rules(recording):
    plan = smoke_deploy.plan(smoke_deploy.parser().parse_args(args(recording, "--region", "eu-west-1")))
    command = plan.deploy_command()
    assert command[1:3] == ["deploy", "--stack-name"] and "churn-smoke" in command
    assert {"--no-confirm-changeset", "--resolve-s3", "CAPABILITY_IAM"} <= set(command)
    assert command[-2:] == ["--region", "eu-west-1"]
    overrides = dict(item.split("=", 1) for item in command[command.index("--parameter-overrides") + 1 : -2])
    assert overrides["EndpointMode"] == "serverless" and overrides["ModelDataUrl"] == MODEL
    assert overrides["HighRiskThreshold"] == overrides["MediumRiskThreshold"] == "0"
    # What sam deploy would send is accepted by the template's own rules and constraints.
    check_parameters(load_template(ROOT / "template.yaml"), {**overrides, "ApiGatewayLogsRole": "true"})
    assert plan.key.startswith(f"recordings/{plan.customer_id}/smoke-") and plan.key.endswith(".wav")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--stack", "1bad_name"], "letters, digits and hyphens"),
        (["--model-data-url", "s3://bucket/model.zip"], "expected s3://<bucket>/<key>.tar.gz"),
        # A training job's output as it is: mutable; the deploy check's rule and its remedy.
        (["--model-data-url", "s3://bucket/out/model.tar.gz"], "churn_ops.publish_model model.tar.gz"),
        (["--parameter", "EndpointMode=gpu"], "the smoke test sets it itself"),
        (["--parameter", "nonsense"], "NAME=VALUE"),
    ],
)
def test_bad_arguments_are_refused_before_anything_runs(recording, capsys, change, message):
    assert smoke_deploy.main([*args(recording), *change]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_or_unsupported_recording_is_refused(tmp_path, capsys):
    assert smoke_deploy.main(args(tmp_path / "absent.wav")) == 2
    assert "no such file" in capsys.readouterr().err
    text = tmp_path / "call.txt"
    text.write_text("not audio")
    assert smoke_deploy.main(args(text)) == 2
    assert "extension must be one of" in capsys.readouterr().err


def test_dry_run_prints_the_plan_and_touches_nothing(recording, capsys, monkeypatch):
    monkeypatch.setattr(smoke_deploy, "run", lambda *a: pytest.fail("dry run must not run"))
    assert smoke_deploy.main([*args(recording), "--dry-run", "--parameter", "LogLevel=DEBUG"]) == 0
    out = capsys.readouterr().out
    assert "EndpointMode=serverless" in out and "LogLevel=DEBUG" in out and "teardown" in out


def test_each_hop_is_timed_from_the_end_of_the_one_before():
    t0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    times = smoke_deploy.Times(
        uploaded=t0,
        opened=t0 + timedelta(seconds=2),
        scored=t0 + timedelta(seconds=95),
        alerted=t0 + timedelta(seconds=96.5),
        received=t0 + timedelta(seconds=98),
    )
    lines = smoke_deploy.hop_lines(times)
    assert [line.split()[-2] for line in lines] == ["2.0", "93.0", "1.5", "1.5", "98.0"]
    partial = smoke_deploy.hop_lines(smoke_deploy.Times(uploaded=t0, opened=t0 + timedelta(seconds=3)))
    assert partial[0].endswith("3.0 s") and all(line.endswith("not reached") for line in partial[1:])
