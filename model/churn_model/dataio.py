"""Reading training data: JSON Lines or CSV, one file or a directory (a SageMaker channel).

Every problem is reported as a :class:`DataError` naming the file and line, so
a bad row among 45,000 is found at once and nothing is silently dropped.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.endpoint import FeatureSpec

# In a directory only these are read, so the generator's oracle.json stays out.
JSON_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
# Label spellings understood without --positive-label (compared case-insensitively,
# a trailing "." ignored, so the public churn data's "True."/"False." work as is).
POSITIVES = frozenset({"1", "true", "t", "yes", "y"})
NEGATIVES = frozenset({"0", "false", "f", "no", "n"})


class DataError(ValueError):
    """Input data that cannot be trained on; the message says where and why."""


@dataclass
class Dataset:
    """Raw records and, for each, where it came from (``file line N``)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)
    sources: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)


def data_files(path: Path) -> list[Path]:
    """``path`` itself, or the data files in a directory, in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or directory")
    files = sorted(
        p for p in path.iterdir() if p.is_file() and p.suffix.lower() in JSON_SUFFIXES + CSV_SUFFIXES
    )
    if not files:
        raise DataError(f"{path}: no .jsonl or .csv files in the directory")
    return files


def read_dataset(path: str | Path) -> Dataset:
    dataset = Dataset()
    for file in data_files(Path(path)):
        dataset.sources.append(file)
        if file.suffix.lower() in CSV_SUFFIXES:
            _read_csv(file, dataset)
        else:
            _read_jsonl(file, dataset)
    return dataset


def _read_jsonl(file: Path, dataset: Dataset) -> None:
    with file.open(encoding="utf-8", errors="strict") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{file.name} line {number}"
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise DataError(f"{where}: not valid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
                dataset.records.append(record)
                dataset.where.append(where)
                dataset.columns.update(record)
        except UnicodeDecodeError as exc:
            raise DataError(f"{file.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _read_csv(file: Path, dataset: Dataset) -> None:
    with file.open(encoding="utf-8-sig", errors="strict", newline="") as handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            if len(set(header)) != len(header):
                raise DataError(f"{file.name} line 1: duplicate column names in the header")
            dataset.columns.update(header)
            for row in reader:
                where = f"{file.name} line {reader.line_num}"
                if not row or not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise DataError(f"{where}: expected {len(header)} fields, got {len(row)}")
                dataset.records.append(
                    {h: (v if v.strip() else None) for h, v in zip(header, row, strict=True)}
                )
                dataset.where.append(where)
        except csv.Error as exc:
            raise DataError(f"{file.name} line {reader.line_num}: malformed CSV ({exc})") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{file.name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip().lower().removesuffix(".")
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if math.isfinite(number) and number.is_integer() else text


def parse_label(value: Any, positive_label: str | None, where: str) -> int:
    """1 for the positive label, 0 for a recognised negative; anything else is an error."""
    if value is None:
        raise DataError(f"{where}: the label is missing")
    token = _canonical(value)
    positives = {_canonical(positive_label)} if positive_label is not None else POSITIVES
    if token in positives:
        return 1
    if token in NEGATIVES:
        return 0
    wanted = (
        f"the positive label {positive_label!r}" if positive_label is not None else "a recognised positive"
    )
    raise DataError(
        f"{where}: label {value!r} is neither {wanted} nor a recognised negative "
        f"(0, false, no, False., ...); set --positive-label"
    )


def _number(value: Any, name: str, where: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise DataError(f"{where}: column {name!r} must be a number, got {value!r}")
    number = math.nan
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        with contextlib.suppress(ValueError):
            number = float(value)
    if math.isfinite(number):
        return number
    if isinstance(value, float) and math.isnan(value):
        return math.nan  # JSON NaN: missing
    raise DataError(f"{where}: column {name!r} must be a number, got {value!r}")


def _category(value: Any, name: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DataError(f"{where}: categorical column {name!r} must be a string, got {value!r}")
    return _canonical(value)


def _text(value: Any, name: str, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise DataError(f"{where}: text column {name!r} must be a string, got {type(value).__name__}")


def check_columns(dataset: Dataset, names: Iterable[str], what: str) -> None:
    missing = [n for n in names if n not in dataset.columns]
    if missing:
        sources = ", ".join(p.name for p in dataset.sources)
        available = ", ".join(sorted(dataset.columns)) or "none"
        raise DataError(
            f"{what} named in the flags but missing from the data ({sources}): {missing}; "
            f"available columns: {available}"
        )


def prepare(
    dataset: Dataset,
    spec: FeatureSpec,
    *,
    label_name: str,
    positive_label: str | None = None,
    name: str = "training",
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Typed feature records (``None`` for missing) and 0/1 labels, or a DataError."""
    if not dataset.records:
        sources = ", ".join(str(p) for p in dataset.sources) or "the input"
        raise DataError(f"the {name} set is empty: no records in {sources}")
    check_columns(dataset, spec.all, "feature columns")
    check_columns(dataset, [label_name], "label column")
    numerical, categorical = set(spec.numerical), set(spec.categorical)
    records: list[dict[str, Any]] = []
    labels = np.empty(len(dataset.records), dtype=np.int64)
    for i, (raw, where) in enumerate(zip(dataset.records, dataset.where, strict=True)):
        record: dict[str, Any] = {}
        for column in spec.all:
            value = raw.get(column)
            if column in numerical:
                number = _number(value, column, where)
                record[column] = None if math.isnan(number) else number
            elif column in categorical:
                record[column] = _category(value, column, where)
            else:
                record[column] = _text(value, column, where)
        records.append(record)
        labels[i] = parse_label(raw.get(label_name), positive_label, where)
    return records, labels


def load(
    path: str | Path,
    spec: FeatureSpec,
    *,
    label_name: str,
    positive_label: str | None = None,
    name: str = "training",
) -> tuple[list[dict[str, Any]], np.ndarray]:
    return prepare(read_dataset(path), spec, label_name=label_name, positive_label=positive_label, name=name)


def split_names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"a, b"`` -> ("a", "b"); an empty string means no features of that kind."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(p.strip() for p in parts if p.strip())
