"""Shared bits of the benchmark scripts: generated data and a timer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    started = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - started


def generated_data(
    directory: Path, rows: int, *, seed: int = 7, test_fraction: float = 0.1
) -> dict[str, Any]:
    """train.jsonl/test.jsonl/oracle.json from the generator, reused if already there."""
    import json

    from churn_model.data.generate import write_dataset

    oracle = directory / "oracle.json"
    if oracle.is_file():
        report = json.loads(oracle.read_text())
        if (
            report.get("rows") == rows
            and report.get("seed") == seed
            and report["test"]["rows"] == round(rows * test_fraction)
        ):
            return report
    return write_dataset(directory, rows=rows, test_fraction=test_fraction, seed=seed, progress=True)
