"""Transcript -> the model's text, through the shared parser and renderer only.

:func:`model_text` is the scoring side of the train/serve contract: the skew test calls
it directly, so it must stay the one place the score function builds ``text``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from churn_contracts.transcribe import DEFAULT_CUSTOMER_CHANNEL, DEFAULT_CUSTOMER_SPEAKER, parse_transcript

from .config import Settings


def model_text(document: Mapping[str, Any], settings: Settings | None = None) -> str:
    """The customer's words as the model reads them (the deployed defaults without ``settings``).

    Raises ``TranscriptError``.
    """
    conversation = parse_transcript(
        document,
        customer_channel=settings.customer_channel if settings else DEFAULT_CUSTOMER_CHANNEL,
        customer_speaker=settings.customer_speaker if settings else DEFAULT_CUSTOMER_SPEAKER,
    )
    return conversation.customer_text


def excerpt(text: str, max_chars: int) -> str:
    """The start of what the customer said, cut at a word boundary."""
    if len(text) <= max_chars:
        return text
    cut = text[: max(0, max_chars - 1)]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"
