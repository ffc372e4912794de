import pytest
from churn_local.transcribe.jobs import (
    BadRequestError,
    ConflictError,
    JobStore,
    LimitExceededError,
    NotFoundError,
    S3Location,
    new_job,
    output_location,
    parse_media_uri,
    redacted_location,
)

URI = "s3://recordings-bucket/recordings/c-1/call 1.wav"


def request(**overrides):
    base = {"TranscriptionJobName": "job-1", "LanguageCode": "en-US", "Media": {"MediaFileUri": URI}}
    return {**base, **overrides}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "job-1.json"),
        ("transcripts/", "transcripts/job-1.json"),
        ("a/b/", "a/b/job-1.json"),
        ("transcripts/mine", "transcripts/mine.json"),
        ("transcripts/mine.json", "transcripts/mine.json"),
    ],
)
def test_output_key_is_a_folder_when_it_ends_in_a_slash(key, expected):
    assert output_location("job-1", "out-bucket", key) == S3Location("out-bucket", expected)


def test_redacted_transcript_sits_beside_the_plain_one():
    assert redacted_location(S3Location("b", "t/job.json")).key == "t/redacted-job.json"
    assert redacted_location(S3Location("b", "job.json")).key == "redacted-job.json"


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://bkt/a/b.wav", "bkt", "a/b.wav"),
        ("https://s3.us-east-1.amazonaws.com/bkt/a/b.wav", "bkt", "a/b.wav"),
        ("https://bkt.s3.amazonaws.com/a/b%20c.wav", "bkt", "a/b c.wav"),
        ("https://bkt.s3.eu-west-1.amazonaws.com/a.wav", "bkt", "a.wav"),
    ],
)
def test_media_uri_forms(uri, bucket, key):
    assert parse_media_uri(uri) == S3Location(bucket, key)


@pytest.mark.parametrize("uri", ["s3://bkt", "s3://bkt/", "http://example.com/a.wav", "recordings/a.wav", ""])
def test_media_uri_must_name_an_s3_object(uri):
    with pytest.raises(BadRequestError):
        parse_media_uri(uri)


@pytest.mark.parametrize(
    "overrides",
    [
        {"TranscriptionJobName": "has space"},
        {"TranscriptionJobName": "x" * 201},
        {"Media": {}},
        {"LanguageCode": None},
        {"LanguageCode": "de-DE"},
        {"MediaFormat": "aiff"},
        {"Settings": {"ShowSpeakerLabels": True}},
        {"Settings": {"MaxSpeakerLabels": 2}},
        {"Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 1}},
        {"Settings": {"ChannelIdentification": True, "ShowSpeakerLabels": True, "MaxSpeakerLabels": 2}},
        {"ContentRedaction": {"RedactionType": "PII", "RedactionOutput": "all"}},
        {"OutputKey": "transcripts/"},
        {"OutputBucketName": "b-1", "OutputKey": "bad key"},
    ],
)
def test_requests_the_service_refuses(overrides):
    with pytest.raises(BadRequestError):
        new_job(request(**overrides))


def test_a_valid_request_describes_as_in_progress_with_no_transcript():
    job = new_job(
        request(
            MediaFormat="wav",
            OutputBucketName="out-bucket",
            OutputKey="t/",
            Settings={"ChannelIdentification": True},
            IdentifyLanguage=True,
        )
    )
    assert job.media == S3Location("recordings-bucket", "recordings/c-1/call 1.wav")
    assert job.output == S3Location("out-bucket", "t/job-1.json")
    described = job.describe()
    assert described["TranscriptionJobStatus"] == "IN_PROGRESS"
    assert described["Transcript"] == {}
    assert described["Media"] == {"MediaFileUri": URI}
    assert described["Settings"]["ChannelIdentification"] is True
    assert "FailureReason" not in described and "CompletionTime" not in described


def test_identify_language_alone_is_english():
    assert new_job(request(LanguageCode=None, IdentifyLanguage=True)).language_code == "en-US"


def test_store_conflict_not_found_finish_and_delete():
    store = JobStore()
    store.add(new_job(request()))
    with pytest.raises(ConflictError):
        store.add(new_job(request()))
    with pytest.raises(NotFoundError):
        store.get("nope")

    assert store.finish("job-1", transcript={"TranscriptFileUri": "https://x/y.json"})
    described = store.describe("job-1")
    assert described["TranscriptionJobStatus"] == "COMPLETED"
    assert described["Transcript"] == {"TranscriptFileUri": "https://x/y.json"}
    assert described["CompletionTime"] >= described["StartTime"]

    store.delete("job-1")
    with pytest.raises(BadRequestError):
        store.delete("job-1")
    assert not store.finish("job-1", failure="too late")
    store.add(new_job(request()))  # a deleted name can be used again


def test_store_records_failure():
    store = JobStore()
    store.add(new_job(request()))
    store.finish("job-1", failure="Unsupported media format")
    described = store.describe("job-1")
    assert (described["TranscriptionJobStatus"], described["FailureReason"]) == (
        "FAILED",
        "Unsupported media format",
    )
    assert described["Transcript"] == {}


def test_store_refuses_beyond_its_pending_limit():
    store = JobStore(max_pending=2)
    store.add(new_job(request(TranscriptionJobName="a")))
    store.add(new_job(request(TranscriptionJobName="b")))
    with pytest.raises(LimitExceededError):
        store.add(new_job(request(TranscriptionJobName="c")))
    store.finish("a", failure="x")
    store.add(new_job(request(TranscriptionJobName="c")))


def test_list_newest_first_filters_and_pages():
    store = JobStore()
    for index in range(7):
        job = new_job(request(TranscriptionJobName=f"call-{index}"))
        job.creation_time = 1000.0 + index
        store.add(job)
    store.finish("call-3", failure="x")

    first = store.list()
    assert [s["TranscriptionJobName"] for s in first["TranscriptionJobSummaries"]] == [
        "call-6",
        "call-5",
        "call-4",
        "call-3",
        "call-2",
    ]
    rest = store.list(next_token=first["NextToken"])
    assert [s["TranscriptionJobName"] for s in rest["TranscriptionJobSummaries"]] == ["call-1", "call-0"]
    assert "NextToken" not in rest

    failed = store.list(status="FAILED")
    assert failed["Status"] == "FAILED"
    assert [s["TranscriptionJobName"] for s in failed["TranscriptionJobSummaries"]] == ["call-3"]
    assert [
        s["TranscriptionJobName"] for s in store.list(name_contains="CALL-1")["TranscriptionJobSummaries"]
    ] == ["call-1"]
    assert store.list()["TranscriptionJobSummaries"][0]["OutputLocationType"] == "SERVICE_BUCKET"
    for bad in ({"status": "DONE"}, {"max_results": 0}, {"max_results": 101}, {"next_token": "abc"}):
        with pytest.raises(BadRequestError):
            store.list(**bad)
