"""Live segments for audio that does not come through Amazon Connect (issue 23).

Streams a WAV (or any 16-bit PCM source) through Amazon Transcribe streaming with the
``amazon-transcribe`` SDK (``pip install '.[live-producer]'``) and writes each result as a
Contact Lens-shaped event to the live Kinesis stream, partitioned by contact id, so
``LiveScoreFunction`` reads it as it reads Connect's. The conversion is
:mod:`churn_ops.live_segments`; this module only drives the SDK and the stream.

    python -m churn_ops.live_producer --wav call.wav --contact-id C-123 \\
        --stream-name churn-live-segments --region eu-west-1

Two channels -> channel identification (``--channel-roles ch_0=CUSTOMER,ch_1=AGENT``); one channel
-> speaker labels (``--speaker-roles 0=AGENT,1=CUSTOMER``). Runs with the caller's credentials:
``transcribe:StartStreamTranscriptionWebSocket``/``StartStreamTranscription`` and
``kinesis:PutRecord`` on the stream (and its KMS key's ``kms:GenerateDataKey``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import wave
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from .live_segments import SegmentConverter, SpeakerMap, sdk_event_to_wire

log = logging.getLogger(__name__)
CHUNK_MS = 100  # Transcribe's guidance: 50-200 ms chunks; an event holds at most 32 KB of audio


class StreamWriter:
    """PutRecord per event, keyed by contact so a contact's events stay in order on one shard."""

    def __init__(self, kinesis: Any, stream_name: str) -> None:
        self.kinesis, self.stream_name = kinesis, stream_name
        self.written = 0

    def put(self, event: dict[str, Any]) -> None:
        # boto3's retry mode retries throttling; a retried put writes the same ids (dedupe downstream).
        self.kinesis.put_record(
            StreamName=self.stream_name,
            Data=json.dumps(event, separators=(",", ":")).encode(),
            PartitionKey=event["ContactId"],
        )
        self.written += 1


async def wav_chunks(
    path: Path, *, pace: float = 1.0, sleep: Callable[[float], Any] = asyncio.sleep
) -> AsyncIterator[bytes]:
    """The file's PCM in CHUNK_MS pieces, at `pace` x real time (0: as fast as it reads)."""
    with wave.open(str(path), "rb") as wav:
        frames = wav.getframerate() * CHUNK_MS // 1000
        while chunk := wav.readframes(frames):
            yield chunk
            if pace > 0:
                await sleep(CHUNK_MS / 1000 / pace)


def wav_format(path: Path) -> tuple[int, int]:
    """(sample rate, channels); a clear error for what Transcribe streaming cannot take."""
    try:
        with wave.open(str(path), "rb") as wav:
            width, rate, channels = wav.getsampwidth(), wav.getframerate(), wav.getnchannels()
    except (wave.Error, EOFError) as error:
        raise ValueError(f"{path}: not a PCM WAV file ({error})") from None
    if width != 2:
        raise ValueError(f"{path}: Transcribe streaming takes 16-bit PCM, this is {8 * width}-bit")
    if not 8000 <= rate <= 48000:
        raise ValueError(f"{path}: sample rate {rate} Hz is outside Transcribe's 8000-48000 Hz")
    if channels not in (1, 2):
        raise ValueError(f"{path}: {channels} channels; Transcribe streaming takes one or two")
    return rate, channels


async def produce(
    client: Any,
    audio: AsyncIterator[bytes],
    converter: SegmentConverter,
    writer: StreamWriter,
    *,
    sample_rate: int,
    channels: int,
) -> None:
    """STARTED, a SEGMENTS event per TranscriptEvent with speech, COMPLETED (FAILED on an error)."""
    writer.put(converter.started())
    try:
        options: dict[str, Any] = (
            {"enable_channel_identification": True, "number_of_channels": 2}
            if channels == 2
            else {"show_speaker_label": True}
        )
        stream = await client.start_stream_transcription(
            language_code=converter.language_code,
            media_sample_rate_hz=sample_rate,
            media_encoding="pcm",
            **options,
        )

        async def send() -> None:
            async for chunk in audio:
                await stream.input_stream.send_audio_event(audio_chunk=chunk)
            await stream.input_stream.end_stream()

        async def receive() -> None:
            async for event in stream.output_stream:
                if getattr(event, "transcript", None) is None:
                    continue  # other event kinds carry no results
                segments = converter.segments_event(sdk_event_to_wire(event))
                if segments is not None:
                    writer.put(segments)

        await asyncio.gather(send(), receive())
    except Exception as error:
        # The live function ends the contact on FAILED; the reason names the error's kind only.
        log.error("transcription stream failed for a contact: %s", type(error).__name__)
        writer.put(converter.failed(type(error).__name__))
        raise
    writer.put(converter.completed())


def _roles(text: str) -> dict[str, str]:
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if any(len(p) != 2 for p in pairs):
        raise argparse.ArgumentTypeError("expected LABEL=ROLE,LABEL=ROLE")
    return {k.strip(): v.strip().upper() for k, v in pairs}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_ops.live_producer", description=__doc__)
    parser.add_argument("--wav", required=True, type=Path, help="16-bit PCM WAV, one or two channels")
    parser.add_argument("--contact-id", required=True)
    parser.add_argument("--stream-name", required=True, help="the LiveCalls segment stream")
    parser.add_argument("--region", required=True)
    parser.add_argument("--channel-roles", type=_roles, default={"ch_0": "CUSTOMER", "ch_1": "AGENT"})
    parser.add_argument("--speaker-roles", type=_roles, default={"0": "AGENT", "1": "CUSTOMER"})
    parser.add_argument("--pace", type=float, default=1.0, help="x real time to send audio (0: unpaced)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    try:
        rate, channels = wav_format(args.wav)
        speakers = SpeakerMap(channels=args.channel_roles, speakers=args.speaker_roles)
    except ValueError as error:
        parser.error(str(error))
    try:
        from amazon_transcribe.client import TranscribeStreamingClient
    except ImportError:
        parser.error("the amazon-transcribe SDK is not installed: pip install '.[live-producer]'")
    import boto3
    from botocore.config import Config

    kinesis = boto3.client("kinesis", region_name=args.region, config=Config(retries={"mode": "standard"}))
    writer = StreamWriter(kinesis, args.stream_name)
    converter = SegmentConverter(args.contact_id, speakers)
    asyncio.run(
        produce(
            TranscribeStreamingClient(region=args.region),
            wav_chunks(args.wav, pace=args.pace),
            converter,
            writer,
            sample_rate=rate,
            channels=channels,
        )
    )
    log.info("wrote %d events", writer.written)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
