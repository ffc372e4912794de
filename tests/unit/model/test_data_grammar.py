"""The call grammar: clean Transcribe-style text, tone in every customer turn, no give-away words."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

import numpy as np
import pytest
from churn_contracts.transcribe import tokenize
from churn_model.data import grammar, latent
from churn_model.data.generate import simulate
from churn_model.data.latent import CallPlan

TONE_BANKS = (
    grammar.GENERAL,
    grammar.FEELINGS,
    grammar.ACKS,
    grammar.REACTIONS,
    grammar.CLOSINGS,
    grammar.INTENT,
    grammar.TURNAROUNDS,
)


def all_templates() -> Iterator[str]:
    for value in vars(grammar).values():
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            yield from value
        elif isinstance(value, dict):
            for bank in value.values():
                if isinstance(bank, dict):
                    for inner in bank.values():
                        yield from inner
                elif isinstance(bank, tuple):
                    yield from bank


def level_patterns(topic: str) -> dict[int, list[re.Pattern[str]]]:
    """Each tone level's templates as regexes: slots match anything, the first letter either case."""
    patterns: dict[int, list[re.Pattern[str]]] = {}
    for level in range(latent.TONE_MIN, latent.TONE_MAX + 1):
        templates = [t for bank in TONE_BANKS for t in bank[level]]
        polarity = (level > 0) - (level < 0)
        templates += grammar.TOPIC_DETAIL[topic][polarity]
        compiled = []
        for template in templates:
            body = "".join(
                ".+?" if part.startswith("{") else re.escape(part)
                for part in re.split(r"(\{\w+\})", template)
            )
            compiled.append(
                re.compile(rf"(?i:{body[:1]}){body[1:]}" if not template.startswith("{") else body)
            )
        patterns[level] = compiled
    return patterns


def test_templates_are_transcribe_clean() -> None:
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,?!'{}_")
    templates = list(all_templates())
    assert len(templates) > 500
    for template in templates:
        assert set(template) <= allowed, template
        assert template == " ".join(template.split()), template
        assert not re.search(r"\s[.,?!]|[.,?!]{2}", template), template


def test_generated_turns_round_trip_through_transcribe_tokens() -> None:
    for row in simulate(200, seed=8).rows:
        for turn in row["turns"]:
            rejoined = ""
            for content, punctuation in tokenize(turn["text"]):
                rejoined += content if punctuation or not rejoined else " " + content
            assert rejoined == turn["text"]


@pytest.mark.parametrize("topic", latent.TOPICS)
def test_every_customer_turn_shows_its_tone(topic: str) -> None:
    rng = np.random.default_rng(3)
    writer = grammar.CallWriter(random.Random(3))
    patterns = level_patterns(topic)
    for plan in latent.sample_plans(60, rng):
        plan = CallPlan(topic, plan.arc, plan.n_turns, plan.tones, plan.customer_words)
        customer = [t["text"] for t in writer.write(plan) if t["role"] == "customer"]
        assert len(customer) == len(plan.tones)
        for text, level in zip(customer, plan.tones, strict=True):
            assert any(p.search(text) for p in patterns[level]), (level, text)


def test_loaded_words_appear_at_both_ends_of_the_tone_scale() -> None:
    writer = grammar.CallWriter(random.Random(5))

    def words_at(level: int) -> str:
        calls = [
            writer.write(CallPlan(topic, "steady", 16, (level,) * 8, 130))
            for topic in latent.TOPICS
            for _ in range(25)
        ]
        return " ".join(t["text"].lower() for call in calls for t in call if t["role"] == "customer")

    happy, furious = words_at(3) + words_at(2), words_at(-3) + words_at(-2)
    for word in ("cancel", "switch", "leave", "happy", "great", "complain", "stay", "love", "thank"):
        assert word in happy and word in furious, word


def test_no_single_word_gives_the_label_away() -> None:
    dataset = simulate(3000, seed=13)
    y = dataset.labels
    vocab: dict[str, np.ndarray] = {}
    texts = [set(re.findall(r"[a-z']+", row["text"].lower())) for row in dataset.rows]
    for word in set().union(*texts):
        present = np.array([word in t for t in texts])
        if 0.01 <= present.mean() <= 0.99:
            vocab[word] = present
    best = max(vocab, key=lambda w: latent.roc_auc(y, vocab[w]))
    text_oracle = dataset.oracle_auc()["text"]
    # The best single word is far weaker than the text as a whole.
    assert latent.roc_auc(y, vocab[best]) < min(0.62, text_oracle - 0.07), best


def test_attitude_weights_how_the_call_ends() -> None:
    recovering = latent.attitude_of((-2, -2, 2, 2), "billing")
    souring = latent.attitude_of((2, 2, -2, -2), "billing")
    assert recovering < 0 < souring  # a satisfied ending lowers the churn logit
    assert latent.attitude_of((3,) * 5, "upgrade") < latent.attitude_of((-3,) * 5, "upgrade")
