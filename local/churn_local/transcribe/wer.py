"""Word error rate as reported for the local recogniser: case and punctuation ignored."""

from __future__ import annotations

import re
from collections.abc import Sequence

import jiwer

from .numbers import spell_numbers

_NOT_WORD = re.compile(r"[^a-z' ]+")


def normalise(text: str) -> str:
    """Lower case, numbers spelled out, punctuation removed (apostrophes kept: "don't" is one word)."""
    return " ".join(_NOT_WORD.sub(" ", spell_numbers(text).lower()).split())


def word_error_rate(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """WER of hypothesis against reference; lists are scored together, as one corpus."""
    references = [reference] if isinstance(reference, str) else list(reference)
    hypotheses = [hypothesis] if isinstance(hypothesis, str) else list(hypothesis)
    if len(references) != len(hypotheses):
        raise ValueError("one hypothesis per reference")
    pairs = [(normalise(r), normalise(h)) for r, h in zip(references, hypotheses, strict=True)]
    pairs = [(r, h) for r, h in pairs if r]  # jiwer cannot score an empty reference
    if not pairs:
        raise ValueError("the references hold no words")
    return float(jiwer.wer([r for r, _ in pairs], [h for _, h in pairs]))
