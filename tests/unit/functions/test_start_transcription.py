"""StartTranscriptionFunction: events -> call item + Transcribe job, on moto."""

from __future__ import annotations

import copy
import json
import logging
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from churn_lambda.retry import Backoff
from start_transcription import handler
from start_transcription.adapters.calls import CallsRepository
from start_transcription.adapters.s3 import RecordingStore
from start_transcription.adapters.transcribe import TranscriptionService
from start_transcription.config import ConfigError, load_settings
from start_transcription.events import InvalidEventError, parse_created_objects
from start_transcription.models import Rejection, Result
from start_transcription.recording import (
    JOB_NAME_PATTERN,
    MAX_JOB_NAME,
    MEDIA_FORMATS,
    job_name,
    job_tags,
    parse_key,
)
from start_transcription.service import Collaborators, start_transcription

from tests.conftest import EVENTS, load_format
from tests.unit.functions.conftest import BUCKET, CALLS, PREFIX, REGION, emitted_metrics

NOW = datetime(2026, 11, 28, 14, 5, 31, tzinfo=UTC)


@pytest.fixture
def env(aws, monkeypatch):
    values = {
        "CALLS_TABLE": CALLS,
        "RECORDINGS_BUCKET": BUCKET,
        "JOB_NAME_PREFIX": PREFIX,
        "RECORDINGS_PREFIX": "recordings/",
        "TRANSCRIPTS_PREFIX": "transcripts/",
        "LANGUAGE_CODE": "en-US",
        "TRANSCRIPTION_MODE": "channels",
        "PII_REDACTION": "false",
        "CALL_RETENTION_DAYS": "365",
        "POWERTOOLS_SERVICE_NAME": "start-transcription",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    handler.reset()
    yield aws
    handler.reset()


def put(aws, key: str, body: bytes = b"RIFF....WAVEfmt ", metadata: dict | None = None) -> None:
    aws.s3.put_object(Bucket=BUCKET, Key=key, Body=body, Metadata=metadata or {})


def eventbridge(key: str, *, size: int = 16, reason: str = "PutObject", bucket: str = BUCKET) -> dict:
    event = copy.deepcopy(load_format("eventbridge-s3-object-created.json"))
    event["detail"]["bucket"]["name"] = bucket
    event["detail"]["object"]["key"] = key
    event["detail"]["object"]["size"] = size
    event["detail"]["reason"] = reason
    return event


def notification(encoded_key: str, *, size: int = 16, event_name: str = "ObjectCreated:Put") -> dict:
    event = copy.deepcopy(load_format("s3-put-notification.json"))
    record = event["Records"][0]
    record["eventName"] = event_name
    record["s3"]["bucket"]["name"] = BUCKET
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{BUCKET}"
    record["s3"]["object"]["key"] = encoded_key
    record["s3"]["object"]["size"] = size
    return event


def jobs(aws) -> list[dict]:
    summaries = aws.transcribe.list_transcription_jobs()["TranscriptionJobSummaries"]
    return [
        aws.transcribe.get_transcription_job(TranscriptionJobName=s["TranscriptionJobName"])[
            "TranscriptionJob"
        ]
        for s in summaries
    ]


# --- keys, names and formats ---------------------------------------------------------------


def test_key_yields_customer_call_and_format():
    parts = parse_key("recordings/C-10042/call-77.WAV", "recordings/")
    assert (parts.customer_id, parts.call_id, parts.extension) == ("C-10042", "call-77", "wav")


def test_deeper_folders_keep_the_first_as_customer():
    parts = parse_key("recordings/C-1/2026/11/call-9.mp3", "recordings/")
    assert (parts.customer_id, parts.call_id) == ("C-1", "call-9")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("transcripts/churn-test-x.json", Rejection.OUTSIDE_PREFIX),
        ("recordings/C-1/", Rejection.FOLDER_MARKER),
        ("recordings/C-1/notes.txt", Rejection.UNSUPPORTED_FORMAT),
        ("recordings/C-1/no-extension", Rejection.UNSUPPORTED_FORMAT),
        ("recordings/C-1/.wav", Rejection.NO_CALL_ID),
    ],
)
def test_bad_keys_are_rejected_with_a_reason(key, reason):
    with pytest.raises(Exception) as raised:
        parse_key(key, "recordings/")
    assert raised.value.reason is reason


