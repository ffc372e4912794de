import io
import wave

import numpy as np
import pytest
from churn_local.transcribe.audio import FORMAT_MISMATCH, UNSUPPORTED_FORMAT, UnsupportedMediaError, decode


def wav_bytes(frames: np.ndarray, *, rate: int = 16000, width: int = 2) -> bytes:
    frames = frames if frames.ndim == 2 else frames[:, None]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(frames.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        if width == 1:
            wav.writeframes((frames * 127 + 128).astype(np.uint8).tobytes())
        else:
            wav.writeframes((frames * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def test_stereo_wav_keeps_its_channels_apart():
    left = np.linspace(-0.5, 0.5, 1600, dtype=np.float32)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    recording = decode(wav_bytes(stereo), "wav")
    assert recording.sample_rate == 16000 and len(recording.channels) == 2
    assert recording.duration == pytest.approx(0.1)
    np.testing.assert_allclose(recording.channels[0], left, atol=1e-4)
    assert not recording.channels[1].any()
    np.testing.assert_allclose(recording.mono(), left / 2, atol=1e-4)


def test_eight_bit_mono_wav():
    recording = decode(wav_bytes(np.full(800, 0.5, dtype=np.float32), rate=8000, width=1))
    assert recording.sample_rate == 8000 and len(recording.channels) == 1
    assert recording.channels[0].mean() == pytest.approx(0.5, abs=0.01)


@pytest.mark.parametrize("data", [b"", b"hello, this is no audio", bytes(range(256)) * 8])
def test_garbage_is_an_unsupported_media_format(data):
    with pytest.raises(UnsupportedMediaError, match=UNSUPPORTED_FORMAT):
        decode(data)


def test_other_containers_are_named_but_not_decoded():
    with pytest.raises(UnsupportedMediaError, match="WAV only, not flac"):
        decode(b"fLaC" + bytes(64), "flac")


def test_declared_format_must_match_the_data():
    with pytest.raises(UnsupportedMediaError, match=FORMAT_MISMATCH):
        decode(wav_bytes(np.zeros(160, dtype=np.float32)), "mp3")


def test_truncated_or_empty_wav_fails_clearly():
    data = wav_bytes(np.zeros(160, dtype=np.float32))
    with pytest.raises(UnsupportedMediaError):
        decode(data[:30])
    with pytest.raises(UnsupportedMediaError, match="no audio"):
        decode(wav_bytes(np.zeros(0, dtype=np.float32)))
