"""The drift monitor's baseline: what the model saw and said on the rows it was tested on.

    python -m churn_ops.monitor baseline --model model.tar.gz --data test.jsonl --out drift-baseline.json

The rows are scored through the bulk path (``churn_model.batch``, the endpoint's own handlers), so
the baseline's scores and missing features are what the endpoint reports; text lengths are the
``text`` column's (the customer text, the shared renderer's output). ``promote`` uploads the file
beside the model archive (``models/sha256-<digest>/drift-baseline.json``), where the stack's
DriftMonitorFunction reads it (``DriftBaselineUri``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from churn_contracts.drift import Baseline, build_baseline
from churn_contracts.features import CATEGORICAL, NUMERICAL, TEXT


def baseline_for(model_path: Path, data: Path) -> Baseline:
    from churn_model.batch import model_thresholds, run_batch

    from churn_ops.promote import load

    with tempfile.TemporaryDirectory(prefix="baseline-") as tmp:
        model = load(model_path, Path(tmp) / "model")
        out = Path(tmp) / "scores.jsonl"
        run_batch(model, data, out, thresholds=model_thresholds(model), restart=True, progress=False)
        results = [json.loads(line) for line in out.read_text().splitlines()]
    texts = [json.loads(line).get(TEXT) or "" for line in data.read_text().splitlines() if line.strip()]
    scored = [r for r in results if "probability" in r]
    return build_baseline(
        str(model.model_version),
        [float(r["probability"]) for r in scored],
        [len(texts[r["line"] - 1]) for r in scored],
        [list(r.get("missing_features") or []) for r in scored],
        (*NUMERICAL, *CATEGORICAL, TEXT),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m churn_ops.monitor", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("baseline", help="the drift baseline of a model on its test rows")
    make.add_argument("--model", type=Path, required=True)
    make.add_argument("--data", type=Path, required=True)
    make.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    baseline = baseline_for(args.model, args.data)
    args.out.write_text(json.dumps(baseline.to_json(), indent=2) + "\n")
    print(f"baseline of {baseline.model_version} on {baseline.rows} rows -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
