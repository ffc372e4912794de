"""Transcribe streaming results -> Contact Lens segments, and the producer loop on a local stream.

The TranscriptEvents are in the API reference's documented shape
(tests/fixtures/formats/transcribe-streaming-transcript-events.json names its source); every event
the converter writes must be one the live function's own parser accepts.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from churn_ops.live_producer import StreamWriter, produce, wav_format
from churn_ops.live_segments import (
    SegmentConverter,
    SpeakerMap,
    TranscriptEventError,
    sdk_event_to_wire,
)
from live_score.events import parse_segment_event
from moto import mock_aws

FIXTURE = Path(__file__).parents[2] / "fixtures" / "formats" / "transcribe-streaming-transcript-events.json"
EVENTS = json.loads(FIXTURE.read_text())


class _Message:
    """An event-stream message as the SDK's event parser reads it: headers and a JSON payload."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.headers = {":message-type": "event", ":event-type": "TranscriptEvent"}
        self.payload = json.dumps(payload).encode()


def _sdk_parse(raw: dict[str, Any]) -> Any:
    """The SDK's own parse of a TranscriptEvent message into its model objects."""
    deserialize = pytest.importorskip("amazon_transcribe.deserialize")
    return deserialize.TranscribeStreamingEventParser().parse(_Message(raw))


def _convert(events: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
    converter = SegmentConverter("contact-1", **kwargs)
    return [e for e in (converter.segments_event(t) for t in events) if e is not None]


def test_partials_become_utterances_and_finals_transcripts_with_roles_from_channels() -> None:
    out = _convert(EVENTS["channel_identification"])
    assert len(out) == 3  # the empty Results event writes nothing
    partial = out[0]["Segments"][0]["Utterance"]
    final = out[1]["Segments"][0]["Transcript"]
    agent = out[2]["Segments"][0]["Transcript"]
    assert partial["ParticipantRole"] == final["ParticipantRole"] == "CUSTOMER"
    assert agent["ParticipantRole"] == "AGENT"
    assert partial["PartialContent"] == "Hi, I just wanted"
    assert final["Content"] == "Hi, I just wanted to check my bill, thank you, everything is fine."
    # A result's partials point at its final.
    assert partial["TranscriptId"] == final["Id"]
    assert (final["BeginOffsetMillis"], final["EndOffsetMillis"]) == (3520, 8004)
    for event in out:
        assert event["EventType"] == "SEGMENTS" and event["ContactId"] == "contact-1"
    parsed = [parse_segment_event(e) for e in out]
    assert [len(p.finals) for p in parsed] == [0, 1, 1]
    assert parsed[0].partials == 1
    assert parsed[1].finals[0].role == "CUSTOMER"


def test_speaker_labels_split_one_result_into_a_segment_per_speaker_run() -> None:
    (event,) = _convert(EVENTS["speaker_labels"])
    agent, customer = (s["Transcript"] for s in event["Segments"])
    assert (agent["ParticipantRole"], agent["Content"]) == ("AGENT", "Let me look into it.")
    assert (customer["ParticipantRole"], customer["Content"]) == ("CUSTOMER", "I'm done.")
    assert (customer["BeginOffsetMillis"], customer["EndOffsetMillis"]) == (23500, 24250)
    assert agent["Id"] != customer["Id"]
    assert [f.content for f in parse_segment_event(event).finals] == ["Let me look into it.", "I'm done."]


def test_ids_are_the_same_when_an_event_is_converted_again_and_offsets_move_with_the_session() -> None:
    first = _convert(EVENTS["channel_identification"])
    again = _convert(EVENTS["channel_identification"])
    assert first == again  # a retried put or a replayed result writes the same segment ids
    later = _convert(EVENTS["channel_identification"], offset_ms=60_000)
    t = later[1]["Segments"][0]["Transcript"]
    assert t["Id"] == first[1]["Segments"][0]["Transcript"]["Id"]
    assert t["BeginOffsetMillis"] == 63_520
    # Another contact's same ResultId is another segment.
    other = SegmentConverter("contact-2").segments_event(EVENTS["channel_identification"][2])
    assert other is not None
    assert other["Segments"][0]["Transcript"]["Id"] != t["Id"]


def test_a_growing_partial_gets_a_new_utterance_id_but_the_same_transcript_id() -> None:
    event = copy.deepcopy(EVENTS["channel_identification"][1])
    grown = copy.deepcopy(event)
    grown["Transcript"]["Results"][0]["EndTime"] = 5.0
    grown["Transcript"]["Results"][0]["Alternatives"][0]["Transcript"] = "Hi, I just wanted to check"
    a, b = (SegmentConverter("c").segments_event(e)["Segments"][0]["Utterance"] for e in (event, grown))
    assert a["Id"] != b["Id"] and a["TranscriptId"] == b["TranscriptId"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("Transcript"), "no Transcript"),
        (lambda e: e["Transcript"].__setitem__("Results", {}), "Results is not a list"),
        (lambda e: e["Transcript"]["Results"][0].pop("ResultId"), "ResultId"),
        (lambda e: e["Transcript"]["Results"][0].__setitem__("IsPartial", "no"), "IsPartial"),
        (lambda e: e["Transcript"]["Results"][0].__setitem__("ChannelId", "ch_7"), "ChannelId 'ch_7'"),
        (lambda e: e["Transcript"]["Results"][0].pop("ChannelId"), "neither ChannelId"),
        (lambda e: e["Transcript"]["Results"][0].__setitem__("StartTime", -1), "StartTime"),
    ],
)
def test_malformed_events_are_named_errors_without_the_speech(mutate: Any, message: str) -> None:
    event = copy.deepcopy(EVENTS["channel_identification"][2])
    mutate(event)
    with pytest.raises(TranscriptEventError, match=message) as caught:
        SegmentConverter("c").segments_event(event)
    assert "bill" not in str(caught.value)


