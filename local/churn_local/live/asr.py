"""The transcription stand-in for ``make live``: a two-channel WAV decoded progressively by
pocketsphinx's live decoder (its Endpointer cuts speech, the Decoder gives partial hypotheses as
audio arrives), written out as Contact Lens segments: ``Utterance`` partials while a speaker
talks, a ``Transcript`` final when the endpointer hears the turn end. Channel 0 is the customer,
channel 1 the agent (as ``churn_local.transcribe.recordings.synthesize_call`` writes them).
"""

from __future__ import annotations

import time
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .producer import _envelope

ROLES = ("CUSTOMER", "AGENT")
PARTIAL_EVERY_S = 0.6


@dataclass
class _Channel:
    role: str
    decoder: Any
    in_speech: bool = False
    start_s: float = 0.0
    transcript_id: str = ""
    last_partial: float = 0.0


def _frames(path: Path, frame_bytes: int) -> Iterator[tuple[float, list[bytes]]]:
    """(time, one frame per channel) through the WAV, 16 kHz 16-bit."""
    with wave.open(str(path), "rb") as wav:
        channels, rate = wav.getnchannels(), wav.getframerate()
        if wav.getsampwidth() != 2 or rate != 16_000:
            raise ValueError("a 16 kHz, 16-bit WAV is needed")
        samples = frame_bytes // 2
        position = 0
        while True:
            data = wav.readframes(samples)
            if len(data) < samples * 2 * channels:
                return
            frames = [
                b"".join(data[i : i + 2] for i in range(c * 2, len(data), 2 * channels))
                for c in range(channels)
            ]
            yield position / rate, frames
            position += samples


def decode_live(
    path: str | Path,
    contact_id: str,
    emit: Callable[[dict[str, Any]], None],
    *,
    language_model: str | Path | None = None,
    speed: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Decode ``path`` as if it were arriving now; ``emit`` each segment event. Returns finals emitted."""
    from pocketsphinx import Decoder, Endpointer

    endpointers = [Endpointer(vad_mode=2) for _ in ROLES]
    options = {"samprate": 16_000, "loglevel": "FATAL"}
    if language_model is not None:
        options["lm"] = str(language_model)
    channels = [_Channel(role, Decoder(**options)) for role in ROLES]
    frame_bytes = endpointers[0].frame_bytes
    finals = 0
    started = time.monotonic()
    emit(_envelope(contact_id, "STARTED"))
    for at, frames in _frames(Path(path), frame_bytes):
        if speed > 0:
            ahead = at / speed - (time.monotonic() - started)
            if ahead > 0:
                sleep(ahead)
        for channel, endpointer, frame in zip(channels, endpointers, frames, strict=False):
            was = endpointer.in_speech
            speech = endpointer.process(frame)
            if speech is None:
                continue
            if not was:
                channel.decoder.start_utt()
                channel.in_speech, channel.start_s = True, endpointer.speech_start
                channel.transcript_id, channel.last_partial = str(uuid.uuid4()), at
            channel.decoder.process_raw(speech)
            hyp = channel.decoder.hyp()
            if endpointer.in_speech:
                if hyp is not None and hyp.hypstr and at - channel.last_partial >= PARTIAL_EVERY_S:
                    channel.last_partial = at
                    emit(_segment(contact_id, channel, "Utterance", hyp.hypstr, at))
                continue
            channel.decoder.end_utt()
            channel.in_speech = False
            hyp = channel.decoder.hyp()
            if hyp is not None and hyp.hypstr.strip():
                emit(_segment(contact_id, channel, "Transcript", hyp.hypstr, endpointer.speech_end))
                finals += 1
    emit(_envelope(contact_id, "COMPLETED"))
    return finals


def _segment(contact_id: str, channel: _Channel, kind: str, text: str, end_s: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ParticipantId": channel.role,
        "ParticipantRole": channel.role,
        "BeginOffsetMillis": int(channel.start_s * 1000),
        "EndOffsetMillis": int(end_s * 1000),
    }
    if kind == "Utterance":
        body.update(Id=str(uuid.uuid4()), TranscriptId=channel.transcript_id, PartialContent=text)
    else:
        body.update(Id=channel.transcript_id, Content=text, Sentiment="NEUTRAL")
    return _envelope(contact_id, "SEGMENTS", Segments=[{kind: body}])
