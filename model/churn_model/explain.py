"""Why a record scored as it did: reasons from the profile and from the call's own sentences.

Two model-agnostic methods, so every classifier we train (forest, boosting, logistic regression)
is explained the same way and the reported effect is exactly what the model does:

- **profile** (``reference-replacement``): each profile feature in turn is set to the training
  "typical customer" (median of a numerical feature, mode of a categorical one, stored in
  ``model.json`` as ``reference``) and the record re-scored. The effect is the probability drop.
  A categorical feature is replaced as a whole, so its one-hot columns move together, and a
  numerical feature carries its missing-value indicator with it.
- **phrase** (``leave-one-sentence-out``): each customer sentence in turn is removed and the
  record re-scored; the effect is again the probability drop.

Cost. The plain score encodes the call's sentences once; so does an explanation. The sentence
encoder pools sentence vectors (weights rising over the call), so the text without sentence j is
re-pooled from the vectors already computed, with the weights that text would get: the result
is what encoding that shorter text gives, without encoding it again. Every variant of every
record (profile replacements and sentence removals) is then one batched classifier call.

Why not exact TreeSHAP: the classifier sees 384 embedding columns, so SHAP values would credit
embedding dimensions, not sentences; summing them per sentence is not defined. For the profile
columns alone, scikit-learn's boosting has no TreeSHAP of its own (it would take the ``shap``
package and its compiled code into the endpoint), and the replacement effect is what a retention
agent can act on: "if this customer had the typical number of service calls, the risk would be
this much lower".

Topics. Each phrase reason carries a topic, the nearest of a few topic descriptions by cosine
between the sentence's own vector (already computed) and the descriptions' vectors, embedded by
the same encoder when the explainer is built, or ``other`` below a floor. See model/README.md for
how this was chosen over a keyword table.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .encoder import SentenceEncoder
from .pipeline import to_matrix

if TYPE_CHECKING:
    from .artifact import ChurnModel

PROFILE = "profile"
PHRASE = "phrase"
PROFILE_METHOD = "reference-replacement"
PHRASE_METHOD = "leave-one-sentence-out"
DEFAULT_K = 3
# Whole-text encoders: sentences whose removal is measured exactly per call (see Explainer._screened).
SCREENED_PHRASES = 2
MAX_K = 20
REFERENCE_KEY = "reference"
# The encoder's own sentence split (encoder._SENTENCE_END): a phrase is exactly one pooled piece.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")

# Short descriptions in a customer's words; a sentence takes the nearest one's topic.
TOPIC_DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "price": (
        "It is too expensive and the price keeps going up.",
        "I pay too much every month for this plan.",
        "I can't afford this, I want something cheaper.",
    ),
    "billing": (
        "There is a charge on my bill that I don't understand.",
        "I was billed twice and charged a fee I never asked for.",
        "My statement and my autopay amount are wrong.",
    ),
    "network": (
        "My calls keep dropping and the signal is weak.",
        "There is no coverage at my house and the data is slow.",
        "The network is bad when I am roaming abroad.",
    ),
    "service": (
        "Customer service never solves my problem and keeps me on hold.",
        "Nobody called me back and the agents were rude.",
        "I have called so many times and nothing gets fixed.",
    ),
    "competitor": (
        "Another provider offered me a better deal.",
        "I am thinking of switching to a different company.",
        "A competitor has a cheaper plan with more data.",
    ),
    "contract": (
        "My contract is ending soon and I want to know my options.",
        "I want to cancel my contract and close my account.",
        "I would like to upgrade my phone or change my plan.",
    ),
}
OTHER_TOPIC = "other"
# Below this cosine a sentence is small talk for every topic (measured, model/README.md).
TOPIC_FLOOR = 0.30


@dataclass(frozen=True)
class Reason:
    """One contribution: how much the probability drops without it (``effect``)."""

    kind: str
    name: str
    value: Any
    effect: float
    method: str
    reference: Any = None
    sentence: int | None = None
    topic: str | None = None
    topic_similarity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "value": self.value,
            "effect": self.effect,
            "method": self.method,
        }
        if self.kind == PROFILE:
            data["reference"] = self.reference
        else:
            data["sentence"] = self.sentence
            data["topic"] = self.topic
            data["topic_similarity"] = self.topic_similarity
        return data


@dataclass(frozen=True)
class Explanation:
    probability: float
    reasons: list[Reason] = field(default_factory=list)  # every contribution, largest effect first
    # The call's sentences and their vectors (already computed here): churn_model.topics reads them.
    sentences: list[str] = field(default_factory=list)
    sentence_vectors: np.ndarray | None = None

    def top(self, k: int = DEFAULT_K) -> list[Reason]:
        """The ``k`` largest contributions that raise the risk (effect > 0)."""
        return [r for r in self.reasons if r.effect > 0][:k]


def typical_customer(
    records: Sequence[Mapping[str, Any]], numerical: Sequence[str], categorical: Sequence[str]
) -> dict[str, Any]:
    """The training reference: median of each numerical feature, mode of each categorical one
    (missing values ignored; ties go to the first in sorted order; ``None`` if never seen)."""
    reference: dict[str, Any] = {}
    for name in numerical:
        values = [float(r[name]) for r in records if r.get(name) is not None and not _nan(r[name])]
        reference[name] = float(np.median(values)) if values else None
    for name in categorical:
        counts = Counter(str(r[name]) for r in records if r.get(name) is not None)
        reference[name] = min(counts, key=lambda c: (-counts[c], c)) if counts else None
    return reference


def split_sentences(text: str | None) -> list[str]:
    """The phrases of a text, as the encoder pools them; ``[]`` for no text."""
    if not text or not text.strip():
        return []
    return [p for p in _SENTENCE_END.split(text.strip()) if p]


def without_sentence(text: str, index: int) -> str:
    """The text with one phrase removed: what leave-one-sentence-out scores."""
    parts = split_sentences(text)
    return " ".join(p for i, p in enumerate(parts) if i != index)


class Explainer:
    """Explains a loaded :class:`~churn_model.artifact.ChurnModel`; build once per model."""

    def __init__(self, model: ChurnModel) -> None:
        self.model = model
        self.spec = model.spec
        pipeline = model.pipeline
        self._features = pipeline.named_steps["features"]
        self._classifier = pipeline.named_steps["classifier"]
        self._positive = list(pipeline.classes_).index(1)
        self._width = sum(s.stop - s.start for s in self._features.output_indices_.values())
        self._blocks: list[tuple[str, Any, Any, slice]] = []
        for name, transformer, columns in self._features.transformers_:
            where = self._features.output_indices_[name]
            if transformer == "drop" or where.stop == where.start:
                continue
            self._blocks.append((name, transformer, columns, where))
        self.reference = self._reference(model)
        self._profile = [
            n for n in self.spec.numerical + self.spec.categorical if self.reference.get(n) is not None
        ]
        self._topics: tuple[list[str], np.ndarray] | None = None

    # --- the reference ------------------------------------------------------
    def _reference(self, model: ChurnModel) -> dict[str, Any]:
        stored = model.metadata.get(REFERENCE_KEY)
        if stored:
            return dict(stored)
        # Artifacts from before the reference was stored: the imputer's training means for the
        # numerical features; categorical features are then not explained.
        reference: dict[str, Any] = dict.fromkeys(self.spec.numerical + self.spec.categorical)
        for name, transformer, _, _ in self._blocks:
            if name == "numerical":
                for feature, value in zip(self.spec.numerical, transformer.statistics_, strict=True):
                    reference[feature] = None if _nan(value) else float(value)
        return reference

    # --- topics -------------------------------------------------------------
    def topic_vectors(self) -> tuple[list[str], np.ndarray]:
        """Each topic's mean description vector, unit length, from the model's own encoder."""
        if self._topics is None:
            encoder = self._text_encoder()
            names = list(TOPIC_DESCRIPTIONS)
            if encoder is None:
                self._topics = (names, np.zeros((len(names), 0)))
            else:
                texts = [t for n in names for t in TOPIC_DESCRIPTIONS[n]]
                vectors = np.asarray(encoder.embed(texts), dtype=np.float64)
                centroids = []
                start = 0
                for n in names:
                    stop = start + len(TOPIC_DESCRIPTIONS[n])
                    centroid = vectors[start:stop].mean(axis=0)
                    centroids.append(centroid / np.linalg.norm(centroid))
                    start = stop
                self._topics = (names, np.stack(centroids))
        return self._topics

    def topic_of(self, vector: np.ndarray) -> tuple[str, float]:
        names, centroids = self.topic_vectors()
        if centroids.shape[1] == 0:
            return OTHER_TOPIC, 0.0
        unit = vector / max(float(np.linalg.norm(vector)), 1e-12)
        similarity = centroids @ unit
        best = int(np.argmax(similarity))
        value = float(similarity[best])
        return (names[best] if value >= TOPIC_FLOOR else OTHER_TOPIC), round(value, 4)

    def _text_encoder(self) -> SentenceEncoder | None:
        for _, transformer, _, _ in self._blocks:
            if isinstance(transformer, SentenceEncoder):
                return transformer
        return None

    # --- explaining ---------------------------------------------------------
    def explain(self, records: Sequence[Mapping[str, Any]]) -> list[Explanation]:
        """Every record's probability (as a plain score gives it) and all its contributions."""
        if not records:
            return []
        base = to_matrix(records, self.spec)
        rows: list[np.ndarray] = [base]
        # (record, reason factory) for each variant row, in row order after the n base rows.
        variants: list[tuple[int, Reason]] = []
        for i in range(len(records)):
            for name in self._profile:
                col = self.spec.all.index(name)
                current = base[i, col]
                value = None if current is None or _nan(current) else current
                if value == self.reference[name]:
                    continue
                row = base[i].copy()
                row[col] = self.reference[name]
                rows.append(row[None, :])
                variants.append(
                    (i, Reason(PROFILE, name, value, 0.0, PROFILE_METHOD, reference=self.reference[name]))
                )
        profile_rows = len(variants)
        n = len(records)
        # Profile columns once for the records and their replacements; phrase rows reuse a record's.
        head = self._profile_part(np.concatenate(rows, axis=0))
        text_blocks, phrase_variants, per_record = self._text_blocks(records, head[:n])
        owners = np.asarray(list(range(n)) + [i for i, _ in variants], dtype=int)
        variants += phrase_variants
        X = np.concatenate([head, head[[i for i, _ in phrase_variants]]], axis=0)
        for name, transformer, _, where in self._blocks:
            if isinstance(transformer, SentenceEncoder):
                full, removed = text_blocks[name]
                X[: n + profile_rows, where] = full[owners]
                X[n + profile_rows :, where] = removed
        probabilities = self._classifier.predict_proba(X)[:, self._positive]

        reasons: list[list[Reason]] = [[] for _ in records]
        for (i, reason), p in zip(variants, probabilities[n:], strict=True):
            effect = float(probabilities[i] - p)
            reasons[i].append(Reason(**{**reason.__dict__, "effect": effect}))
        return [
            Explanation(float(probabilities[i]), sorted(reasons[i], key=lambda r: -r.effect), *per_record[i])
            for i in range(n)
        ]

    def _profile_part(self, matrix: np.ndarray) -> np.ndarray:
        """The classifier's input for ``matrix`` with the text blocks left at zero."""
        X = np.zeros((len(matrix), self._width), dtype=np.float64)
        for _, transformer, columns, where in self._blocks:
            if not isinstance(transformer, SentenceEncoder):
                X[:, where] = transformer.transform(matrix[:, columns])
        return X

    def _text_blocks(
        self, records: Sequence[Mapping[str, Any]], base: np.ndarray
    ) -> tuple[
        dict[str, tuple[np.ndarray, np.ndarray]],
        list[tuple[int, Reason]],
        list[tuple[list[str], np.ndarray | None]],
    ]:
        """Per text block: the full texts' vectors and the vector without each phrase explained;
        per record, the first text block's sentences and their vectors."""
        blocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        variants: list[tuple[int, Reason]] = []
        per_record: list[tuple[list[str], np.ndarray | None]] = [([], None) for _ in records]
        for name, encoder, column, where in self._blocks:
            if not isinstance(encoder, SentenceEncoder):
                continue
            field_name = self.spec.all[column]
            texts = [_text(r.get(field_name)) for r in records]
            sentences = [split_sentences(t) for t in texts]
            if encoder.granularity == "sentence":
                full, removed, sentence_vectors = self._pooled(encoder, sentences)
                chosen = [(i, j) for i, parts in enumerate(sentences) for j in range(len(parts))]
            else:
                full, removed, sentence_vectors, chosen = self._screened(
                    encoder, texts, sentences, base, where
                )
            flat_index = np.cumsum([0] + [len(parts) for parts in sentences])
            if not blocks:
                per_record = [
                    (sentences[i], np.asarray(sentence_vectors[flat_index[i] : flat_index[i + 1]]))
                    for i in range(len(records))
                ]
            for i, j in chosen:
                topic, similarity = self.topic_of(sentence_vectors[flat_index[i] + j])
                reason = Reason(
                    PHRASE,
                    field_name,
                    sentences[i][j],
                    0.0,
                    PHRASE_METHOD,
                    sentence=j,
                    topic=topic,
                    topic_similarity=similarity,
                )
                variants.append((i, reason))
            # The classifier sees what the encoder's transform returns (intent, axes or embedding).
            blocks[name] = (
                np.asarray(encoder.project(full), dtype=np.float64),
                np.asarray(encoder.project(removed), dtype=np.float64),
            )
        return blocks, variants, per_record

    def _screened(
        self,
        encoder: SentenceEncoder,
        texts: list[str],
        sentences: list[list[str]],
        base: np.ndarray,
        where: slice,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[int, int]]]:
        """A whole-text encoder: re-encoding the call once per sentence would cost a call per
        sentence, so a screen picks the candidates first. Each sentence is scored on its own in
        place of the call (its vector is needed for the topic anyway); the
        :data:`SCREENED_PHRASES` that score highest per call are removed and the shorter calls
        re-encoded, all in one batch. Their effects are exact; the other sentences get none."""
        flat = [s for parts in sentences for s in parts]
        owner = np.asarray([i for i, parts in enumerate(sentences) for _ in parts], dtype=int)
        full = encoder.embed(texts)  # exactly what the plain score encodes
        sentence_vectors = _screen_vectors(encoder, flat)
        chosen: list[tuple[int, int]] = []
        if flat:
            X = base[owner].copy()
            X[:, where] = encoder.project(sentence_vectors)
            alone = self._classifier.predict_proba(X)[:, self._positive]
            start = 0
            for i, parts in enumerate(sentences):
                own = alone[start : start + len(parts)]
                start += len(parts)
                best = np.argsort(-own, kind="stable")[:SCREENED_PHRASES]
                chosen += [(i, int(j)) for j in sorted(best)]
        shorter = [without_sentence(texts[i], j) for i, j in chosen]
        removed = encoder.embed(shorter) if shorter else np.zeros((0, full.shape[1]), dtype=np.float32)
        return full, removed, sentence_vectors, chosen

    def _pooled(
        self, encoder: SentenceEncoder, sentences: list[list[str]]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encode every sentence once; pool the full texts and every leave-one-out text from them."""
        flat = [s for parts in sentences for s in parts] + [""]
        owner_text = [i for i, parts in enumerate(sentences) for _ in parts] + [len(sentences)]
        pieces, piece_sentence, tokens = encoder._split(flat)
        # Owners by text, as the plain path passes them (the int8 path runs one pass per text).
        vectors = encoder._encode(pieces, np.asarray(owner_text)[piece_sentence]).astype(np.float64)
        per_sentence = np.bincount(piece_sentence, weights=tokens, minlength=len(flat))
        sentence_vectors = np.zeros((len(flat), vectors.shape[1]))
        np.add.at(
            sentence_vectors, piece_sentence, vectors * (tokens / per_sentence[piece_sentence])[:, None]
        )
        empty = sentence_vectors[-1]

        full = np.empty((len(sentences), vectors.shape[1]))
        removed = []
        start = 0
        for i, parts in enumerate(sentences):
            own = sentence_vectors[start : start + len(parts)]
            start += len(parts)
            full[i] = _pool(own) if len(parts) else _unit(empty)
            for j in range(len(parts)):
                rest = np.delete(own, j, axis=0)
                removed.append(_pool(rest) if len(rest) else _unit(empty))
        removed_array = np.stack(removed) if removed else np.zeros((0, vectors.shape[1]))
        return _float32(full), _float32(removed_array), sentence_vectors[:-1]


def _screen_vectors(encoder: SentenceEncoder, sentences: list[str]) -> np.ndarray:
    """Sentence vectors for the screen and the topics only, never for a reported effect: one
    padded batch where the backend batches (int8 batch-mates shift them a little, which a
    ranking and a topic tolerate), each sentence alone where it does not (ONNX)."""
    if not sentences:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    model = encoder.model
    if hasattr(model, "session") and hasattr(model, "tokenizer"):  # encoder_onnx.OnnxSentenceModel
        return _onnx_batch(model, sentences)
    vectors = model.encode(
        sentences, batch_size=len(sentences), show_progress_bar=False, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)


def _onnx_batch(model: Any, sentences: list[str]) -> np.ndarray:
    """One padded ONNX Runtime pass over all sentences, mean-pooled over the real tokens."""
    batch = model.tokenizer(
        sentences, padding=True, truncation=True, max_length=model.max_seq_length, return_tensors="np"
    )
    feed = {
        "input_ids": batch["input_ids"].astype(np.int64),
        "attention_mask": batch["attention_mask"].astype(np.int64),
        "token_type_ids": np.zeros_like(batch["input_ids"], dtype=np.int64),
    }
    inputs = {i.name for i in model.session.get_inputs()}
    hidden = model.session.run(None, {k: v for k, v in feed.items() if k in inputs})[0]
    mask = feed["attention_mask"][:, :, None].astype(np.float32)
    pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)
    return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def _pool(vectors: np.ndarray) -> np.ndarray:
    """The encoder's pooling: weights rising from 1 to 2 over the call, then unit length."""
    m = len(vectors)
    weights = 1.0 + np.arange(m) / max(m - 1, 1) if m > 1 else np.ones(1)
    return _unit((vectors * weights[:, None]).sum(axis=0) / weights.sum())


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


def _float32(vectors: np.ndarray) -> np.ndarray:
    # The plain path hands the classifier float32 vectors; so must the explanation.
    return vectors.astype(np.float32).astype(np.float64)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
