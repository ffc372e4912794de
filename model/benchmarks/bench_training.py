"""End-to-end training time: generate, read, encode, fit, evaluate, save.

    python model/benchmarks/bench_training.py --rows 50000      # 45,000 train + 5,000 test

Runs the training command's code path twice into a fresh embedding cache: cold
(every text encoded) and warm (every embedding cached, as in a retrain with
other hyperparameters). Goals on the 2-core machine: cold <= 5 min, warm <= 60 s.
Extra arguments are passed to the training command (e.g. --classifier hgb).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _common import generated_data, timer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000, help="train + test rows (10 %% test)")
    parser.add_argument("--data", type=Path, default=None, help="default artifacts/bench-data-<rows>-t10")
    parser.add_argument("--keep", action="store_true", help="keep the model directories and cache")
    args, train_flags = parser.parse_known_args()

    from churn_model.train import main as train_main

    data = args.data or Path(f"artifacts/bench-data-{args.rows}-t10")
    with timer() as gen:
        generated_data(data, args.rows, test_fraction=0.1)
    print(f"data: {data} ({gen['s']:.1f} s, reused when present)")
    work = Path(tempfile.mkdtemp(prefix="bench-training-"))
    cache = work / "embedding-cache"
    figures = {}
    try:
        for run in ("cold", "warm"):
            argv = [
                "--train",
                str(data / "train.jsonl"),
                "--test",
                str(data / "test.jsonl"),
                "--model-dir",
                str(work / f"model-{run}"),
                "--embedding-cache",
                str(cache),
                *train_flags,
            ]
            with timer() as took:
                code = train_main(argv)
            if code:
                raise SystemExit(code)
            figures[run] = took["s"]
            print(f"== {run} cache: {took['s']:.1f} s end to end", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"training {args.rows} rows: cold {figures.get('cold', float('nan')):.1f} s (goal <= 300), "
        f"warm {figures.get('warm', float('nan')):.1f} s (goal <= 60)"
    )


if __name__ == "__main__":
    main()
