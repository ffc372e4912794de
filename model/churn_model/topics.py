"""Topics of every customer sentence, and the call's topics (``churn_contracts.topics``).

Two classifiers with one interface (``label(sentences) -> [[(topic, strength), ...], ...]``):

- :class:`LinearTopics` (served by the endpoint): one logistic regression per topic on the
  sentence's vector from the model's own MiniLM encoder. A sentence takes every topic whose
  probability reaches the threshold; the probability is the topic's strength. Fitted on short
  descriptions in a customer's words written here plus 420 hand-labelled sentences of the
  outside chats (``model/evaluation/topics/``), by ``python -m churn_model.topics fit``; the
  weights ship as a module (``topic_weights.py``) so model.tar.gz's code/ carries them.
- :class:`KeywordTopics`: a word table, for comparison (``bench_topics.py``) and for models whose
  encoder is not MiniLM (the static table's space is another one).

Why these: ``model/evaluation/topics/bench_topics.py`` compares keywords, nearest description
prototypes and this linear classifier on the labelled sentences (nested cross-validation);
C and the threshold are chosen there. Figures: model/evaluation/topics/README.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.topics import TOPIC_IDS, CallTopics, summarise

Labels = list[list[tuple[str, float]]]
Embed = Callable[[list[str]], np.ndarray]

NONE = "none"
# The encoder's own sentence split (explain.split_sentences uses the same expression).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
LABELLED = Path(__file__).resolve().parents[1] / "evaluation" / "topics" / "sentences.jsonl"

# Written for this classifier in a customer's words; none is a generator phrase or an outside chat.
DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "coverage": (
        "My calls keep dropping and I have no signal at home.",
        "The internet is so slow and keeps going down.",
        "There is no coverage where I live and the data barely works.",
        "The network has been terrible, I can't use my phone at all.",
        "The speed is awful and the connection cuts out every day.",
        "I'm so angry about the coverage, it's useless.",
        "The reception is bad and I only get one bar.",
        "There's a dead zone all around my street.",
        "Roaming abroad never works and my data stops.",
        "Mobile data is painfully slow in the evenings.",
    ),
    "billing": (
        "My bill is way too high this month.",
        "You charged me a fee I never agreed to.",
        "It costs too much, I can't afford this price anymore.",
        "I was overcharged and I want a refund.",
        "Why did my monthly rate go up?",
        "The price keeps going up and I'm paying more than before.",
        "There are charges on my statement I don't recognise.",
        "Your plans are too expensive compared to what I get.",
    ),
    "service": (
        "Your customer service is terrible and nobody ever calls me back.",
        "I was on hold for an hour and the agent was rude.",
        "I have called five times and nobody fixed my problem.",
        "I can't get hold of anyone in support.",
        "The technician never showed up for the appointment.",
        "Every time I call I get transferred and have to explain it all again.",
        "Your staff promised to fix it and never did.",
    ),
    "device": (
        "My phone keeps freezing and the screen is broken.",
        "The modem you sent me doesn't work.",
        "I need a new handset, this one is too old.",
        "The router keeps restarting and shows an error.",
        "My SIM card stopped working.",
        "The battery on the phone you sold me dies in an hour.",
        "My handset won't turn on since the update.",
    ),
    "competitor": (
        "Another carrier offered me a much better deal.",
        "I'm thinking of switching to a different provider.",
        "The other company has a cheaper plan with more data.",
        "Verizon and T-Mobile give you more for less.",
        "I'm moving to another network that costs less.",
        "A competitor is offering me a free phone if I switch.",
    ),
    "cancel": (
        "I want to cancel my contract today.",
        "Please close my account, I'm leaving.",
        "How do I terminate my service?",
        "When does my contract end?",
        "I'm done, I'm cancelling everything.",
        "I want to port my number out and leave.",
    ),
    "plan": (
        "I would like to upgrade my plan.",
        "Can I add more data to my package?",
        "I want to change to the voice and text plan.",
        "What plans do you have with unlimited data?",
    ),
    "praise": (
        "I'm really happy with your service.",
        "You have been very helpful, thank you so much.",
        "TelCom has always been great to me.",
        "The agent was wonderful and fixed everything.",
    ),
    NONE: (
        "Yes, that's right.",
        "Okay, thank you, bye.",
        "My name is John and my number is 555 0100.",
        "Let me check, one moment please.",
        "I'm not sure what you mean.",
        "Can you repeat that?",
    ),
}

# C: 5-fold cross-validation on the labelled outside sentences (bench_topics.py; micro F1 is flat
# from 0.5 to 0.7). The threshold: the offer fitting the complaint on the 32 labelled chats
# (bench_offer_fit.py: 28/32 at 0.5 and 0.6, 26/32 at 0.7); the lower, as an offer needs the
# complaint heard.
DEFAULT_C = 8.0
DEFAULT_THRESHOLD = 0.5

KEYWORDS: dict[str, tuple[str, ...]] = {
    "coverage": ("signal", "coverage", "drop", "slow", "speed", "network", "connection", "down", "outage",
                 "reception", "internet"),
    "billing": ("bill", "charge", "fee", "price", "cost", "pay", "$", "refund", "afford", "expensive",
                "rate", "money", "cheaper"),
    "service": ("customer service", "support", "on hold", "hold time", "agent", "rude", "call back",
                "called back", "technician", "nobody"),
    "device": ("my phone", "handset", "modem", "router", "device", "screen", "sim card", "iphone",
               "samsung", "galaxy"),
    "competitor": ("verizon", "t-mobile", "at&t", "comcast", "another provider", "other provider",
                   "another carrier", "competitor", "switch", "other company", "better deal"),
    "cancel": ("cancel", "terminate", "close my account", "contract", "leave", "leaving"),
    "plan": ("upgrade", "plan", "package", "voice", "text", "data", "unlimited"),
    "praise": ("happy", "great", "love", "wonderful", "appreciate", "excellent", "best", "pleasure"),
}  # fmt: skip


def split_sentences(text: str | None) -> list[str]:
    """The customer's sentences as the encoder pools them; ``[]`` for no text."""
    if not text or not text.strip():
        return []
    return [p for p in _SENTENCE_END.split(text.strip()) if p]


