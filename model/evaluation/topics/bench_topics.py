"""Topic accuracy on hand-labelled outside sentences: keywords, embedding prototypes, linear.

    python model/evaluation/topics/bench_topics.py [--folds 5] [--seed 0]

Reads ``sentences.jsonl`` (420 customer sentences from the outside chats, labelled by hand; see
this folder's README). Prints per-topic precision / recall / F1, micro F1 and exact-set accuracy
for:

- ``keywords``: churn_model.topics.KeywordTopics;
- ``descriptions``: nearest hand-written descriptions only (k=3, floor 0.30, margin 0.04;
  nothing learnt from the labels);
- nearest prototypes: descriptions plus the labelled sentences of the training folds; k, floor
  and margin picked on the training folds by leave-one-out, scored on the held-out fold;
- linear (the served classifier, churn_model.topics.LinearTopics): fitted on descriptions plus
  the training folds; C and the threshold picked by inner cross-validation on the training folds
  (nested), scored on the held-out fold;

and the cost: sentence vectors for the topics against the whole-text vector a plain score
computes, per call, on the 32 labelled chats (``chats.jsonl``), same encoder (the model's ONNX int8
MiniLM on CPU).
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # model/, for churn_model when run as a script

from churn_contracts.topics import TOPIC_IDS  # noqa: E402
from churn_model.topics import (  # noqa: E402
    DESCRIPTIONS,
    NONE,
    KeywordTopics,
    LinearTopics,
    fit_weights,
    load_labelled,
    split_sentences,
    stored_weights,
)

GRID_K = (1, 3, 5)
GRID_FLOOR = (0.20, 0.25, 0.30, 0.35, 0.40)
GRID_MARGIN = (0.0, 0.02, 0.04, 0.06, 0.10)
GRID_C = (0.5, 2.0, 8.0, 32.0)
GRID_THRESHOLD = (0.4, 0.5, 0.6, 0.7, 0.8)


def decide(scores: np.ndarray, classes: list[str], floor: float, margin: float) -> list[set[str]]:
    """Prototype rule: topics at least ``floor`` and within ``margin`` of the best, unless the
    no-topic prototypes are nearer than every topic."""
    none = classes.index(NONE)
    topic_columns = [c for c in range(len(classes)) if c != none]
    found = []
    for row in scores:
        best = max(row[c] for c in topic_columns)
        if row[none] >= best:
            found.append(set())
        else:
            found.append({classes[c] for c in topic_columns if row[c] >= floor and row[c] >= best - margin})
    return found


def metrics(truth: list[set[str]], predicted: list[set[str]]) -> dict[str, object]:
    per_topic = {}
    tp_all = fp_all = fn_all = 0
    for topic in TOPIC_IDS:
        tp = sum(topic in t and topic in p for t, p in zip(truth, predicted, strict=True))
        fp = sum(topic not in t and topic in p for t, p in zip(truth, predicted, strict=True))
        fn = sum(topic in t and topic not in p for t, p in zip(truth, predicted, strict=True))
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_topic[topic] = (precision, recall, f1, tp + fn)
    precision = tp_all / (tp_all + fp_all) if tp_all + fp_all else 0.0
    recall = tp_all / (tp_all + fn_all) if tp_all + fn_all else 0.0
    micro = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    exact = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
    return {
        "per_topic": per_topic,
        "micro_f1": micro,
        "precision": precision,
        "recall": recall,
        "exact": exact,
    }


def micro_f1(truth: list[set[str]], predicted: list[set[str]]) -> float:
    return float(metrics(truth, predicted)["micro_f1"])  # type: ignore[arg-type]


class Fixed:
    """Prototype vectors already embedded (the grid re-scores without re-embedding)."""

    def __init__(self, vectors: np.ndarray, topics: list[str], k: int) -> None:
        self.classes = [*TOPIC_IDS, NONE]
        self.k = k
        self.vectors = vectors
        self.owner = np.asarray([self.classes.index(t) for t in topics], dtype=int)

    def scores(self, queries: np.ndarray, exclude: np.ndarray | None = None) -> np.ndarray:
        similarity = queries @ self.vectors.T
        if exclude is not None:  # leave-one-out: a sentence is not its own prototype
            similarity[exclude[:, 0], exclude[:, 1]] = -2.0
        out = np.full((len(queries), len(self.classes)), -1.0)
        for c in range(len(self.classes)):
            own = similarity[:, self.owner == c]
            if own.shape[1]:
                k = min(self.k, own.shape[1])
                out[:, c] = np.sort(own, axis=1)[:, -k:].mean(axis=1)
        return out


def prototypes_for(
    description_vectors: np.ndarray,
    description_topics: list[str],
    vectors: np.ndarray,
    labels: list[list[str]],
    rows: np.ndarray,
) -> tuple[np.ndarray, list[str], list[int]]:
    """Descriptions plus the labelled sentences ``rows`` (one prototype per label, or NONE)."""
    extra_vectors, extra_topics, owner_row = [], [], []
    for i in rows:
        for topic in labels[i] or [NONE]:
            extra_vectors.append(vectors[i])
            extra_topics.append(topic)
            owner_row.append(int(i))
    stacked = np.concatenate([description_vectors, np.asarray(extra_vectors)], axis=0)
    return stacked, description_topics + extra_topics, [-1] * len(description_topics) + owner_row


def as_sets(labels: list[list[tuple[str, float]]]) -> list[set[str]]:
    return [{t for t, _ in found} for found in labels]


def linear_predict(weights: dict[str, object], vectors: np.ndarray, threshold: float) -> list[set[str]]:
    classifier = LinearTopics(lambda s: np.zeros((0, 0)), {**weights, "threshold": threshold})
    return as_sets(classifier.label_vectors(vectors))


def select_linear(
    vectors: np.ndarray,
    labels: list[list[str]],
    description_vectors: np.ndarray,
    description_labels: list[list[str]],
    folds: int,
    seed: int,
) -> dict[tuple[float, float], float]:
    """Micro F1 of every (C, threshold) by plain k-fold CV over every labelled sentence."""
    n = len(labels)
    order = np.random.default_rng(seed).permutation(n)
    table: dict[tuple[float, float], float] = {}
    for c in GRID_C:
        by_threshold: dict[float, list[set[str]]] = {t: [set() for _ in range(n)] for t in GRID_THRESHOLD}
        for f in range(folds):
            test = order[f::folds]
            train = order[np.isin(order, test, invert=True)]
            weights = fit_weights(
                np.concatenate([description_vectors, vectors[train]]),
                description_labels + [labels[i] for i in train],
                c=c,
            )
            for t in GRID_THRESHOLD:
                for i, p in zip(test, linear_predict(weights, vectors[test], t), strict=True):
                    by_threshold[t][int(i)] = p
        for t in GRID_THRESHOLD:
            table[(c, t)] = micro_f1([set(x) for x in labels], by_threshold[t])
    return table


def linear_nested_cv(
    vectors: np.ndarray,
    labels: list[list[str]],
    description_vectors: np.ndarray,
    description_labels: list[list[str]],
    folds: int,
    seed: int,
) -> tuple[list[set[str]], list[tuple[float, float]]]:
    """Outer folds score; inner folds (on the outer training part) pick C and the threshold.
    The descriptions are always in the training part (they are the classifier's, not data)."""
    n = len(labels)
    order = np.random.default_rng(seed).permutation(n)
    predicted: list[set[str]] = [set() for _ in range(n)]
    chosen = []
    for f in range(folds):
        test = order[f::folds]
        train = order[np.isin(order, test, invert=True)]
        best = None
        for c in GRID_C:
            inner: list[set[str]] = [set() for _ in range(n)]
            by_threshold: dict[float, list[set[str]]] = {t: [set() for _ in range(n)] for t in GRID_THRESHOLD}
            for g in range(folds - 1):
                held = train[g :: folds - 1]
                fit_rows = train[np.isin(train, held, invert=True)]
                weights = fit_weights(
                    np.concatenate([description_vectors, vectors[fit_rows]]),
                    description_labels + [labels[i] for i in fit_rows],
                    c=c,
                )
                for t in GRID_THRESHOLD:
                    for i, p in zip(held, linear_predict(weights, vectors[held], t), strict=True):
                        by_threshold[t][int(i)] = p
            del inner
            for t in GRID_THRESHOLD:
                score = micro_f1([set(labels[i]) for i in train], [by_threshold[t][int(i)] for i in train])
                if best is None or score > best[0]:
                    best = (score, c, t)
        assert best is not None
        _, c, t = best
        chosen.append((c, t))
        weights = fit_weights(
            np.concatenate([description_vectors, vectors[train]]),
            description_labels + [labels[i] for i in train],
            c=c,
        )
        for i, p in zip(test, linear_predict(weights, vectors[test], t), strict=True):
            predicted[int(i)] = p
    return predicted, chosen


def nested_cv(
    vectors: np.ndarray,
    labels: list[list[str]],
    description_vectors: np.ndarray,
    description_topics: list[str],
    folds: int,
    seed: int,
) -> tuple[list[set[str]], list[tuple[int, float, float]]]:
    n = len(labels)
    order = np.random.default_rng(seed).permutation(n)
    predicted: list[set[str]] = [set() for _ in range(n)]
    chosen = []
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        proto, topics, owner_row = prototypes_for(
            description_vectors, description_topics, vectors, labels, train
        )
        owner_row_arr = np.asarray(owner_row)
        # Leave-one-out on the training folds: mask each training sentence's own prototypes.
        position = {int(r): i for i, r in enumerate(train)}
        mask = np.asarray([(position[r], j) for j, r in enumerate(owner_row_arr) if r >= 0], dtype=int)
        truth_train = [set(labels[i]) for i in train]
        best = None
        for k in GRID_K:
            fixed = Fixed(proto, topics, k)
            train_scores = fixed.scores(vectors[train], exclude=mask)
            for floor, margin in itertools.product(GRID_FLOOR, GRID_MARGIN):
                got = decide(train_scores, fixed.classes, floor, margin)
                score = micro_f1(truth_train, got)
                if best is None or score > best[0]:
                    best = (score, k, floor, margin)
        assert best is not None
        _, k, floor, margin = best
        chosen.append((k, floor, margin))
        fixed = Fixed(proto, topics, k)
        got = decide(fixed.scores(vectors[test]), fixed.classes, floor, margin)
        for i, p in zip(test, got, strict=True):
            predicted[int(i)] = p
    return predicted, chosen


def print_metrics(name: str, truth: list[set[str]], predicted: list[set[str]]) -> None:
    m = metrics(truth, predicted)
    print(f"\n## {name}")
    print(f"{'topic':<12} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>8}")
    for topic, (p, r, f1, support) in m["per_topic"].items():  # type: ignore[union-attr]
        print(f"{topic:<12} {p:9.2f} {r:7.2f} {f1:6.2f} {support:8d}")
    print(
        f"overall: micro precision {m['precision']:.3f}, micro recall {m['recall']:.3f}, "
        f"micro F1 {m['micro_f1']:.3f}, exact topic set {m['exact']:.3f} ({len(truth)} sentences)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from churn_model.encoder import SentenceEncoder
    from churn_model.explain import _screen_vectors

    labelled = load_labelled(HERE / "sentences.jsonl")
    texts = [t for t, _ in labelled]
    labels = [topics for _, topics in labelled]
    truth = [set(topics) for topics in labels]
    print(
        f"{len(texts)} labelled sentences; topic counts: "
        + ", ".join(f"{t} {sum(t in s for s in truth)}" for t in TOPIC_IDS)
        + f", none {sum(not s for s in truth)}"
    )

    print_metrics("keywords", truth, as_sets(KeywordTopics().label(texts)))

    encoder = SentenceEncoder(granularity="text")  # the served default: ONNX int8 MiniLM on CPU

    def embed(sentences: list[str]) -> np.ndarray:
        return _screen_vectors(encoder, sentences)

    vectors = embed(texts).astype(np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    description_pairs = [(t, topic) for topic, ts in DESCRIPTIONS.items() for t in ts]
    description_vectors = embed([t for t, _ in description_pairs]).astype(np.float64)
    description_vectors /= np.linalg.norm(description_vectors, axis=1, keepdims=True)
    description_topics = [topic for _, topic in description_pairs]

    only = Fixed(description_vectors, description_topics, 3)
    print_metrics(
        "nearest descriptions only (k=3, floor 0.30, margin 0.04; nothing learnt from the labels)",
        truth,
        decide(only.scores(vectors), only.classes, 0.30, 0.04),
    )
    predicted, chosen = nested_cv(
        vectors, labels, description_vectors, description_topics, args.folds, args.seed
    )
    print_metrics(
        f"nearest prototypes (descriptions + labelled), nested {args.folds}-fold CV", truth, predicted
    )
    print("picked per fold (k, floor, margin): " + "; ".join(map(str, chosen)))
    description_labels = [[] if t == NONE else [t] for t in description_topics]
    predicted, picked = linear_nested_cv(
        vectors, labels, description_vectors, description_labels, args.folds, args.seed
    )
    print_metrics(f"linear (descriptions + labelled), nested {args.folds}-fold CV", truth, predicted)
    print("picked per fold (C, threshold): " + "; ".join(map(str, picked)))
    table = select_linear(vectors, labels, description_vectors, description_labels, args.folds, args.seed)
    (c, t), score = max(table.items(), key=lambda kv: kv[1])
    served = stored_weights()
    here = table.get((float(served["c"]), float(served["threshold"])))
    print(f"{args.folds}-fold CV on every sentence: best C={c}, threshold={t} (micro F1 {score:.3f})")
    print(
        f"served: C={served['c']}, threshold={served['threshold']}, CV micro F1 "
        + (f"{here:.3f}" if here is not None else "(off the grid)")
        + " (the threshold is the offer-fit one: bench_offer_fit.py); in-sample figures are not quoted"
    )

    chats = [__import__("json").loads(line) for line in (HERE / "chats.jsonl").read_text().splitlines()]
    whole, topics_cost = [], []
    for chat in chats:
        sentences = split_sentences(chat["text"])
        started = time.perf_counter()
        encoder.embed([chat["text"]])
        whole.append(time.perf_counter() - started)
        started = time.perf_counter()
        embed(sentences)
        topics_cost.append(time.perf_counter() - started)
    w, t = statistics.median(whole), statistics.median(topics_cost)
    print(
        f"\ncost per call ({len(chats)} chats, median): whole-text vector {w * 1000:.1f} ms, "
        f"sentence vectors for topics {t * 1000:.1f} ms ({t / w:.2f}x the plain score's encoding)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
