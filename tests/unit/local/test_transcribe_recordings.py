import itertools
import wave

import numpy as np
import pytest
from churn_contracts.conversation import Role, Turn
from churn_local.transcribe.asr import PocketSphinxRecognizer
from churn_local.transcribe.audio import decode
from churn_local.transcribe.language_model import build_arpa
from churn_local.transcribe.recordings import SAMPLE_RATE, espeak_available, synthesize_call

pytestmark = [
    pytest.mark.local,
    pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed (make setup installs it)"),
]


def speech_spans(samples: np.ndarray) -> list[tuple[float, float]]:
    """Start and end (seconds) of the stretches that are not silent."""
    active = np.abs(samples) > 1e-3
    edges = np.flatnonzero(np.diff(active.astype(np.int8)))
    if not len(edges):
        return []
    return [(edges[0] / SAMPLE_RATE, edges[-1] / SAMPLE_RATE)]


def test_customer_on_the_left_agent_on_the_right_one_at_a_time(tmp_path):
    path = tmp_path / "call.wav"
    turns = [Turn(Role.AGENT, "Hello, how can I help?", 0.0), Turn(Role.CUSTOMER, "I want to cancel.", 0.0)]
    duration = synthesize_call(turns, path)

    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (2, SAMPLE_RATE, 2)
        assert wav.getnframes() / SAMPLE_RATE == pytest.approx(duration)
    recording = decode(path.read_bytes(), "wav")
    [(agent_start, agent_end)] = speech_spans(recording.channels[1])
    [(customer_start, customer_end)] = speech_spans(recording.channels[0])
    # Turns without times follow one another, with a gap, and never overlap.
    assert agent_start < 0.2
    assert customer_start > agent_end
    assert customer_end < duration


def test_turns_start_at_their_times(tmp_path):
    path = tmp_path / "call.wav"
    synthesize_call([Turn(Role.CUSTOMER, "Hello.", 3.0)], path)
    [(start, _)] = speech_spans(decode(path.read_bytes()).channels[0])
    assert start == pytest.approx(3.0, abs=0.2)


def test_a_call_needs_words(tmp_path):
    with pytest.raises(ValueError):
        synthesize_call([], tmp_path / "x.wav")
    with pytest.raises(ValueError):
        synthesize_call([Turn(Role.AGENT, "   ", 0.0)], tmp_path / "x.wav")


def test_pocketsphinx_hears_the_words_and_places_them_in_time(tmp_path):
    path = tmp_path / "call.wav"
    synthesize_call([Turn(Role.CUSTOMER, "I want to cancel my contract", 1.0)], path)
    recording = decode(path.read_bytes())
    model = build_arpa(
        ["i want to cancel my contract", "i want a refund", "thank you for calling"], tmp_path / "lm"
    )
    engine = PocketSphinxRecognizer(model)

    words = engine.transcribe(recording.channels[0], recording.sample_rate)
    assert [w.text for w in words][:2] == ["i", "want"]
    assert 0.8 < words[0].start < 1.5
    assert all(a.start <= b.start and a.start < a.end for a, b in itertools.pairwise(words))
    # The agent's channel is silent: nothing may be heard there.
    assert engine.transcribe(recording.channels[1], recording.sample_rate) == []
    # A recording at another rate is resampled, not misheard.
    resampled = engine.transcribe(recording.channels[0][::2], SAMPLE_RATE // 2)
    assert [w.text for w in resampled][:2] == ["i", "want"]
