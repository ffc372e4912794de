"""Every encoder backend side by side, against the seed's loop, in one run.

    python model/benchmarks/bench_encoder.py --rows 300 --seed-loop-rows 100

On the same texts (customer side of generated calls), for each backend:
- texts/s over all rows, and the ratio to the seed's loop (fp32, whole text, one ``encode()`` per row);
- one-text latency (median ms over ``--single`` texts);
- cosine to PyTorch fp32 (mean, min) and alone-vs-in-a-batch (max abs difference of a vector);
- the test AUC of a text-only logistic regression on each backend's vectors.
Also ONNX int8 in length-bucketed padded batches (the alternative to one pass per text).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _common import timer


def onnx_bucketed(model, texts: list[str], batch: int) -> np.ndarray:
    """ONNX int8 in batches of neighbours by token length (padded): the alternative measured."""
    encodings = model._bare.encode_batch(texts)
    order = np.argsort([len(e.ids) for e in encodings], kind="stable")
    out = np.empty((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    for start in range(0, len(order), batch):
        rows = order[start : start + batch]
        width = max(len(encodings[i].ids) for i in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for k, i in enumerate(rows):
            ids[k, : len(encodings[i].ids)] = encodings[i].ids
            mask[k, : len(encodings[i].ids)] = 1
        hidden = model.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids}
        )[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        out[rows] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=300, help="texts to embed (default 300)")
    parser.add_argument("--seed-loop-rows", type=int, default=100, help="texts for the seed's loop")
    parser.add_argument("--single", type=int, default=40, help="texts for the one-text latency")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--granularity", choices=("text", "sentence"), default="text")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-static", action="store_true", help="skip the static tier (distils once)")
    parser.add_argument("--no-bf16", action="store_true", help="skip PyTorch bf16 (never a default)")
    parser.add_argument("--drift-rows", type=int, default=64, help="texts alone vs in one batch")
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
        f"p10 {np.percentile(words, 10):.0f}, p90 {np.percentile(words, 90):.0f}; granularity {args.granularity}"
    )

    def make(**kwargs) -> SentenceEncoder:
        return SentenceEncoder(
            device="cpu", batch_size=args.batch_size, granularity=args.granularity, **kwargs
        )

    backends = {
        "torch fp32 (reference)": make(backend="torch", precision="fp32"),
        "torch int8, one pass per text": make(backend="torch", precision="int8"),
        "onnx int8, one pass per piece (default)": make(backend="onnx", precision="int8"),
    }
    if cpu_has_native_bf16() and not args.no_bf16:
        backends["torch bf16, batched"] = make(backend="torch", precision="bf16")
    if not args.no_static:
        backends["static (model2vec from MiniLM)"] = make(encoder="static")
    for encoder in backends.values():
        encoder.embed(texts[:4])  # build (once per machine), load and warm up outside the timings

    seed_model = load_sentence_model(packaged_model_path(), "cpu", "fp32")
    loop_texts = texts[: args.seed_loop_rows]
    with timer() as loop:
        for text in loop_texts:
            seed_model.encode(text)
    seed_rate = len(loop_texts) / loop["s"]
    print(f"\nthe seed's loop (torch fp32, whole text, one encode() per row): {seed_rate:.1f} texts/s\n")

    vectors, results = {}, {}
    for name, encoder in backends.items():
        with timer() as took:
            vectors[name] = encoder.embed(texts)
        single = []
        for text in texts[: args.single]:
            started = time.perf_counter()
            encoder.embed([text])
            single.append(time.perf_counter() - started)
        alone = np.vstack([encoder.embed([t]) for t in texts[: args.drift_rows]])
        batched = encoder.embed(texts[: args.drift_rows])
        results[name] = {
            "rate": len(texts) / took["s"],
            "single_ms": 1000 * statistics.median(single),
            "batch_drift": float(np.abs(alone - batched).max()),
        }

    onnx = backends["onnx int8, one pass per piece (default)"]
    if args.granularity == "text":
        with timer() as took:
            bucketed = onnx_bucketed(onnx.model, texts, args.batch_size)
        alone = vectors["onnx int8, one pass per piece (default)"]
        vectors["onnx int8, length-bucketed batches"] = bucketed
        results["onnx int8, length-bucketed batches"] = {
            "rate": len(texts) / took["s"],
            "single_ms": float("nan"),
            "batch_drift": float(np.abs(alone - bucketed).max()),
        }

    reference = vectors["torch fp32 (reference)"]
    cut = int(len(texts) * 0.7)
    print(
        "| backend | texts/s | × seed loop | one text (ms) | cosine to fp32 mean / min | alone vs batch (max abs) | text AUC |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, result in results.items():
        v = vectors[name]
        if v.shape[1] == reference.shape[1]:
            cosine = (v * reference).sum(axis=1)
            cosine_text = f"{cosine.mean():.4f} / {cosine.min():.4f}"
        else:
            cosine_text = "– (other space)"
        auc = float("nan")
        if len(set(labels[:cut])) == 2 and len(set(labels[cut:])) == 2:
            clf = LogisticRegression(C=1.0, max_iter=2000).fit(v[:cut], labels[:cut])
            auc = roc_auc_score(labels[cut:], clf.predict_proba(v[cut:])[:, 1])
        print(
            f"| {name} | {result['rate']:.1f} | {result['rate'] / seed_rate:.2f}x | {result['single_ms']:.1f} | "
            f"{cosine_text} | {result['batch_drift']:.1e} | {auc:.3f} |"
        )


if __name__ == "__main__":
    main()
