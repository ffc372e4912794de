"""The hand-written sentiment pairs and their loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from churn_contracts.features import PROFILE_FEATURES, TEXT
from churn_contracts.transcribe import tokenize
from churn_model.data import load_sentiment_pairs
from churn_model.data.sentiment_pairs import SentimentPairError


def test_at_least_40_distinct_pairs_with_full_profiles() -> None:
    pairs = load_sentiment_pairs()
    assert len(pairs) >= 40
    assert len({p.id for p in pairs}) == len(pairs)
    texts = [p.positive for p in pairs] + [p.negative for p in pairs]
    assert len(set(texts)) == len(texts)
    for pair in pairs:
        assert set(pair.profile) == set(PROFILE_FEATURES)
        positive, negative = pair.records()
        assert positive[TEXT] == pair.positive and negative[TEXT] == pair.negative
        assert {k: v for k, v in positive.items() if k != TEXT} == pair.profile


def test_texts_are_written_as_transcribe_writes_them() -> None:
    for pair in load_sentiment_pairs():
        for text in (pair.positive, pair.negative):
            assert 25 <= len(text.split()) <= 120, pair.id
            assert set(text) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,?!'"), (
                pair.id
            )
            # Rejoining Transcribe's items (punctuation attached) gives the text back.
            rejoined = ""
            for content, punctuation in tokenize(text):
                rejoined += content if punctuation or not rejoined else " " + content
            assert rejoined == text, pair.id


def test_keywords_cross_sides() -> None:
    # Words a shallow model might key on occur on both sides of the pairs.
    pairs = load_sentiment_pairs()
    for word in ("cancel", "happy", "switch", "complain", "great"):
        assert any(word in p.positive.lower() for p in pairs), word
        assert any(word in p.negative.lower() for p in pairs), word


def test_bad_line_is_reported_with_its_number(tmp_path: Path) -> None:
    good = json.loads(Path(load_sentiment_pairs.__defaults__[0]).read_text().splitlines()[0])
    path = tmp_path / "pairs.jsonl"
    bad_profile = {**good, "id": "b", "profile": {**good["profile"], "Day Mins": "lots"}}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad_profile) + "\n")
    with pytest.raises(SentimentPairError, match=r"line 2: 'Day Mins' is not a number"):
        load_sentiment_pairs(path)
    path.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(SentimentPairError, match="line 2"):
        load_sentiment_pairs(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(SentimentPairError, match="duplicate id"):
        load_sentiment_pairs(path)
    no_text = {**good, "negative": "  "}
    path.write_text(json.dumps(no_text) + "\n")
    with pytest.raises(SentimentPairError, match="non-empty"):
        load_sentiment_pairs(path)