def load_labelled(
    path: Path = LABELLED, *, leave_out_rows: Collection[int] = (), leave_out_texts: Sequence[str] = ()
) -> list[tuple[str, list[str]]]:
    """(sentence, topics) from the hand-labelled outside sentences, less those of the chats left
    out (by source row, or found in one of their texts): a benchmark measuring on those chats."""
    found = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            text = str(row["text"])
            if row.get("source_row") in leave_out_rows or any(text in t for t in leave_out_texts):
                continue
            found.append((text, [str(t) for t in row["topics"]]))
    return found


class KeywordTopics:
    """A sentence has a topic when it contains one of the topic's words (lower case)."""

    method = "keywords"

    def __init__(self, keywords: Mapping[str, Iterable[str]] = KEYWORDS) -> None:
        self.keywords = {t: tuple(words) for t, words in keywords.items()}

    def label(self, sentences: Sequence[str]) -> Labels:
        labels: Labels = []
        for sentence in sentences:
            lowered = sentence.lower()
            labels.append(
                [(t, 1.0) for t, words in self.keywords.items() if any(w in lowered for w in words)]
            )
        return labels

    def call_topics(self, text: str | None) -> CallTopics:
        sentences = split_sentences(text)
        return summarise(sentences, self.label(sentences), method=self.method)

    def of_sentences(self, sentences: Sequence[str], vectors: np.ndarray | None) -> CallTopics:
        return summarise(sentences, self.label(sentences), method=self.method)


class LinearTopics:
    """One logistic regression per topic on the encoder's unit sentence vector."""

    method = "linear-minilm"

    def __init__(self, embed: Embed, weights: Mapping[str, Any] | None = None) -> None:
        self.embed = embed
        weights = weights if weights is not None else stored_weights()
        self.topics = list(weights["topics"])
        self.coef = np.asarray(weights["coef"], dtype=np.float64)
        self.intercept = np.asarray(weights["intercept"], dtype=np.float64)
        self.threshold = float(weights["threshold"])

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        z = _unit(np.asarray(vectors, dtype=np.float64)) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def label_vectors(self, vectors: np.ndarray) -> Labels:
        labels: Labels = []
        for row in self.probabilities(vectors):
            found = [
                (t, round(float(p), 4)) for t, p in zip(self.topics, row, strict=True) if p >= self.threshold
            ]
            labels.append(sorted(found, key=lambda pair: -pair[1]))
        return labels

    def label(self, sentences: Sequence[str]) -> Labels:
        if not sentences:
            return []
        return self.label_vectors(np.asarray(self.embed(list(sentences))))

    def call_topics(self, text: str | None) -> CallTopics:
        sentences = split_sentences(text)
        return summarise(sentences, self.label(sentences), method=self.method)

    def of_sentences(self, sentences: Sequence[str], vectors: np.ndarray | None) -> CallTopics:
        """The call's topics from sentence vectors already computed (the explanation's)."""
        if vectors is None or len(vectors) != len(sentences):
            return self.call_topics(" ".join(sentences))
        labels = self.label_vectors(vectors) if len(sentences) else []
        return summarise(sentences, labels, method=self.method)


