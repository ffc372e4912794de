"""Hand-written sentiment pairs: one profile, a clearly positive and a clearly negative call.

A model that reads the text should score the negative call higher for every
pair; the share of pairs where it does is the sentiment-pair benchmark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from churn_contracts.features import CATEGORICAL, NUMERICAL, PROFILE_FEATURES, TEXT

PAIRS_PATH = Path(__file__).with_name("sentiment_pairs.jsonl")


@dataclass(frozen=True)
class SentimentPair:
    id: str
    profile: dict[str, Any]  # every profile feature; values may be null
    positive: str  # customer-side text of a clearly satisfied call
    negative: str  # customer-side text of a clearly unhappy call

    def records(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The positive and the negative call as model input records."""
        return {**self.profile, TEXT: self.positive}, {**self.profile, TEXT: self.negative}


class SentimentPairError(ValueError):
    """A line of the pairs file is not a valid pair."""


def load_sentiment_pairs(path: Path = PAIRS_PATH) -> list[SentimentPair]:
    pairs: list[SentimentPair] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pair = _parse(json.loads(line))
        except (json.JSONDecodeError, SentimentPairError, KeyError, TypeError) as exc:
            raise SentimentPairError(f"{path.name} line {number}: {exc}") from exc
        if pair.id in seen:
            raise SentimentPairError(f"{path.name} line {number}: duplicate id {pair.id!r}")
        seen.add(pair.id)
        pairs.append(pair)
    return pairs


def _parse(data: dict[str, Any]) -> SentimentPair:
    profile = data["profile"]
    missing = [name for name in PROFILE_FEATURES if name not in profile]
    if missing:
        raise SentimentPairError(f"profile lacks {missing}")
    for name in NUMERICAL:
        value = profile[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise SentimentPairError(f"{name!r} is not a number")
    for name in CATEGORICAL:
        if profile[name] is not None and not isinstance(profile[name], str):
            raise SentimentPairError(f"{name!r} is not a string")
    texts = (data["positive"], data["negative"])
    if not all(isinstance(t, str) and t.strip() for t in texts):
        raise SentimentPairError("positive and negative must be non-empty strings")
    return SentimentPair(str(data["id"]), dict(profile), data["positive"], data["negative"])