def test_key_without_customer_folder_has_no_customer():
    assert parse_key("recordings/call-1.wav", "recordings/").customer_id is None


def test_job_name_is_deterministic_valid_bounded_and_opaque():
    key = "recordings/C-88/John Smith +44 7700 900456.wav"
    name = job_name(PREFIX, BUCKET, key, None)
    assert name == job_name(PREFIX, BUCKET, key, None)
    assert JOB_NAME_PATTERN.match(name) and len(name) <= MAX_JOB_NAME and name.startswith(PREFIX)
    rest = name.removeprefix(PREFIX)
    assert len(rest) == 32 and all(c in "0123456789abcdef" for c in rest)  # nothing from the key
    assert len(job_name("p" * 150 + "-", BUCKET, "k\ud800", None)) <= MAX_JOB_NAME


def test_job_name_differs_by_key_and_version():
    a = job_name(PREFIX, BUCKET, "recordings/c/a b.wav", None)
    b = job_name(PREFIX, BUCKET, "recordings/c/a+b.wav", None)
    v = job_name(PREFIX, BUCKET, "recordings/c/a b.wav", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")
    assert len({a, b, v}) == 3


def test_tags_keep_only_values_transcribe_accepts():
    assert job_tags("C-10042", "call 7") == [
        {"Key": "customer_id", "Value": "C-10042"},
        {"Key": "call_id", "Value": "call 7"},
    ]
    assert job_tags("C-1", "call#7&x") == [{"Key": "customer_id", "Value": "C-1"}]


# --- event shapes ------------------------------------------------------------------------------


def test_eventbridge_key_is_used_as_it_is():
    (obj,), _ = parse_created_objects(eventbridge("recordings/C-1/a+b%3A c.wav"))
    assert obj.key == "recordings/C-1/a+b%3A c.wav"


def test_notification_key_is_url_decoded():
    (obj,), _ = parse_created_objects(
        notification("recordings/C-1/call+2026-11-28T14%3A05%3A31Z+%C3%A9t%C3%A9.wav")
    )
    assert obj.key == "recordings/C-1/call 2026-11-28T14:05:31Z été.wav"


def test_unversioned_eventbridge_version_null_is_no_version():
    event = eventbridge("recordings/C-1/a.wav")
    event["detail"]["object"]["version-id"] = "null"
    (obj,), _ = parse_created_objects(event)
    assert obj.version_id is None


def test_non_creation_events_are_skipped_not_failed():
    event = eventbridge("recordings/C-1/a.wav")
    event["detail-type"] = "Object Deleted"
    assert parse_created_objects(event) == ([], 1)
    removed = notification("recordings/C-1/a.wav", event_name="ObjectRemoved:Delete")
    assert parse_created_objects(removed) == ([], 1)


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"Records": "x"},
        {"Records": [{"eventSource": "aws:sqs"}]},
        {"source": "aws.s3", "detail": {}},
        {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]},
    ],
)
def test_malformed_events_raise_a_clear_error(event):
    with pytest.raises(InvalidEventError):
        parse_created_objects(event)


def test_config_refuses_transcripts_inside_recordings():
    with pytest.raises(ConfigError):
        load_settings(
            {
                "CALLS_TABLE": "t",
                "RECORDINGS_BUCKET": "b",
                "JOB_NAME_PREFIX": "p-",
                "TRANSCRIPTS_PREFIX": "recordings/transcripts/",
            }
        )
    with pytest.raises(ConfigError):
        load_settings({"CALLS_TABLE": "t", "RECORDINGS_BUCKET": "b"})


# --- the handler on moto ---------------------------------------------------------------------


