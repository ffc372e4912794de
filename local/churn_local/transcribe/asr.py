"""Speech recognition engines behind one small interface.

An engine turns one channel of samples into timed words. The job worker does the rest
(channels, turns, the output document), so a better engine drops in without touching it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .recordings import to_sample_rate


@dataclass(frozen=True)
class Word:
    text: str
    start: float  # seconds from the start of the recording
    end: float


class SpeechRecognizer(Protocol):
    def transcribe(self, samples: np.ndarray, sample_rate: int) -> list[Word]:
        """Words spoken in one channel of float samples in [-1, 1], in time order."""
        ...


# Fillers and markers the decoder emits that are not words anyone said.
_NOT_WORDS = {"<s>", "</s>", "<sil>", "[noise]", "[NOISE]", "<unk>"}
_ALTERNATE_PRONUNCIATION = re.compile(r"\(\d+\)$")


class PocketSphinxRecognizer:
    """CMU PocketSphinx with the US English acoustic model shipped in its wheel.

    ``language_model`` is an ARPA or binary n-gram file; without one the wheel's general
    English model is used. ``dictionary`` defaults to the ``.dict`` file beside the model if
    there is one (loading the full 130,000-word dictionary takes seconds), else the wheel's.
    Speech is cut into utterances by voice activity detection, which keeps each search short
    and gives every word its place in the recording.
    """

    SAMPLE_RATE = 16_000
    FRAMES_PER_SECOND = 100

    def __init__(
        self, language_model: str | Path | None = None, dictionary: str | Path | None = None
    ) -> None:
        self.language_model = Path(language_model) if language_model else None
        beside = self.language_model.with_suffix(".dict") if self.language_model else None
        if dictionary is None and beside is not None and beside.exists():
            dictionary = beside
        self.dictionary = Path(dictionary) if dictionary else None
        self._decoder = None
        # One decoder is not safe to share between threads.
        self._lock = threading.Lock()

    def _get_decoder(self):
        if self._decoder is None:
            from pocketsphinx import Decoder

            options = {"samprate": self.SAMPLE_RATE, "loglevel": "FATAL"}
            if self.language_model is not None:
                options["lm"] = str(self.language_model)
            if self.dictionary is not None:
                options["dict"] = str(self.dictionary)
            self._decoder = Decoder(**options)
        return self._decoder

    def transcribe(self, samples: np.ndarray, sample_rate: int) -> list[Word]:
        from pocketsphinx import Segmenter

        audio = to_sample_rate(np.asarray(samples, dtype=np.float32), sample_rate, self.SAMPLE_RATE)
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        words: list[Word] = []
        with self._lock:
            decoder = self._get_decoder()
            segmenter = Segmenter(sample_rate=self.SAMPLE_RATE)
            for segment in segmenter.segment(_Reader(pcm)):
                decoder.start_utt()
                decoder.process_raw(segment.pcm, full_utt=True)
                decoder.end_utt()
                for seg in decoder.seg():
                    text = _ALTERNATE_PRONUNCIATION.sub("", seg.word)
                    if text in _NOT_WORDS or text.startswith("++"):
                        continue
                    words.append(
                        Word(
                            text,
                            segment.start_time + seg.start_frame / self.FRAMES_PER_SECOND,
                            segment.start_time + (seg.end_frame + 1) / self.FRAMES_PER_SECOND,
                        )
                    )
        return words


class _Reader:
    """A file-like view of bytes for the segmenter."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._offset = 0

    def read(self, size: int) -> bytes:
        chunk = self._data[self._offset : self._offset + size]
        self._offset += len(chunk)
        return bytes(chunk)