def test_an_unknown_speaker_label_and_a_bad_role_are_refused() -> None:
    with pytest.raises(TranscriptEventError, match="speaker label '1'"):
        SegmentConverter("c", SpeakerMap(speakers={"0": "AGENT"})).segments_event(EVENTS["speaker_labels"][0])
    with pytest.raises(ValueError, match="participant role"):
        SpeakerMap(channels={"ch_0": "CALLER"})


def test_the_sdk_objects_convert_back_to_the_documented_shape() -> None:
    for raw in EVENTS["channel_identification"] + EVENTS["speaker_labels"]:
        sdk_event = _sdk_parse(raw)
        assert SegmentConverter("c").segments_event(sdk_event_to_wire(sdk_event)) == SegmentConverter(
            "c"
        ).segments_event(raw)


class _FakeInput:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.ended = False

    async def send_audio_event(self, audio_chunk: bytes) -> None:
        self.chunks.append(audio_chunk)

    async def end_stream(self) -> None:
        self.ended = True


class _FakeStream:
    """The SDK's stream surface: input_stream to send audio, output_stream of TranscriptEvents."""

    def __init__(self, events: list[Any], fail_after: int | None) -> None:
        self.input_stream = _FakeInput()
        self._events, self._fail_after = events, fail_after

    @property
    async def output_stream(self) -> Any:
        for n, event in enumerate(self._events):
            if self._fail_after is not None and n == self._fail_after:
                raise ConnectionResetError("stream dropped")
            await asyncio.sleep(0)
            yield event


class _FakeTranscribe:
    def __init__(self, events: list[Any], fail_after: int | None = None) -> None:
        self.stream = _FakeStream(events, fail_after)
        self.options: dict[str, Any] = {}

    async def start_stream_transcription(self, **options: Any) -> _FakeStream:
        self.options = options
        return self.stream


def _sdk_events() -> list[Any]:
    return [_sdk_parse(e) for e in EVENTS["channel_identification"]]


async def _audio() -> Any:
    for _ in range(3):
        yield b"\x00\x00" * 1600


def _records(kinesis: Any, stream: str) -> list[dict[str, Any]]:
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [json.loads(r["Data"]) for r in records]


@mock_aws
def test_the_producer_writes_started_segments_completed_that_the_live_function_reads() -> None:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="live", ShardCount=1)
    client = _FakeTranscribe(_sdk_events())
    writer = StreamWriter(kinesis, "live")
    asyncio.run(
        produce(client, _audio(), SegmentConverter("contact-9"), writer, sample_rate=16000, channels=2)
    )
    assert client.options["enable_channel_identification"] is True
    assert client.options["number_of_channels"] == 2 and client.options["media_encoding"] == "pcm"
    assert len(client.stream.input_stream.chunks) == 3 and client.stream.input_stream.ended
    events = _records(kinesis, "live")
    assert [e["EventType"] for e in events] == ["STARTED", "SEGMENTS", "SEGMENTS", "SEGMENTS", "COMPLETED"]
    # What the live function's handler would decode from each record.
    parsed = [
        parse_segment_event(json.loads(base64.b64decode(base64.b64encode(json.dumps(e).encode()))))
        for e in events
    ]
    assert [f.role for p in parsed for f in p.finals] == ["CUSTOMER", "AGENT"]


@mock_aws
def test_a_dropped_stream_writes_failed_after_what_it_had_and_raises() -> None:
    kinesis = boto3.client("kinesis", region_name="us-east-1")
    kinesis.create_stream(StreamName="live", ShardCount=1)
    client = _FakeTranscribe(_sdk_events(), fail_after=2)
    with pytest.raises(ConnectionResetError):
        asyncio.run(
            produce(
                client,
                _audio(),
                SegmentConverter("c"),
                StreamWriter(kinesis, "live"),
                sample_rate=8000,
                channels=1,
            )
        )
    assert client.options["show_speaker_label"] is True
    events = _records(kinesis, "live")
    assert [e["EventType"] for e in events] == ["STARTED", "SEGMENTS", "FAILED"]
    assert events[-1]["FailureReason"] == "ConnectionResetError"
    assert parse_segment_event(events[-1]).failure_reason == "ConnectionResetError"


def test_wav_format_refuses_what_transcribe_cannot_take(tmp_path: Path) -> None:
    import wave

    good, bad = tmp_path / "good.wav", tmp_path / "bad.wav"
    for path, width, rate in ((good, 2, 16000), (bad, 1, 16000)):
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(width)
            w.setframerate(rate)
            w.writeframes(b"\x00" * 3200)
    assert wav_format(good) == (16000, 2)
    with pytest.raises(ValueError, match="16-bit"):
        wav_format(bad)
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ValueError, match="not a PCM WAV"):
        wav_format(tmp_path / "text.wav")