def test_eventbridge_upload_writes_the_call_item_and_starts_the_job(env, context, capsys):
    key = "recordings/C-10042/call+7 été.wav"
    put(env, key)
    result = handler.lambda_handler(eventbridge(key), context)

    (name,) = result["started"]
    item = env.call(name)
    assert item["status"] == "TRANSCRIBING"
    assert (item["customer_id"], item["call_id"]) == ("C-10042", "call+7 été")
    assert item["recording_uri"] == f"s3://{BUCKET}/{key}" and item["customer_id_source"] == "path"
    assert int(item["expires_at"]) > int(datetime.now(UTC).timestamp())
    (job,) = jobs(env)
    assert job["TranscriptionJobName"] == name
    assert job["Media"]["MediaFileUri"] == f"s3://{BUCKET}/{key}"
    assert job["MediaFormat"] == "wav" and job["LanguageCode"] == "en-US"
    assert job["Settings"]["ChannelIdentification"] is True
    for _ in range(5):  # moto moves the job QUEUED -> IN_PROGRESS -> COMPLETED on each read
        job = env.transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    assert job["Transcript"]["TranscriptFileUri"].endswith(f"/{BUCKET}/transcripts/{name}.json")
    assert emitted_metrics(capsys.readouterr().out)["TranscriptionsStarted"] == [1.0]


def test_notification_upload_with_encoded_key(env, context):
    key = "recordings/C-7/call 2026-11-28T14:05:31Z.mp3"
    put(env, key)
    result = handler.lambda_handler(notification("recordings/C-7/call+2026-11-28T14%3A05%3A31Z.mp3"), context)
    (job,) = jobs(env)
    assert job["TranscriptionJobName"] == result["started"][0]
    assert job["Media"]["MediaFileUri"] == f"s3://{BUCKET}/{key}" and job["MediaFormat"] == "mp3"


def test_multipart_upload_is_a_recording_too(env, context):
    key = "recordings/C-8/long-call.flac"
    put(env, key)
    assert handler.lambda_handler(eventbridge(key, reason="CompleteMultipartUpload"), context)["started"]
    assert handler.lambda_handler(
        notification(key, event_name="ObjectCreated:CompleteMultipartUpload"), context
    )["duplicates"]


def test_metadata_customer_id_overrides_the_path(env, context):
    key = "recordings/unknown/call-3.m4a"
    put(env, key, metadata={"customer-id": "C-555"})
    (name,) = handler.lambda_handler(eventbridge(key), context)["started"]
    item = env.call(name)
    assert item["customer_id"] == "C-555" and item["customer_id_source"] == "metadata"
    assert jobs(env)[0]["MediaFormat"] == "m4a"


def test_agent_id_metadata_is_kept_on_the_call_for_the_alert(env, context):
    put(env, "recordings/C-1/call-5.wav", metadata={"agent-id": " A-117 "})
    put(env, "recordings/C-1/call-6.wav", metadata={"agent-id": "x/y"})
    put(env, "recordings/C-1/call-7.wav")
    items = []
    for call in ("call-5", "call-6", "call-7"):
        (name,) = handler.lambda_handler(eventbridge(f"recordings/C-1/{call}.wav"), context)["started"]
        items.append(env.call(name))
    assert [i.get("agent_id") for i in items] == ["A-117", None, None]  # not an id: left out


def test_metadata_gives_a_customer_to_a_key_without_one(env, context):
    key = "recordings/call-4.ogg"
    put(env, key, metadata={"customer-id": "C-9"})
    assert handler.lambda_handler(eventbridge(key), context)["started"]


@pytest.mark.parametrize("ext", ["mp3", "mp4", "m4a", "wav", "flac", "ogg", "amr", "webm", "WAV", "Mp3"])
def test_every_supported_format_maps_to_a_transcribe_media_format(ext):
    parts = parse_key(f"recordings/C-1/call.{ext}", "recordings/")
    media_format = MEDIA_FORMATS[parts.extension]
    assert media_format == ext.lower() and media_format in botocore_media_formats()


def botocore_media_formats() -> list[str]:
    import botocore.session

    return botocore.session.get_session().get_service_model("transcribe").shape_for("MediaFormat").enum


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("recordings/+447700900123.wav", "no-customer"),
        ("recordings/Jane Doe/cv.pdf", "unsupported-format"),
        ("recordings/C-1/call.aiff", "unsupported-format"),
        ("transcripts/churn-test-x.json", "outside-prefix"),
    ],
)
def test_rejections_are_counted_and_logged_without_the_key(env, context, capsys, caplog, key, reason):
    put(env, key)
    with caplog.at_level(logging.DEBUG):
        result = handler.lambda_handler(eventbridge(key), context)
    assert [r["reason"] for r in result["rejected"]] == [reason]
    assert not result["started"] and jobs(env) == []
    out = capsys.readouterr().out
    assert emitted_metrics(out)["RecordingsRejected"] == [1.0]
    (record,) = [r for r in caplog.records if r.getMessage() == "Recording rejected"]
    assert record.reason == reason and len(record.key_sha256) == 16
    logged = out + "".join(str(r.__dict__) for r in caplog.records if r.name.startswith("start"))
    for private in ("447700900123", "Jane Doe", "Jane+Doe"):
        assert private not in logged


