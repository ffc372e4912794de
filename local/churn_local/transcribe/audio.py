"""Recorded audio in, channels of float samples out.

Only WAV (PCM 8/16/24/32-bit) is decoded: it is what the synthesised and most call-centre
recordings are, and the standard library reads it without codecs.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

# Amazon Transcribe's own wording for these failures.
UNSUPPORTED_FORMAT = "Unsupported media format"
FORMAT_MISMATCH = (
    "The media format that you specified doesn't match the detected media format. "
    "Check the media format and try your request again."
)


class UnsupportedMediaError(ValueError):
    """The recording cannot be decoded; the message is the job's FailureReason."""


@dataclass(frozen=True)
class Recording:
    channels: tuple[np.ndarray, ...]  # float32 in [-1, 1], one array per channel
    sample_rate: int

    @property
    def duration(self) -> float:
        return len(self.channels[0]) / self.sample_rate if self.channels else 0.0

    def mono(self) -> np.ndarray:
        return np.mean(np.stack(self.channels), axis=0).astype(np.float32)


def detect_format(data: bytes) -> str | None:
    """The container, from its magic bytes, in Transcribe's MediaFormat words."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "wav"
    if data[:4] == b"fLaC":
        return "flac"
    if data[:4] == b"OggS":
        return "ogg"
    if data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "mp3"
    if data[4:8] == b"ftyp":
        return "mp4"
    if data[:6] == b"#!AMR\n":
        return "amr"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    return None


def decode(data: bytes, media_format: str | None = None) -> Recording:
    """Decode a recording; raise :class:`UnsupportedMediaError` with the job's failure reason."""
    detected = detect_format(data)
    if detected is None:
        raise UnsupportedMediaError(UNSUPPORTED_FORMAT)
    if media_format and media_format != detected and {media_format, detected} != {"mp4", "m4a"}:
        raise UnsupportedMediaError(FORMAT_MISMATCH)
    if detected != "wav":
        raise UnsupportedMediaError(
            f"{UNSUPPORTED_FORMAT}: the local stand-in decodes WAV only, not {detected}"
        )
    try:
        with wave.open(io.BytesIO(data)) as wav:
            width, count, rate = wav.getsampwidth(), wav.getnchannels(), wav.getframerate()
            pcm = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as exc:
        raise UnsupportedMediaError(f"{UNSUPPORTED_FORMAT}: {exc}") from exc
    if rate < 8000 or count < 1:
        raise UnsupportedMediaError(f"{UNSUPPORTED_FORMAT}: {count} channels at {rate} Hz")
    samples = _samples(pcm, width)
    frames = len(samples) // count
    if frames == 0:
        raise UnsupportedMediaError("The media file contains no audio")
    interleaved = samples[: frames * count].reshape(frames, count)
    return Recording(tuple(interleaved[:, c].copy() for c in range(count)), rate)


def _samples(pcm: bytes, width: int) -> np.ndarray:
    if width == 1:
        return (np.frombuffer(pcm, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if width == 2:
        return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    if width == 3:
        raw = np.frombuffer(pcm[: len(pcm) // 3 * 3], dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float32) / float(1 << 23)
    if width == 4:
        return np.frombuffer(pcm, dtype="<i4").astype(np.float32) / float(1 << 31)
    raise UnsupportedMediaError(f"{UNSUPPORTED_FORMAT}: {width * 8}-bit samples")