def training_set(
    labelled: Path = LABELLED, *, leave_out_rows: Collection[int] = (), leave_out_texts: Sequence[str] = ()
) -> list[tuple[str, list[str]]]:
    """The descriptions (one topic each; none for the small talk) and the labelled sentences."""
    pairs = [
        (text, [] if topic == NONE else [topic]) for topic, texts in DESCRIPTIONS.items() for text in texts
    ]
    return pairs + load_labelled(labelled, leave_out_rows=leave_out_rows, leave_out_texts=leave_out_texts)


def fit_weights(
    vectors: np.ndarray,
    labels: Sequence[Iterable[str]],
    *,
    c: float = DEFAULT_C,
    threshold: float = DEFAULT_THRESHOLD,
) -> dict[str, Any]:
    """One balanced logistic regression per topic on unit sentence vectors (deterministic)."""
    from sklearn.linear_model import LogisticRegression

    X = _unit(np.asarray(vectors, dtype=np.float64))
    sets = [set(found) for found in labels]
    coef, intercept = [], []
    for topic in TOPIC_IDS:
        y = np.asarray([topic in found for found in sets])
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(X, y)
        coef.append(model.coef_[0])
        intercept.append(float(model.intercept_[0]))
    return {
        "topics": list(TOPIC_IDS),
        "coef": np.asarray(coef),
        "intercept": np.asarray(intercept),
        "threshold": threshold,
        "c": c,
    }


def stored_weights() -> dict[str, Any]:
    from .topic_weights import WEIGHTS

    return WEIGHTS


def classifier_for(model: Any) -> LinearTopics | KeywordTopics:
    """:func:`for_model`, built once and kept on the model."""
    classifier = getattr(model, "_topics", None)
    if classifier is None:
        classifier = for_model(model)
        model._topics = classifier
    return classifier


def for_model(model: Any) -> LinearTopics | KeywordTopics:
    """The served classifier: the linear one on the model's own MiniLM sentence vectors (as the
    explanations compute them), or keywords for a model without a MiniLM text encoder."""
    encoder = _sentence_encoder(model)
    weights = stored_weights()
    if encoder is None or encoder.dimension != len(weights["coef"][0]):
        return KeywordTopics()
    from .explain import _screen_vectors

    return LinearTopics(lambda sentences: _screen_vectors(encoder, sentences), weights)


def _sentence_encoder(model: Any) -> Any:
    from .encoder import SentenceEncoder

    pipeline = getattr(model, "pipeline", None)
    steps = getattr(pipeline, "named_steps", {}) if pipeline is not None else {}
    features = steps.get("features")
    for _, transformer, _ in getattr(features, "transformers_", []):
        # The weights live in MiniLM's space; the static table's is another one.
        if isinstance(transformer, SentenceEncoder) and transformer.encoder == "minilm":
            return transformer
    return None


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)


def write_weights(weights: Mapping[str, Any], path: Path) -> None:
    """The fitted weights as a Python module (model.tar.gz's code/ carries modules only)."""
    body = {
        "topics": list(weights["topics"]),
        "threshold": float(weights["threshold"]),
        "c": float(weights["c"]),
        "intercept": [round(float(x), 5) for x in np.asarray(weights["intercept"])],
        "coef": [[round(float(x), 5) for x in row] for row in np.asarray(weights["coef"])],
    }
    path.write_text(
        '"""Topic classifier weights, generated by ``python -m churn_model.topics fit``: do not edit.\n\n'
        "One logistic regression per topic on all-MiniLM-L6-v2 sentence vectors (ONNX int8), fitted on\n"
        "churn_model.topics.DESCRIPTIONS and model/evaluation/topics/sentences.jsonl.\n"
        '"""\n\n'
        "# fmt: off\n"
        f"WEIGHTS = {json.dumps(body)}\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m churn_model.topics", description="fit the topic weights")
    parser.add_argument("command", choices=["fit"])
    parser.add_argument("--c", type=float, default=DEFAULT_C)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("topic_weights.py"))
    args = parser.parse_args(argv)
    from .encoder import SentenceEncoder
    from .explain import _screen_vectors

    encoder = SentenceEncoder(granularity="text")  # the served default on CPU: ONNX int8 MiniLM
    pairs = training_set()
    vectors = _screen_vectors(encoder, [text for text, _ in pairs])
    weights = fit_weights(vectors, [t for _, t in pairs], c=args.c, threshold=args.threshold)
    write_weights(weights, args.out)
    print(f"wrote {args.out}: {len(pairs)} sentences, C={args.c}, threshold={args.threshold}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