def test_empty_and_vanished_objects_are_rejected(env, context):
    put(env, "recordings/C-1/empty.wav", body=b"")
    assert handler.lambda_handler(eventbridge("recordings/C-1/empty.wav", size=0), context)["rejected"]
    gone = handler.lambda_handler(eventbridge("recordings/C-1/deleted.wav"), context)
    assert [r["reason"] for r in gone["rejected"]] == ["not-found"]


def test_a_malformed_version_id_is_rejected_by_name_every_time_not_crashed(env, context, capsys):
    # S3 answers HeadObject with a malformed versionId 400 (InvalidArgument): bad input, not an
    # outage, so it is a named rejection, counted, and a redelivery is rejected the same way.
    key = "recordings/C-1/versioned.wav"
    put(env, key)
    event = eventbridge(key)
    event["detail"]["object"]["version-id"] = "not a version id"
    for _ in range(2):
        result = handler.lambda_handler(event, context)
        assert [r["reason"] for r in result["rejected"]] == ["invalid-version"]
        assert not result["started"] and not result["failed"] and jobs(env) == []
        assert emitted_metrics(capsys.readouterr().out)["RecordingsRejected"] == [1.0]
    assert env.dynamodb.Table(CALLS).scan()["Count"] == 0


def test_foreign_bucket_is_rejected(env, context):
    result = handler.lambda_handler(eventbridge("recordings/C-1/a.wav", bucket="someone-elses"), context)
    assert [r["reason"] for r in result["rejected"]] == ["foreign-bucket"]


def test_same_event_five_times_gives_one_job_and_one_item(env, context):
    key = "recordings/C-10042/dup.wav"
    put(env, key)
    event = eventbridge(key)
    results = [handler.lambda_handler(event, context) for _ in range(5)]
    assert len(results[0]["started"]) == 1
    assert all(r["duplicates"] == results[0]["started"] for r in results[1:])
    assert len(jobs(env)) == 1
    assert env.dynamodb.Table(CALLS).scan()["Count"] == 1


def test_redelivery_after_scoring_does_not_reset_the_call(env, context):
    key = "recordings/C-1/scored.wav"
    put(env, key)
    (name,) = handler.lambda_handler(eventbridge(key), context)["started"]
    env.dynamodb.Table(CALLS).update_item(
        Key={"job_name": name},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": "SCORED"},
    )
    assert handler.lambda_handler(eventbridge(key), context)["duplicates"] == [name]
    assert env.call(name)["status"] == "SCORED"


def test_speaker_labels_redaction_and_language_follow_settings(env, context, monkeypatch):
    monkeypatch.setenv("TRANSCRIPTION_MODE", "speakers")
    monkeypatch.setenv("PII_REDACTION", "true")
    monkeypatch.setenv("LANGUAGE_CODE", "en-GB")
    handler.reset()
    put(env, "recordings/C-2/mono.mp3")
    handler.lambda_handler(eventbridge("recordings/C-2/mono.mp3"), context)
    (job,) = jobs(env)
    assert job["Settings"]["ShowSpeakerLabels"] is True and job["Settings"]["MaxSpeakerLabels"] == 2
    assert job["LanguageCode"] == "en-GB"
    # moto does not echo ContentRedaction back; check what the function asks Transcribe for.
    settings = load_settings()
    from start_transcription.service import identify, job_request

    (obj,), _ = parse_created_objects(eventbridge("recordings/C-2/mono.mp3"))
    request = job_request(
        identify(obj, settings, RecordingStore(env.s3)), job["TranscriptionJobName"], settings
    )
    assert request.to_api()["ContentRedaction"] == {"RedactionType": "PII", "RedactionOutput": "redacted"}


