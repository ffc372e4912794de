"""The local Transcribe through unmodified boto3, against a real moto server."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from churn_contracts.conversation import Role, Turn
from churn_contracts.transcribe import parse_transcript
from churn_local.transcribe import LocalTranscribe, PocketSphinxRecognizer
from churn_local.transcribe.language_model import build_arpa
from churn_local.transcribe.recordings import espeak_available, synthesize_call
from churn_local.transcribe.wer import word_error_rate
from moto.server import ThreadedMotoServer

from tests.conftest import load_format

pytestmark = pytest.mark.local

REGION = "us-east-1"
BUCKET = "call-recordings-local"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

CALL = [
    Turn(Role.AGENT, "thank you for calling how can i help you", 0.0),
    Turn(Role.CUSTOMER, "i want to cancel my contract", 2.5),
]
# The call's own wording among other call-centre lines, as the model built from training calls would hold.
LM_TEXTS = [
    "thank you for calling how can i help you today",
    "i want to cancel my contract today",
    "i want a refund for my bill",
    "how can i help you with your account",
    "my internet keeps dropping",
    "thank you for your help",
]


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def client(service: str, url: str):
    return boto3.client(service, region_name=REGION, endpoint_url=url, **CREDENTIALS)


@pytest.fixture(scope="module")
def aws(moto_url: str) -> dict:
    """The bucket, and an SQS queue fed by the documented Transcribe rule pattern."""
    s3, sqs, events = client("s3", moto_url), client("sqs", moto_url), client("events", moto_url)
    s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName="transcribe-state-changes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    pattern = load_format("eventbridge-rule-pattern-transcribe.json")
    events.put_rule(Name="transcribe-job-state", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="transcribe-job-state", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return {"s3": s3, "sqs": sqs, "queue_url": queue_url}


@pytest.fixture(scope="module")
def language_model(tmp_path_factory) -> Path:
    return build_arpa(LM_TEXTS, tmp_path_factory.mktemp("lm") / "calls.arpa")


@pytest.fixture(scope="module")
def transcribe_url(moto_url: str, aws: dict, language_model: Path) -> Iterator[str]:
    with LocalTranscribe(
        aws_endpoint_url=moto_url, region=REGION, recognizer=PocketSphinxRecognizer(language_model)
    ) as service:
        yield service.url


@pytest.fixture
def transcribe(transcribe_url: str, monkeypatch):
    # The way the functions find it: the service-specific endpoint variable, nothing else.
    monkeypatch.setenv("AWS_ENDPOINT_URL_TRANSCRIBE", transcribe_url)
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name.upper(), value)
    return boto3.client("transcribe", region_name=REGION)


def wait_for(transcribe, name: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
        if job["TranscriptionJobStatus"] != "IN_PROGRESS":
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {name} still IN_PROGRESS after {timeout}s")


def state_change_events(aws: dict, job_name: str, timeout: float = 5.0) -> list[dict]:
    """The job's events from the queue; others' stay there."""
    found: list[dict] = []
    deadline = time.monotonic() + timeout
    while not found and time.monotonic() < deadline:
        messages = aws["sqs"].receive_message(
            QueueUrl=aws["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in messages.get("Messages", []):
            event = json.loads(message["Body"])
            if event["detail"]["TranscriptionJobName"] == job_name:
                found.append(event)
                aws["sqs"].delete_message(QueueUrl=aws["queue_url"], ReceiptHandle=message["ReceiptHandle"])
    return found


def put_recording(aws: dict, key: str, body: bytes, sidecar_turns: list[Turn] | None = None) -> str:
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body)
    if sidecar_turns is not None:
        sidecar = {"turns": [t.to_dict() for t in sidecar_turns]}
        aws["s3"].put_object(Bucket=BUCKET, Key=f"local-transcripts/{key}.json", Body=json.dumps(sidecar))
    return f"s3://{BUCKET}/{key}"


def s3_json(aws: dict, key: str) -> dict:
    return json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_sidecar_job_end_to_end(transcribe, aws):
    turns = [
        Turn(Role.AGENT, "Thanks for calling, how can I help?", 0.0),
        Turn(Role.CUSTOMER, "I've been overcharged again. I'm cancelling.", 3.1),
    ]
    uri = put_recording(aws, "recordings/cust-1/call-1.wav", b"not even audio: the sidecar wins", turns)

    started = transcribe.start_transcription_job(
        TranscriptionJobName="call-1",
        LanguageCode="en-US",
        MediaFormat="wav",
        Media={"MediaFileUri": uri},
        OutputBucketName=BUCKET,
        OutputKey="transcripts/",
        Settings={"ChannelIdentification": True},
        Tags=[{"Key": "customer_id", "Value": "cust-1"}],
    )["TranscriptionJob"]
    assert started["TranscriptionJobStatus"] == "IN_PROGRESS"
    assert started["Transcript"] == {}

    job = wait_for(transcribe, "call-1")
    assert job["TranscriptionJobStatus"] == "COMPLETED"
    assert job["Transcript"]["TranscriptFileUri"] == (
        f"https://s3.{REGION}.amazonaws.com/{BUCKET}/transcripts/call-1.json"
    )
    assert job["CompletionTime"] >= job["StartTime"] >= job["CreationTime"]
    assert job["Settings"]["ChannelIdentification"] is True
    assert job["Tags"] == [{"Key": "customer_id", "Value": "cust-1"}]

    document = s3_json(aws, "transcripts/call-1.json")
    assert [c["channel_label"] for c in document["results"]["channel_labels"]["channels"]] == ["ch_0", "ch_1"]
    conversation = parse_transcript(document)
    assert conversation.customer_text == "I've been overcharged again. I'm cancelling."
    aws["s3"].head_object(Bucket=BUCKET, Key="transcripts/.write_access_check_file.temp")

    [event] = state_change_events(aws, "call-1")
    assert event["source"] == "aws.transcribe"
    assert event["detail-type"] == "Transcribe Job State Change"
    assert event["detail"] == {"TranscriptionJobName": "call-1", "TranscriptionJobStatus": "COMPLETED"}


def test_output_key_file_name_speaker_labels_and_redaction(transcribe, aws):
    turns = [
        Turn(Role.AGENT, "Can I have your card number?", 0.0),
        Turn(Role.CUSTOMER, "It is 4111 1111 1111 1111.", 2.0),
    ]
    uri = put_recording(aws, "recordings/cust-2/call-2.wav", b"-", turns)
    transcribe.start_transcription_job(
        TranscriptionJobName="call-2",
        LanguageCode="en-US",
        Media={"MediaFileUri": uri},
        OutputBucketName=BUCKET,
        OutputKey="out/call-two",
        Settings={"ShowSpeakerLabels": True, "MaxSpeakerLabels": 2},
        ContentRedaction={"RedactionType": "PII", "RedactionOutput": "redacted_and_unredacted"},
    )
    job = wait_for(transcribe, "call-2")
    assert job["Transcript"] == {
        "TranscriptFileUri": f"https://s3.{REGION}.amazonaws.com/{BUCKET}/out/call-two.json",
        "RedactedTranscriptFileUri": f"https://s3.{REGION}.amazonaws.com/{BUCKET}/out/redacted-call-two.json",
    }
    plain = parse_transcript(s3_json(aws, "out/call-two.json"))
    redacted = parse_transcript(s3_json(aws, "out/redacted-call-two.json"))
    assert plain.customer_text == "It is 4111 1111 1111 1111."
    assert "4111" not in redacted.customer_text and "[PII]" in redacted.customer_text
    assert s3_json(aws, "out/call-two.json")["results"]["speaker_labels"]["speakers"] == 2
    state_change_events(aws, "call-2")


def test_no_output_bucket_keeps_the_transcript_in_the_service(transcribe, aws):
    uri = put_recording(aws, "recordings/cust-3/call-3.wav", b"-", [Turn(Role.CUSTOMER, "Hello there.", 0.0)])
    transcribe.start_transcription_job(
        TranscriptionJobName="call-3", LanguageCode="en-GB", Media={"MediaFileUri": uri}
    )
    job = wait_for(transcribe, "call-3")
    url = job["Transcript"]["TranscriptFileUri"]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert parse_transcript(json.load(response)).customer_text == "Hello there."
    summaries = transcribe.list_transcription_jobs(JobNameContains="CALL-3")["TranscriptionJobSummaries"]
    assert [(s["TranscriptionJobName"], s["OutputLocationType"]) for s in summaries] == [
        ("call-3", "SERVICE_BUCKET")
    ]
    state_change_events(aws, "call-3")


def test_conflict_not_found_and_bad_requests(transcribe, aws):
    uri = put_recording(aws, "recordings/cust-4/call-4.wav", b"-", [Turn(Role.CUSTOMER, "Hi.", 0.0)])
    transcribe.start_transcription_job(
        TranscriptionJobName="call-4", LanguageCode="en-US", Media={"MediaFileUri": uri}
    )
    with pytest.raises(transcribe.exceptions.ConflictException):
        transcribe.start_transcription_job(
            TranscriptionJobName="call-4", LanguageCode="en-US", Media={"MediaFileUri": uri}
        )
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_transcription_job(TranscriptionJobName="no-such-job")

    bad_requests = [
        {"TranscriptionJobName": "bad name!", "LanguageCode": "en-US", "Media": {"MediaFileUri": uri}},
        {
            "TranscriptionJobName": "bad-1",
            "LanguageCode": "en-US",
            "Media": {"MediaFileUri": "ftp://x/y.wav"},
        },
        {"TranscriptionJobName": "bad-2", "Media": {"MediaFileUri": uri}},
        {
            "TranscriptionJobName": "bad-3",
            "LanguageCode": "en-US",
            "Media": {"MediaFileUri": uri},
            "MediaFormat": "avi",
        },
        {
            "TranscriptionJobName": "bad-4",
            "LanguageCode": "en-US",
            "Media": {"MediaFileUri": uri},
            "Settings": {"ShowSpeakerLabels": True},
        },
        {
            "TranscriptionJobName": "bad-5",
            "LanguageCode": "en-US",
            "Media": {"MediaFileUri": uri},
            "OutputBucketName": "no-such-bucket-here",
        },
    ]
    for request in bad_requests:
        with pytest.raises(transcribe.exceptions.BadRequestException):
            transcribe.start_transcription_job(**request)
    names = {
        s["TranscriptionJobName"]
        for s in transcribe.list_transcription_jobs(MaxResults=100)["TranscriptionJobSummaries"]
    }
    assert not names & {"bad-1", "bad-2", "bad-3", "bad-4", "bad-5"}

    wait_for(transcribe, "call-4")
    transcribe.delete_transcription_job(TranscriptionJobName="call-4")
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_transcription_job(TranscriptionJobName="call-4")
    state_change_events(aws, "call-4")


def test_garbage_audio_fails_with_reason_and_event(transcribe, aws):
    uri = put_recording(aws, "recordings/cust-5/call-5.wav", os.urandom(4096))
    transcribe.start_transcription_job(
        TranscriptionJobName="call-5",
        LanguageCode="en-US",
        Media={"MediaFileUri": uri},
        OutputBucketName=BUCKET,
        Settings={"ChannelIdentification": True},
    )
    job = wait_for(transcribe, "call-5")
    assert job["TranscriptionJobStatus"] == "FAILED"
    assert job["FailureReason"].startswith("Unsupported media format")
    assert job["Transcript"] == {}
    [event] = state_change_events(aws, "call-5")
    assert event["detail"] == {
        "TranscriptionJobName": "call-5",
        "TranscriptionJobStatus": "FAILED",
        "FailureReason": job["FailureReason"],
    }


def test_missing_media_fails(transcribe, aws):
    transcribe.start_transcription_job(
        TranscriptionJobName="call-6",
        LanguageCode="en-US",
        Media={"MediaFileUri": f"s3://{BUCKET}/recordings/none.wav"},
    )
    job = wait_for(transcribe, "call-6")
    assert job["TranscriptionJobStatus"] == "FAILED"
    assert "doesn't exist" in job["FailureReason"]
    assert [e["detail"]["TranscriptionJobStatus"] for e in state_change_events(aws, "call-6")] == ["FAILED"]


@pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make setup installs it)")
def test_real_asr_on_a_synthesised_two_channel_call(transcribe, aws, tmp_path):
    path = tmp_path / "call.wav"
    duration = synthesize_call(CALL, path)
    assert duration < 8
    uri = put_recording(aws, "recordings/cust-7/call-7.wav", path.read_bytes())
    transcribe.start_transcription_job(
        TranscriptionJobName="call-7",
        LanguageCode="en-US",
        MediaFormat="wav",
        Media={"MediaFileUri": uri},
        OutputBucketName=BUCKET,
        OutputKey="transcripts/",
        Settings={"ChannelIdentification": True},
    )
    job = wait_for(transcribe, "call-7", timeout=60)
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    conversation = parse_transcript(s3_json(aws, "transcripts/call-7.json"))
    agent = " ".join(t.text for t in conversation.turns if t.role is Role.AGENT)
    # Each side came from its own channel: the customer's words are on ch_0 only.
    assert word_error_rate(CALL[1].text, conversation.customer_text) <= 0.35
    assert word_error_rate(CALL[0].text, agent) <= 0.35
    assert conversation.turns[0].role is Role.AGENT
    assert [e["detail"]["TranscriptionJobStatus"] for e in state_change_events(aws, "call-7")] == [
        "COMPLETED"
    ]
