"""Synthetic churn data: the latent model, the call grammar and the generator.

``generate_rows`` and ``load_sentiment_pairs`` are the public entry points;
they are imported lazily so that ``python -m churn_model.data.generate`` runs
without a double import.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SentimentPair", "generate_rows", "load_sentiment_pairs"]


def __getattr__(name: str) -> Any:
    if name == "generate_rows":
        from .generate import generate_rows

        return generate_rows
    if name in {"SentimentPair", "load_sentiment_pairs"}:
        from . import sentiment_pairs

        return getattr(sentiment_pairs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