def test_reference_events_from_other_buckets_are_rejected_not_crashed(env, context):
    for name in (
        "s3-put-notification.json",
        "s3-put-notification-sam-cli.json",
        "eventbridge-s3-object-created.json",
    ):
        result = handler.lambda_handler(load_format(name), context)
        assert result["rejected"] and not result["started"], name


def test_sample_events_parse_as_their_function_expects():
    (put_obj,), _ = parse_created_objects(json.loads((EVENTS / "s3-put.json").read_text()))
    assert put_obj.key == "recordings/C-10042/call 2026-11-28T14:05:31Z.wav"
    (eb_obj,), _ = parse_created_objects(json.loads((EVENTS / "eventbridge-object-created.json").read_text()))
    # A versioned bucket's event: the job is named by the version, so a re-upload is a new job.
    assert eb_obj.version_id
    name = job_name("churn-local-", eb_obj.bucket, eb_obj.key, eb_obj.version_id)
    assert name != job_name("churn-local-", eb_obj.bucket, eb_obj.key, eb_obj.etag)
    # The sample completion names the job the start function makes for the sample upload.
    completed = json.loads((EVENTS / "transcribe-completed.json").read_text())
    assert completed["detail"]["TranscriptionJobName"] == name


# --- Transcribe errors, with botocore's Stubber on a real client ----------------------------------


def _service(sleeps: list[float]) -> tuple[TranscriptionService, Stubber]:
    client = boto3.client("transcribe", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    return TranscriptionService(
        client, Backoff(attempts=4, base_s=0.1, cap_s=1.0), sleep=sleeps.append
    ), stubber


def _request(env):
    settings = load_settings()
    from start_transcription.service import identify, job_request

    put(env, "recordings/C-1/a.wav")
    (obj,), _ = parse_created_objects(eventbridge("recordings/C-1/a.wav"))
    recording = identify(obj, settings, RecordingStore(env.s3))
    return obj, settings, job_request(recording, "churn-test-000000000000", settings)


def test_throttling_is_retried_with_backoff_then_succeeds(env, caplog):
    _, _, request = _request(env)
    sleeps: list[float] = []
    service, stubber = _service(sleeps)
    stubber.add_client_error("start_transcription_job", "LimitExceededException", http_status_code=400)
    stubber.add_client_error("start_transcription_job", "LimitExceededException", http_status_code=400)
    stubber.add_response(
        "start_transcription_job", {"TranscriptionJob": {"TranscriptionJobName": request.job_name}}
    )
    with stubber, caplog.at_level(logging.WARNING):
        assert service.start(request) is True
    assert len(sleeps) == 2 and all(0 <= s <= 1.0 for s in sleeps)
    stubber.assert_no_pending_responses()


def test_throttling_past_the_budget_fails_visibly_with_the_item_kept(env):
    obj, settings, _ = _request(env)
    sleeps: list[float] = []
    service, stubber = _service(sleeps)
    for _ in range(4):
        stubber.add_client_error("start_transcription_job", "LimitExceededException", http_status_code=400)
    calls = CallsRepository(env.dynamodb.Table(CALLS))
    with stubber, pytest.raises(Exception, match="LimitExceededException"):
        start_transcription(obj, settings, Collaborators(RecordingStore(env.s3), service, calls), now=NOW)
    assert len(sleeps) == 3
    (item,) = env.dynamodb.Table(CALLS).scan()["Items"]
    assert item["status"] == "TRANSCRIBING"  # a retry or a redrive picks it up again


def test_conflict_means_the_job_exists(env):
    _, _, request = _request(env)
    service, stubber = _service([])
    stubber.add_client_error("start_transcription_job", "ConflictException", http_status_code=409)
    with stubber:
        assert service.start(request) is False


def test_bad_request_marks_the_call_failed(env):
    obj, settings, _ = _request(env)
    service, stubber = _service([])
    stubber.add_client_error("start_transcription_job", "BadRequestException", "Unsupported language", 400)
    calls = CallsRepository(env.dynamodb.Table(CALLS))
    with stubber:
        outcome = start_transcription(
            obj, settings, Collaborators(RecordingStore(env.s3), service, calls), now=NOW
        )
    assert outcome.result is Result.FAILED
    item = env.call(outcome.job_name)
    assert item["status"] == "TRANSCRIPTION_FAILED" and "Unsupported language" in item["failure_reason"]
