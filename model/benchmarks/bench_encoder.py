"""Encoder throughput and int8 fidelity.

    python model/benchmarks/bench_encoder.py --rows 2000 --seed-loop-rows 200

Prints, in one run on the same texts (customer side of generated calls):
- texts/s of the seed's one-row-at-a-time fp32 loop, of batched fp32 and batched
  dynamic int8, and the ratios;
- one-text latency (ms) for fp32 and int8;
- int8's cosine similarity to fp32, and between batch sizes 1 and 64;
- the test AUC of a text-only logistic regression on fp32 vs int8 vectors.
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
    from churn_model.encoder import SentenceEncoder, load_sentence_model, packaged_model_path
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

    fp32 = SentenceEncoder(device="cpu", precision="fp32", batch_size=args.batch_size)
    int8 = SentenceEncoder(device="cpu", precision="int8", batch_size=args.batch_size)
    fp32.embed(texts[:8])
    int8.embed(texts[:8])

    # The seed: one encode() call per row, full precision, the whole text.
    seed_model = load_sentence_model(packaged_model_path(), "cpu", False)
    loop_texts = texts[: args.seed_loop_rows]
    with timer() as loop:
        for text in loop_texts:
            seed_model.encode(text)
    seed_rate = len(loop_texts) / loop["s"]

    with timer() as t_fp32:
        v_fp32 = fp32.embed(texts)
    with timer() as t_int8:
        v_int8 = int8.embed(texts)
    whole = SentenceEncoder(device="cpu", precision="int8", batch_size=args.batch_size, granularity="text")
    whole.embed(texts[:8])
    with timer() as t_whole:
        whole.embed(texts)
    rate_fp32, rate_int8 = len(texts) / t_fp32["s"], len(texts) / t_int8["s"]

    def one_text_ms(encoder: SentenceEncoder) -> float:
        times = []
        for text in loop_texts[:100]:
            started = time.perf_counter()
            encoder.embed([text])
            times.append(time.perf_counter() - started)
        return 1000 * statistics.median(times)

    ms_fp32, ms_int8 = one_text_ms(fp32), one_text_ms(int8)
    single_int8 = np.stack([int8.embed([t])[0] for t in texts[:200]])

    cosine = (v_fp32 * v_int8).sum(axis=1)
    batch_cosine = (single_int8 * v_int8[:200]).sum(axis=1)

    print(f"seed loop (fp32, one row per encode): {seed_rate:7.1f} texts/s")
    print(
        f"batched fp32 (batch {args.batch_size}):            {rate_fp32:7.1f} texts/s  = {rate_fp32 / seed_rate:.1f}x seed"
    )
    print(
        f"batched int8 (batch {args.batch_size}):            {rate_int8:7.1f} texts/s  = {rate_int8 / seed_rate:.1f}x seed, "
        f"{rate_int8 / rate_fp32:.2f}x fp32"
    )
    print(
        f"batched int8, whole text as one piece (--text-granularity text): {len(texts) / t_whole['s']:7.1f} texts/s"
    )
    print(f"one text: fp32 {ms_fp32:.1f} ms, int8 {ms_int8:.1f} ms (median of {min(100, len(loop_texts))})")
    print(
        f"int8 vs fp32 cosine: mean {cosine.mean():.4f}, p1 {np.percentile(cosine, 1):.4f}, min {cosine.min():.4f}"
    )
    print(
        f"int8 batch 1 vs batch {args.batch_size} cosine: mean {batch_cosine.mean():.4f}, min {batch_cosine.min():.4f}"
    )

    cut = int(len(texts) * 0.7)
    if len(set(labels[:cut])) == 2 and len(set(labels[cut:])) == 2:
        aucs = {}
        for name, vectors in (("fp32", v_fp32), ("int8", v_int8)):
            clf = LogisticRegression(C=1.0, max_iter=2000).fit(vectors[:cut], labels[:cut])
            aucs[name] = roc_auc_score(labels[cut:], clf.predict_proba(vectors[cut:])[:, 1])
        print(
            f"text-only logreg test AUC ({len(texts) - cut} rows): fp32 {aucs['fp32']:.4f}, "
            f"int8 {aucs['int8']:.4f}, change {aucs['int8'] - aucs['fp32']:+.4f}"
        )


if __name__ == "__main__":
    main()
