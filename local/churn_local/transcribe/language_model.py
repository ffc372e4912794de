"""A call-centre language model for the recogniser, built from generated conversations.

PocketSphinx's general English model knows little of billing, contracts and cancellations;
an n-gram model of how our calls are worded roughly halves the word error rate. The ARPA
file is written by the back-off builder that ships with pocketsphinx and cached on disk,
keyed by the text it was built from.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from churn_contracts.conversation import Turn

from .numbers import spell_numbers

logger = logging.getLogger(__name__)

DEFAULT_CONVERSATIONS = 2000
# Not the data generator's default seed (7), which `make data` and the demo use: the demo's and
# the tests' calls are then never in the model's corpus, so their word error rates are held out.
DEFAULT_SEED = 7_000_001
# Bumped when the corpus or the builder changes, so stale cached models are not reused.
_BUILD_VERSION = "3"

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")

# Used only until the data generator is importable: enough call-centre wording for a test.
_FALLBACK_TEXTS = (
    "thank you for calling how can i help you today",
    "i have been charged twice on my bill this month and i want a refund",
    "i am sorry about that let me look at your account",
    "this is the third time this has happened i am thinking about cancelling my service",
    "i have credited the extra charge back to your account",
    "okay thank you please make sure it does not happen again",
    "my internet keeps dropping and nobody has fixed it",
    "i want to cancel my contract",
    "is there anything else i can help you with",
    "thanks for your help have a good day",
)


def cache_dir() -> Path:
    return Path(os.environ.get("CHURN_LOCAL_CACHE", Path.home() / ".cache" / "churn-local"))


@cache
def _pronunciations() -> dict[str, tuple[str, ...]]:
    """The pronouncing dictionary shipped in the wheel: word -> its dictionary lines."""
    from pocketsphinx import get_model_path

    entries: dict[str, list[str]] = {}
    with open(get_model_path("en-us/cmudict-en-us.dict"), encoding="utf-8") as handle:
        for line in handle:
            head = line.split(" ", 1)[0]
            entries.setdefault(re.sub(r"\(\d+\)$", "", head), []).append(line.rstrip("\n"))
    return {word: tuple(lines) for word, lines in entries.items()}


def dictionary_words() -> frozenset[str]:
    """The words the recogniser can say."""
    return frozenset(_pronunciations())


def dictionary_path(model_path: str | Path) -> Path:
    """The pronouncing dictionary written beside a model: only its words, so it loads in a blink."""
    return Path(model_path).with_suffix(".dict")


def sentences(texts: Iterable[str], vocabulary: frozenset[str] | None = None) -> list[str]:
    """Lower-cased word sequences the recogniser could produce, split where a word is unknown."""
    vocabulary = dictionary_words() if vocabulary is None else vocabulary
    out: list[str] = []
    for text in texts:
        run: list[str] = []
        for word in _WORD.findall(spell_numbers(text).lower()):
            if word in vocabulary:
                run.append(word)
            else:
                if run:
                    out.append(" ".join(run))
                run = []
        if run:
            out.append(" ".join(run))
    return out


def build_arpa(texts: Iterable[str], path: str | Path, *, discount_mass: float = 0.5) -> Path:
    """Write a trigram ARPA model of the texts (one utterance each) to ``path``."""
    from pocketsphinx.lm import ArpaBoLM

    corpus = sentences(texts)
    if not corpus:
        raise ValueError("no usable words to build a language model from")
    model = ArpaBoLM(text="\n".join(corpus), add_start=True, discount_mass=discount_mass)
    model.compute()
    buffer = io.StringIO()
    model.write(buffer)
    path = Path(path)
    pronunciations = _pronunciations()
    vocabulary = sorted({word for sentence in corpus for word in sentence.split()})
    dictionary = "".join(line + "\n" for word in vocabulary for line in pronunciations[word])
    path.parent.mkdir(parents=True, exist_ok=True)
    # Dictionary first, model last, each renamed into place: a model on disk always has its dictionary.
    _write_atomically(dictionary_path(path), dictionary)
    _write_atomically(path, buffer.getvalue())
    return path


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def cached_arpa(texts: Sequence[str], directory: Path | None = None) -> Path:
    """The ARPA model of ``texts``, built once and reused while the texts are the same."""
    digest = hashlib.sha256("\n".join((_BUILD_VERSION, *texts)).encode()).hexdigest()[:16]
    path = (directory or cache_dir()) / f"call-centre-{digest}.arpa"
    if not (path.exists() and dictionary_path(path).exists()):
        build_arpa(texts, path)
        logger.info("built language model %s from %d texts", path.name, len(texts))
    return path


def turn_texts(conversations: Iterable[Iterable[Turn]]) -> list[str]:
    return [turn.text for conversation in conversations for turn in conversation]


def generated_conversations(count: int, seed: int) -> list[list[Turn]] | None:
    """Conversations from the training data generator, or None where it is not installed."""
    try:
        from churn_model.data.generate import generate_rows
    except ImportError:
        return None
    return [[_as_turn(t) for t in row["turns"]] for row in generate_rows(count, seed=seed)]


def _as_turn(turn) -> Turn:
    return turn if isinstance(turn, Turn) else Turn.from_dict(turn)


def call_centre_model(
    *,
    conversations: int = DEFAULT_CONVERSATIONS,
    seed: int = DEFAULT_SEED,
    directory: Path | None = None,
) -> Path:
    """The call-centre model built from ``conversations`` generated calls (cached)."""
    generated = generated_conversations(conversations, seed)
    if generated is None:
        logger.warning("churn_model.data.generate is not available; using the small built-in corpus")
        return cached_arpa(list(_FALLBACK_TEXTS), directory)
    return cached_arpa(turn_texts(generated), directory)
