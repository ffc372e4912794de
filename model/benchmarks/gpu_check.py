"""The GPU check (issue 12 §6): run it whenever a CUDA machine is at hand.

    python model/benchmarks/gpu_check.py [--model artifacts/model] [--rows 1024] [--out gpu.json]

Prints, in one run:
- ``model_fn`` on CUDA (with ``--model``): load seconds, the encoder's device, one prediction;
- encoder throughput (texts/s) at batch 1, 32 and 256, fp16 and fp32 (PyTorch, whole texts);
- cosine of fp16 to fp32 vectors (mean, min);
- a text alone vs in a batch (max abs vector difference; with ``--model``, the score difference
  of each of 64 records alone vs in one request).
Without CUDA it says so and exits 0: nothing is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=None, help="a trained model directory, for model_fn")
    parser.add_argument("--rows", type=int, default=1024, help="texts for the batched throughput")
    parser.add_argument("--single", type=int, default=100, help="texts for batch 1")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device here; nothing measured (model/README.md: GPU figures still to be measured)"
        )
        return 0

    from churn_model.data import generate_rows
    from churn_model.encoder import SentenceEncoder

    figures: dict[str, object] = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    texts = [r["text"] for r in generate_rows(args.rows, seed=args.seed)]

    if args.model:
        from churn_model.serving.handlers import model_fn

        started = time.perf_counter()
        model = model_fn(args.model)
        figures["model_fn_s"] = time.perf_counter() - started
        loaded = getattr(model, "pipeline", None)
        if loaded is not None:
            from churn_model.pipeline import encoders

            figures["model_fn_encoder"] = sorted(
                {
                    f"{e.resolved_backend} {e.resolved_precision} on {e.resolved_device}"
                    for e in encoders(loaded)
                }
            )
        batch = generate_rows(64, seed=args.seed + 1)
        together = np.asarray(model.predict_proba(batch))
        alone = np.asarray([model.predict_proba([record])[0] for record in batch])
        figures["model_score_alone_vs_batch_max_abs"] = float(np.abs(together - alone).max())

    vectors = {}
    for precision in ("fp32", "fp16"):
        encoder = SentenceEncoder(device="cuda", backend="torch", precision=precision, granularity="text")
        encoder.embed(texts[:8])  # load and warm up
        for size in (1, 32, 256):
            encoder.batch_size = size
            sample = texts[: args.single] if size == 1 else texts
            torch.cuda.synchronize()
            started = time.perf_counter()
            if size == 1:
                for text in sample:
                    encoder.embed([text])
            else:
                out = encoder.embed(sample)
            torch.cuda.synchronize()
            figures[f"{precision}_batch{size}_texts_per_s"] = len(sample) / (time.perf_counter() - started)
            if size == 256:
                vectors[precision] = out
        single = []
        for text in texts[:50]:
            started = time.perf_counter()
            encoder.embed([text])
            torch.cuda.synchronize()
            single.append(time.perf_counter() - started)
        figures[f"{precision}_single_ms_p50"] = 1000 * statistics.median(single)
        encoder.batch_size = 64
        alone = np.vstack([encoder.embed([t]) for t in texts[:64]])
        figures[f"{precision}_alone_vs_batch_max_abs"] = float(
            np.abs(alone - encoder.embed(texts[:64])).max()
        )

    cosine = (vectors["fp16"] * vectors["fp32"]).sum(axis=1)
    figures["fp16_cosine_to_fp32_mean"] = float(cosine.mean())
    figures["fp16_cosine_to_fp32_min"] = float(cosine.min())

    for key, value in figures.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
