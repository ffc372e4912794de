"""Every AWS call each function makes, recorded while the pipeline runs under IAM, needs only
actions its own role allows (as the stack created the role), with AWS's action mapping."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]


def test_every_recorded_call_is_allowed_by_the_functions_own_role(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from churn_local.iam import Context, check_calls, read_records
    from churn_local.profiles import load_profiles
    from churn_local.scenario import Pipeline, RetentionTeam, call_items, queue_depth, turns_of, upload
    from churn_local.stack import LocalStack
    from churn_model.data import generate_rows
    from churn_model.serving.server import LocalEndpointServer

    calls = tmp_path / "calls.jsonl"
    rows = generate_rows(4, seed=11)
    with (
        LocalEndpointServer(tiny_model_dir, host="127.0.0.1", port=0) as model_server,
        LocalStack(
            ROOT / "template.yaml",
            # Every score alerts, so the publish path (SNS to a KMS-encrypted topic) runs too.
            parameters={"MediumRiskThreshold": "0.0001", "HighRiskThreshold": "0.0002"},
            sagemaker_runtime_url=model_server.url,
            retry_delays_s=(0.2, 0.2),
            log_sink=lambda function, line: None,
            call_log=calls,
        ) as stack,
    ):
        pipeline = Pipeline.from_stack(stack)
        profiles = stack.table(pipeline.profiles_table)
        assert load_profiles(((i + 1, r) for i, r in enumerate(rows)), profiles).written == len(rows)
        team = RetentionTeam(stack, pipeline.alert_topic_arn)
        s3 = stack.client("s3")
        row = rows[0]
        uploaded = upload(
            s3,
            pipeline,
            label="call",
            customer_id=row["customer_id"],
            call_id="iam-1",
            kind="sidecar",
            turns=turns_of(row),
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            status = (
                call_items(stack.client("dynamodb"), pipeline.calls_table).get(uploaded.key, {}).get("status")
            )
            failed = sum(queue_depth(stack, url) for url in pipeline.failure_queue_urls)
            if status in {"ALERTED", "SCORED", "FAILED"} or failed:
                break
            time.sleep(0.3)
        time.sleep(1.0)  # the last calls' records
        alerts = team.poll(wait_s=1)
        spec = stack.spec
    assert spec is not None
    records = read_records(str(calls))
    problems = check_calls(
        records,
        {f.logical_id: f.policies for f in spec.functions.values()},
        Context(spec.region, spec.account, spec.kms_keys),
    )
    assert problems == [], "calls the functions' own roles do not allow:\n" + "\n".join(problems)

    made = {(r["function"], r["operation"]) for r in records}
    # The versioned bucket's events carry a version id, and the start function heads that version.
    assert any(r["operation"] == "HeadObject" and r["params"].get("VersionId") for r in records)
    assert {
        ("StartTranscriptionFunction", "HeadObject"),
        ("StartTranscriptionFunction", "StartTranscriptionJob"),
        ("ScoreCallFunction", "GetTranscriptionJob"),
        ("ScoreCallFunction", "InvokeEndpoint"),
        ("ScoreCallFunction", "Publish"),
        # Issue 21: the outcome links' MAC and the alert's event on the stack's bus.
        ("ScoreCallFunction", "GenerateMac"),
        ("ScoreCallFunction", "PutEvents"),
    } <= made
    assert alerts, "the call was scored and alerted under IAM"
