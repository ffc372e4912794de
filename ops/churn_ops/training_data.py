"""Checks on the training data and hyperparameters before anything is uploaded (stdlib only).

A training job that fails after twenty minutes on a GPU because a column is misspelt is the
costly way to find out; these checks read the first record of each file instead.

    python -m churn_ops.training_data generate --out data          # in .venv-ops, no `make setup`
    python -m churn_ops.training_data check --train data/train.jsonl --test data/test.jsonl
    python -m churn_ops.training_data --from-stack --out data-stack   # scored calls + outcomes
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

DATA_SUFFIXES = (".jsonl", ".ndjson", ".csv")
# Written beside the generated data; train.py reports the oracle AUC when the channel has it.
SIDECARS = ("oracle.json",)
# train.py's flags (without --) that a job may set; anything else would make argparse exit 2.
# A stdlib copy (this venv has no scikit-learn); tests/unit/ops/test_training_flags.py checks it.
KNOWN_FLAGS = frozenset(
    {
        "numerical-feature-names",
        "categorical-feature-names",
        "textual-feature-names",
        "label-name",
        "positive-label",
        "classifier",
        "n-estimators",
        "class-weight",
        "seed",
        "max-depth",
        "min-samples-leaf",
        "learning-rate",
        "c",
        "batch-size",
        "device",
        "precision",
        "model-version",
        "text-granularity",
        "text-features",
        "encoder",
        "encoder-backend",
        "calibration",
        "cv-folds",
        "cv-groups",
        "encoding",
        "delimiter",
        "na-values",
        "churn-period",
    }
)
# churn_model.pipeline.CLASSIFIERS; tests/unit/ops/test_training_flags.py keeps the two copies equal.
CLASSIFIERS = frozenset({"rf", "hgb", "logreg", "additive"})
SCANNED_RECORDS = 1000


class DataCheckError(ValueError):
    """The data or the hyperparameters would make the training job fail."""


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def check_hyperparameters(hyperparameters: Mapping[str, str]) -> None:
    unknown = sorted(set(hyperparameters) - KNOWN_FLAGS)
    if unknown:
        raise DataCheckError(f"unknown hyperparameters (not train.py flags): {', '.join(unknown)}")
    classifier = hyperparameters.get("classifier", "rf")
    if classifier not in CLASSIFIERS:
        raise DataCheckError(f"classifier must be one of {sorted(CLASSIFIERS)}, got {classifier!r}")
    for flag in ("n-estimators", "seed", "batch-size"):
        if flag in hyperparameters:
            try:
                value = int(hyperparameters[flag])
            except ValueError:
                raise DataCheckError(f"{flag} must be an integer, got {hyperparameters[flag]!r}") from None
            if flag != "seed" and value < 1:
                raise DataCheckError(f"{flag} must be at least 1, got {value}")
    if not any(
        _names(hyperparameters.get(flag))
        for flag in ("numerical-feature-names", "categorical-feature-names", "textual-feature-names")
    ):
        raise DataCheckError("no feature names: set at least one of the three feature-name flags")


def data_files(path: Path) -> list[Path]:
    """The files a channel uploads: the data files and any known sidecar."""
    path = Path(path)
    if path.is_file():
        if path.suffix.lower() not in DATA_SUFFIXES:
            raise DataCheckError(f"{path}: expected a {'/'.join(DATA_SUFFIXES)} file")
        folder, data = path.parent, [path]
    elif path.is_dir():
        folder = path
        data = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in DATA_SUFFIXES)
        if not data:
            raise DataCheckError(f"{path}: no {'/'.join(DATA_SUFFIXES)} files in the folder")
    else:
        raise DataCheckError(f"{path}: no such file or folder")
    sidecars = [folder / name for name in SIDECARS if (folder / name).is_file()]
    return data + sidecars


def columns(file: Path, records: int = SCANNED_RECORDS) -> set[str]:
    """Column names of a file: the CSV header, or the keys of its first JSON Lines records.

    train.py takes the union of the keys over every record; a file too large to read here is
    scanned over its first ``records`` only, which is where a misspelt column shows anyway.
    """
    with file.open(encoding="utf-8", newline="") as handle:
        if file.suffix.lower() == ".csv":
            header = next(csv.reader(handle), None)
            if not header:
                raise DataCheckError(f"{file}: empty CSV (no header)")
            return {name.strip() for name in header}
        found: set[str] = set()
        seen = 0
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise DataCheckError(f"{file}:{number}: not valid JSON ({exc})") from None
            if not isinstance(record, dict):
                raise DataCheckError(f"{file}:{number}: a record must be a JSON object")
            found.update(record)
            seen += 1
            if seen >= records:
                break
    if not seen:
        raise DataCheckError(f"{file}: no records")
    return found


def check(path: Path, hyperparameters: Mapping[str, str], *, channel: str) -> list[Path]:
    """Check a channel's data against the feature and label names; returns the files to upload."""
    files = data_files(path)
    wanted = {hyperparameters.get("label-name", "y")}
    for flag in ("numerical-feature-names", "categorical-feature-names", "textual-feature-names"):
        wanted.update(_names(hyperparameters.get(flag)))
    for file in files:
        if file.name in SIDECARS:
            continue
        missing = sorted(wanted - columns(file))
        if missing:
            raise DataCheckError(f"{channel} data {file}: missing columns {', '.join(missing)}")
    return files


# --- the ops venv's own data commands --------------------------------------------------------
# Ops need not build the development environment (`make setup`) to get or check training data:
# the generator runs on the ops venv's numpy and pandas, and the checks are the launcher's own.


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_ops.training_data",
        description="Generate the synthetic training data, or check data before a training job.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "generate",
        add_help=False,
        help="churn_model.data.generate in this venv (its flags: --rows, --out, --seed, ...)",
    )
    check_parser = commands.add_parser("check", help="the launcher's checks, with the job's default flags")
    check_parser.add_argument("--train", type=Path, required=True, help="file or folder")
    check_parser.add_argument("--test", type=Path, help="file or folder")
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--from-stack"]:  # labelled by what happened: churn_ops/training_from_stack.py
        from churn_ops.training_from_stack import main as from_stack

        return from_stack(argv[1:])
    if argv[:1] == ["generate"]:
        from churn_model.data.generate import main as generate

        return generate(argv[1:])
    args = parser.parse_args(argv)
    from churn_ops.best_flags import BEST_HYPERPARAMETERS

    try:
        check_hyperparameters(BEST_HYPERPARAMETERS)
        for channel in ("train", "test"):
            path = getattr(args, channel)
            if path is not None:
                files = check(path, BEST_HYPERPARAMETERS, channel=channel)
                print(f"{channel}: OK ({', '.join(str(f) for f in files)})")
    except DataCheckError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
