"""Issue 10 on the start function, as sequences on moto through the real handler: re-uploads
(defect 4), poison events (defect 6), long names (defect 8), opaque job names and quiet library
loggers (section 4), deferred execution (section 3)."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

import pytest
from score_call.adapters.calls import CallsRepository as ScoreCalls
from start_transcription import handler
from start_transcription.config import load_settings
from start_transcription.models import JobRequest

from tests.unit.functions.conftest import BUCKET, CALLS, PREFIX, emitted_metrics
from tests.unit.functions.test_start_transcription import eventbridge, jobs, notification, put

NOW = datetime(2026, 11, 28, 14, 5, 31, tzinfo=UTC)


@pytest.fixture
def env(aws, monkeypatch):
    values = {
        "CALLS_TABLE": CALLS,
        "RECORDINGS_BUCKET": BUCKET,
        "JOB_NAME_PREFIX": PREFIX,
        "POWERTOOLS_SERVICE_NAME": "start-transcription",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    handler.reset()
    yield aws
    handler.reset()


def versioned_upload(aws, key: str, body: bytes) -> dict:
    """Upload to the versioned bucket and return the EventBridge event S3 sends for that version."""
    version = aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    event = eventbridge(key, size=len(body))
    event["detail"]["object"]["version-id"] = version
    return event


def test_a_re_upload_is_a_new_version_and_so_a_new_job(env, context):
    """Defect 4: after TRANSCRIPTION_FAILED, a corrected file under the same key is transcribed;
    a repeated event for one version stays one job."""
    env.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = "recordings/C-1/call-1.wav"
    first = versioned_upload(env, key, b"RIFF....WAVEfmt broken")
    (job_1,) = handler.lambda_handler(first, context)["started"]
    ScoreCalls(env.dynamodb.Table(CALLS)).mark_transcription_failed(job_1, "Unsupported media", NOW)

    second = versioned_upload(env, key, b"RIFF....WAVEfmt fixed!")
    (job_2,) = handler.lambda_handler(second, context)["started"]
    assert job_2 != job_1
    assert handler.lambda_handler(second, context)["duplicates"] == [job_2]  # same version: one job
    assert handler.lambda_handler(first, context)["duplicates"] == [job_1]  # the old one stays failed
    assert env.call(job_1)["status"] == "TRANSCRIPTION_FAILED"
    assert env.call(job_2)["status"] == "TRANSCRIBING" and env.call(job_2)["recording_version"]
    assert len(jobs(env)) == 2


def test_without_versioning_new_content_is_still_a_new_job(env, context):
    key = "recordings/C-1/call-2.wav"
    put(env, key, b"RIFF....WAVEfmt one")
    (job_1,) = handler.lambda_handler(eventbridge(key), context)["started"]
    put(env, key, b"RIFF....WAVEfmt two")
    (job_2,) = handler.lambda_handler(eventbridge(key), context)["started"]
    assert job_1 != job_2


def test_job_names_are_opaque_and_keys_stay_out_of_logs_even_at_debug(env, context, capsys, caplog):
    """Section 4: a key holding a name and a phone number."""
    key = "recordings/C-88/John Smith +44 7700 900456.wav"
    put(env, key)
    levels = {n: logging.getLogger(n).level for n in [*logging.root.manager.loggerDict, ""]}
    handler.logger.setLevel(logging.DEBUG)
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        with caplog.at_level(logging.DEBUG):
            (name,) = handler.lambda_handler(eventbridge(key), context)["started"]
    finally:
        for logger_name, level in levels.items():
            logging.getLogger(logger_name).setLevel(level)
        handler.logger.setLevel(logging.INFO)
    assert "John" not in name and "7700" not in name and name.startswith(PREFIX)
    # The call item maps the opaque job to the customer and the call.
    item = env.call(name)
    assert item["customer_id"] == "C-88" and item["call_id"] == "John Smith +44 7700 900456"
    logged = capsys.readouterr().out + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "John" not in logged and "900456" not in logged
    for library in ("botocore", "urllib3"):
        assert logging.getLogger(library).getEffectiveLevel() == logging.WARNING


@pytest.mark.parametrize(
    "mutate",
    [
        lambda e: e["Records"][0].__setitem__("responseElements", "not an object"),
        lambda e: e["Records"][0].__setitem__("responseElements", ["x"]),
    ],
)
def test_response_elements_of_any_shape_do_not_crash(env, context, mutate):
    """Defect 6: AttributeError when responseElements was not an object."""
    put(env, "recordings/C-1/call-3.wav")
    event = notification("recordings/C-1/call-3.wav")
    mutate(event)
    assert handler.lambda_handler(event, context)["started"]


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("recordings/C-1/\ud800call.wav", "invalid-key"),  # a lone surrogate (UnicodeEncodeError before)
        ("recordings/C-1/" + "c" * 129 + ".wav", "id-too-long"),  # was the misleading 'no-call-id'
    ],
)
def test_bad_keys_are_rejected_once_with_a_named_reason(env, context, capsys, key, reason):
    result = handler.lambda_handler(eventbridge(key), context)
    assert [r["reason"] for r in result["rejected"]] == [reason]
    assert emitted_metrics(capsys.readouterr().out)["RecordingsRejected"] == [1.0]


@pytest.mark.parametrize(
    "event",
    [
        {"Records": "nope"},
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": []}]},
        {"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": [], "object": {}}},
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": 5}, "object": {}},
        },
        [],
    ],
)
def test_poison_events_are_rejected_once_and_counted(env, context, capsys, event):
    result = handler.lambda_handler(copy.deepcopy(event), context)
    assert result["invalid"] and not result["started"]
    assert emitted_metrics(capsys.readouterr().out)["EventsRejected"] == [1.0]


def test_deferred_execution_queues_jobs_past_the_quota():
    """Section 3: with the parameter on, every job may wait in Transcribe's queue."""
    settings = load_settings(
        {
            "CALLS_TABLE": CALLS,
            "RECORDINGS_BUCKET": BUCKET,
            "JOB_NAME_PREFIX": PREFIX,
            "DEFERRED_EXECUTION": "true",
            "TRANSCRIBE_DATA_ACCESS_ROLE_ARN": "arn:aws:iam::123456789012:role/data-access",
        }
    )
    request = JobRequest("j", "s3://b/k.wav", "wav", "en-US", "b", "t/j.json", "channels", False, [], None)
    assert "JobExecutionSettings" not in request.to_api()
    deferred = JobRequest(
        "j",
        "s3://b/k.wav",
        "wav",
        "en-US",
        "b",
        "t/j.json",
        "channels",
        False,
        [],
        settings.data_access_role_arn,
    )
    assert deferred.to_api()["JobExecutionSettings"] == {
        "AllowDeferredExecution": True,
        "DataAccessRoleArn": "arn:aws:iam::123456789012:role/data-access",
    }
    with pytest.raises(Exception, match="DATA_ACCESS_ROLE"):
        load_settings(
            {
                "CALLS_TABLE": "c",
                "RECORDINGS_BUCKET": "b",
                "JOB_NAME_PREFIX": "p-",
                "DEFERRED_EXECUTION": "true",
            }
        )


def test_deferred_job_request_is_accepted_by_transcribe_on_moto(env, context, monkeypatch):
    monkeypatch.setenv("DEFERRED_EXECUTION", "true")
    monkeypatch.setenv("TRANSCRIBE_DATA_ACCESS_ROLE_ARN", "arn:aws:iam::123456789012:role/data-access")
    handler.reset()
    put(env, "recordings/C-1/call-4.wav")
    assert handler.lambda_handler(eventbridge("recordings/C-1/call-4.wav"), context)["started"]
