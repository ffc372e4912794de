"""Encoder throughput and the fidelity of bf16 and int8.

    python model/benchmarks/bench_encoder.py --rows 2000 --seed-loop-rows 200

Prints, in one run on the same texts (customer side of generated calls):
- texts/s of the seed's one-row-at-a-time fp32 loop and of our encoder in fp32,
  dynamic int8 and (where the CPU has it natively) bf16, with the ratios;
- one-text latency (ms) for each precision;
- each reduced precision's cosine similarity to fp32, and of a text alone vs in a batch;
- the test AUC of a text-only logistic regression on each precision's vectors.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000, help="texts to embed batched (default 2000)")
    parser.add_argument("--seed-loop-rows", type=int, default=200, help="texts for the one-at-a-time loop")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    from churn_model.data import generate_rows
    from churn_model.encoder import (
        SentenceEncoder,
        cpu_has_native_bf16,
        load_sentence_model,
        packaged_model_path,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    rows = generate_rows(args.rows, seed=args.seed)
    texts = [r["text"] for r in rows]
    labels = np.array([r["y"] for r in rows])
    words = [len(t.split()) for t in texts]
    print(
        f"{len(texts)} texts, words per text: median {statistics.median(words):.0f}, "
        f"p10 {np.percentile(words, 10):.0f}, p90 {np.percentile(words, 90):.0f}"
    )

    precisions = ["fp32", "int8"] + (["bf16"] if cpu_has_native_bf16() else [])
    encoders = {p: SentenceEncoder(device="cpu", precision=p, batch_size=args.batch_size) for p in precisions}
    for encoder in encoders.values():
        encoder.embed(texts[:8])  # load and warm up outside the timings

    # The seed: one encode() call per row, full precision, the whole text.
    seed_model = load_sentence_model(packaged_model_path(), "cpu", "fp32")
    loop_texts = texts[: args.seed_loop_rows]
    with timer() as loop:
        for text in loop_texts:
            seed_model.encode(text)
    seed_rate = len(loop_texts) / loop["s"]
    print(f"seed loop (fp32, whole text, one row per encode): {seed_rate:7.1f} texts/s")

    vectors, rates = {}, {}
    for name, encoder in encoders.items():
        with timer() as took:
            vectors[name] = encoder.embed(texts)
        rates[name] = len(texts) / took["s"]
        print(
            f"{name:4} (sentences pooled, batch {args.batch_size}): {rates[name]:7.1f} texts/s"
            f" = {rates[name] / seed_rate:.2f}x the seed loop, {rates[name] / rates['fp32']:.2f}x fp32"
        )

    def one_text_ms(encoder: SentenceEncoder) -> float:
        times = []
        for text in loop_texts[:100]:
            started = time.perf_counter()
            encoder.embed([text])
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    print(
        "one text, median ms: "
        + ", ".join(f"{name} {one_text_ms(encoder):.1f}" for name, encoder in encoders.items())
    )
    for name in precisions[1:]:
        cosine = (vectors["fp32"] * vectors[name]).sum(axis=1)
        alone = np.stack([encoders[name].embed([t])[0] for t in texts[:100]])
        batch_cosine = (alone * vectors[name][:100]).sum(axis=1)
        print(
            f"{name} vs fp32 cosine: mean {cosine.mean():.5f}, p1 {np.percentile(cosine, 1):.5f}, "
            f"min {cosine.min():.5f}; alone vs in a batch: min {batch_cosine.min():.6f}"
        )

    cut = int(len(texts) * 0.7)
    if len(set(labels[:cut])) == 2 and len(set(labels[cut:])) == 2:
        aucs = {}
        for name, v in vectors.items():
            clf = LogisticRegression(C=1.0, max_iter=2000).fit(v[:cut], labels[:cut])
            aucs[name] = roc_auc_score(labels[cut:], clf.predict_proba(v[cut:])[:, 1])
        print(
            f"text-only logreg test AUC ({len(texts) - cut} rows): "
            + ", ".join(f"{name} {auc:.4f} ({auc - aucs['fp32']:+.4f})" for name, auc in aucs.items())
        )


if __name__ == "__main__":
    main()
