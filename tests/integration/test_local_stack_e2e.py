"""The embedded default end to end: the local stack from template.yaml, the real functions, the
local model server on the tiny model and the local Transcribe (sidecar fast path and real ASR).

Recordings go into the local bucket; the test reads only what a user would see: call items,
the alerts a subscriber of the alert topic receives, and the on-failure queues.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]
# The audio call is the first turns of a real conversation: enough words for a WER, short enough
# that pocketsphinx finishes in seconds.
ASR_TURNS = 4
ASR_WER_BOUND = 0.5


@pytest.fixture(scope="module")
def rows():
    from churn_model.data import generate_rows

    return generate_rows(200, seed=99)


def test_recordings_flow_to_call_items_and_alerts(tiny_model_dir: Path, rows, tmp_path: Path) -> None:
    pytest.importorskip("pocketsphinx")
    from churn_contracts.conversation import Role
    from churn_contracts.transcribe import parse_transcript
    from churn_local.demo import score_rows
    from churn_local.profiles import load_profiles
    from churn_local.scenario import (
        Observer,
        Pipeline,
        RetentionTeam,
        call_items,
        queue_depth,
        turns_of,
        upload,
        wait_for_calls,
    )
    from churn_local.stack import LocalStack
    from churn_local.transcribe.recordings import espeak_available, synthesize_call
    from churn_local.transcribe.wer import word_error_rate
    from churn_model.serving.server import LocalEndpointServer

    if not espeak_available():
        pytest.fail("espeak-ng is required (apt-get install -y espeak-ng; `make setup` installs it)")
    started = time.monotonic()
    with LocalEndpointServer(tiny_model_dir, host="127.0.0.1", port=0) as model_server:
        # The tiny model separates happy and angry customers only roughly: pick the clearest
        # pair and put the high-risk threshold between them (the template's 0.6 is for the real model).
        stack_stub = _RuntimeOnly(model_server.url)
        probabilities = score_rows(stack_stub, "churn-risk", rows)
        happy_row, happy_p = min(
            ((r, p) for r, p in zip(rows, probabilities, strict=True) if r["y"] == 0), key=lambda x: x[1]
        )
        angry_row, angry_p = max(
            ((r, p) for r, p in zip(rows, probabilities, strict=True) if r["y"] == 1), key=lambda x: x[1]
        )
        assert angry_p > happy_p, (
            "the tiny model cannot tell its clearest angry call from its clearest happy one"
        )
        threshold = round((happy_p + angry_p) / 2, 4)
        parameters = {
            "HighRiskThreshold": threshold,
            "MediumRiskThreshold": round(happy_p / 2 + threshold / 2, 4),
        }

        observer = Observer()
        with LocalStack(
            ROOT / "template.yaml",
            parameters=parameters,
            sagemaker_runtime_url=model_server.url,
            on_outcome=observer,
            retry_delays_s=(0.2, 0.5),
            log_sink=lambda function, line: None,
        ) as stack:
            pipeline = Pipeline.from_stack(stack)
            profiles = _dynamodb_table(stack, pipeline.profiles_table)
            report = load_profiles(((i + 1, r) for i, r in enumerate(rows)), profiles)
            assert report.written == len(rows) and not report.rejected
            team = RetentionTeam(stack, pipeline.alert_topic_arn)
            s3 = stack.client("s3")

            asr_row = next(
                r
                for r in rows
                if r["customer_id"] not in {happy_row["customer_id"], angry_row["customer_id"]}
            )
            asr_turns = turns_of(asr_row)[:ASR_TURNS]
            wav = tmp_path / "asr-call.wav"
            synthesize_call(asr_turns, wav)
            asr = upload(
                s3,
                pipeline,
                label="asr",
                customer_id=asr_row["customer_id"],
                call_id="asr-call",
                kind="asr",
                turns=asr_turns,
                audio=wav,
            )
            happy = upload(
                s3,
                pipeline,
                label="happy",
                customer_id=happy_row["customer_id"],
                call_id=happy_row["call_id"],
                kind="sidecar",
                turns=turns_of(happy_row),
            )
            angry = upload(
                s3,
                pipeline,
                label="angry",
                customer_id=angry_row["customer_id"],
                call_id=angry_row["call_id"],
                kind="sidecar",
                turns=turns_of(angry_row),
            )
            s3.put_object(
                Bucket=pipeline.bucket,
                Key=happy.key,
                Body=s3.get_object(Bucket=pipeline.bucket, Key=happy.key)["Body"].read(),
            )
            unsupported = upload(
                s3,
                pipeline,
                label="unsupported",
                customer_id=happy_row["customer_id"],
                call_id="notes",
                kind="unsupported",
                audio=b"not a recording",
                extension="txt",
            )

            def rejected(key: str) -> bool:
                return any(
                    o.ok and o.invocations[-1].result.get("rejected")
                    for _, o in observer.of("StartTranscriptionFunction")
                    if o.event["detail"]["object"]["key"] == key
                )

            items = wait_for_calls(
                stack,
                pipeline,
                [asr.key, happy.key, angry.key, unsupported.key],
                rejected=rejected,
                timeout_s=90,
            )
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(team.received) < 1:
                team.poll(wait_s=1)
            time.sleep(1)  # a second, unexpected alert would arrive now
            team.poll(wait_s=1)
            alerts = [a["Message"] for _, a in team.received]
            transcribe = stack.client("transcribe")
            jobs = transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
            document = _transcript(stack, transcribe, items[asr.key]["job_name"])
            failure_depths = [queue_depth(stack, url) for url in pipeline.failure_queue_urls]
            all_items = call_items(stack.client("dynamodb"), pipeline.calls_table)
            happy_items = [
                i
                for i in stack.table(pipeline.calls_table).scan()["Items"]
                if i.get("customer_id") == happy_row["customer_id"]
            ]

    # the fast path: statuses and exactly the expected alerts
    assert items[happy.key]["status"] == "SCORED" and items[happy.key]["risk_level"] != "high"
    assert items[angry.key]["status"] == "ALERTED" and items[angry.key]["risk_level"] == "high"
    asr_item = items[asr.key]
    assert asr_item["status"] in {"SCORED", "ALERTED"}
    expected = {angry_row["call_id"]} | ({"asr-call"} if asr_item["status"] == "ALERTED" else set())
    assert sorted(a["call_id"] for a in alerts) == sorted(expected)
    angry_alert = next(a for a in alerts if a["call_id"] == angry_row["call_id"])
    assert angry_alert["customer_id"] == angry_row["customer_id"]
    assert float(angry_alert["probability"]) == pytest.approx(angry_p, abs=1e-4)
    # the rejection: no call item, no job
    assert rejected(unsupported.key) and unsupported.key not in all_items
    # the re-upload of the same key: a new object version, so the start function ran twice and
    # started a second job with its own call item (functions/README.md, re-uploads)
    happy_starts = [
        o
        for _, o in observer.of("StartTranscriptionFunction")
        if o.event["detail"]["object"]["key"] == happy.key
    ]
    assert len(happy_starts) == 2
    assert len(jobs) == 4, [j["TranscriptionJobName"] for j in jobs]
    assert len(happy_items) == 2 and {i["recording_key"] for i in happy_items} == {happy.key}
    # the audio call went through the recogniser, with a bounded word error rate
    reference = " ".join(t.text for t in asr_turns if t.role is Role.CUSTOMER)
    wer = word_error_rate(reference, parse_transcript(document).customer_text)
    print(f"ASR call WER {wer:.2f}; end-to-end test {time.monotonic() - started:.1f}s")
    assert wer <= ASR_WER_BOUND
    # nothing failed on the way
    assert failure_depths == [0, 0]
    assert all(o.ok and len(o.invocations) == 1 for _, o in observer.outcomes)


class _RuntimeOnly:
    """Just enough of LocalStack for score_rows: a SageMaker Runtime client on the model server."""

    def __init__(self, url: str) -> None:
        self.url = url

    def client(self, service: str):
        from churn_local.aws import client

        assert service == "sagemaker-runtime"
        return client(service, self.url, "us-east-1")


def _dynamodb_table(stack, name: str):
    return stack.table(name)


def _transcript(stack, transcribe, job_name: str) -> dict:
    from churn_local.demo import _s3_location

    job = transcribe.get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
    transcript = job["Transcript"]  # redaction on by default: only the redacted one exists
    bucket, key = _s3_location(transcript.get("TranscriptFileUri") or transcript["RedactedTranscriptFileUri"])
    return json.loads(stack.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
