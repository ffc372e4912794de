"""Reading training data: JSON Lines, CSV/TSV/TXT or Parquet, one file or a directory.

Tabular files are read with pandas (delimiter sniffing, encodings, byte-order marks,
compression by suffix, Parquet); JSON Lines line by line, so values keep their JSON types and a
bad line is named. Every problem is a :class:`DataError` naming the file and line (or row) and,
where there is one, the flag that fixes it; nothing is silently dropped. Serving never imports
this module.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.endpoint import FeatureSpec
from churn_contracts.features import categorical_value

JSON_SUFFIXES = (".jsonl", ".ndjson")
DELIMITED_SUFFIXES = (".csv", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zip", ".zst")
# In a directory only these are read, so the generator's oracle.json stays out.
DATA_SUFFIXES = JSON_SUFFIXES + DELIMITED_SUFFIXES + PARQUET_SUFFIXES
CSV_SUFFIXES = (".csv",)  # kept for callers of the old name
# pandas' default missing-value tokens; a cell that is exactly one of them (after stripping) is missing.
NA_TOKENS = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
SNIFFED_DELIMITERS = ",;\t|"
DEFAULT_ENCODING = "utf-8-sig"  # UTF-8, with or without a byte-order mark
# Label spellings understood without --positive-label (compared case-insensitively,
# a trailing "." ignored, so the public churn data's "True."/"False." work as is).
POSITIVES = frozenset({"1", "true", "t", "yes", "y"})
NEGATIVES = frozenset({"0", "false", "f", "no", "n"})


class DataError(ValueError):
    """Input data that cannot be trained on; the message says where and why."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read the files: ``--encoding``, ``--delimiter``, ``--na-values``."""

    encoding: str | None = None
    delimiter: str | None = None
    na_values: tuple[str, ...] = ()

    @property
    def na_tokens(self) -> frozenset[str]:
        return NA_TOKENS | {v.strip() for v in self.na_values}


@dataclass
class Dataset:
    """Raw records and, for each, where it came from (``file line N``)."""

    records: list[dict[str, Any]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    columns: set[str] = field(default_factory=set)
    sources: list[Path] = field(default_factory=list)
    order: list[str] = field(default_factory=list)  # columns in first-seen order
    na_tokens: frozenset[str] = NA_TOKENS

    def __len__(self) -> int:
        return len(self.records)

    def add_columns(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.columns:
                self.columns.add(name)
                self.order.append(name)


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def data_files(path: Path) -> list[Path]:
    """``path`` itself, or the data files in a directory, in name order."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or directory")
    files = sorted(p for p in path.iterdir() if p.is_file() and _base_suffix(p) in DATA_SUFFIXES)
    if not files:
        raise DataError(
            f"{path}: no .jsonl or .csv files in the directory (read: {', '.join(DATA_SUFFIXES)}, "
            f"optionally compressed {', '.join(COMPRESSION_SUFFIXES)})"
        )
    return files


def _encoding_error(file: Path, encoding: str | None, exc: UnicodeDecodeError) -> DataError:
    name = "UTF-8" if encoding is None else encoding
    return DataError(
        f"{file.name}: not {name} text ({exc.reason} at byte {exc.start}); name the file's encoding "
        f"with --encoding, e.g. --encoding cp1252 (Excel on Windows) or --encoding latin-1"
    )


def _open_text(file: Path, encoding: str | None) -> Any:
    from pandas.io.common import get_handle  # decompression by suffix, as pandas reads

    return get_handle(file, "r", encoding=encoding or DEFAULT_ENCODING, compression="infer", errors="strict")


def _kind(file: Path, options: ReadOptions) -> str:
    suffix = _base_suffix(file)
    if suffix in JSON_SUFFIXES:
        return "json"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    if suffix in (".csv", ".tsv"):
        return "delimited"
    # .txt (or anything else named directly): JSON Lines if it starts with an object, else delimited.
    try:
        with _open_text(file, options.encoding) as handle:
            first = next((line for line in handle.handle if line.strip()), "")
    except UnicodeDecodeError as exc:
        raise _encoding_error(file, options.encoding, exc) from None
    return "json" if first.lstrip().startswith("{") else "delimited"


def read_dataset(path: str | Path, options: ReadOptions | None = None) -> Dataset:
    options = options or ReadOptions()
    dataset = Dataset(na_tokens=options.na_tokens)
    for file in data_files(Path(path)):
        dataset.sources.append(file)
        kind = _kind(file, options)
        if kind == "json":
            _read_jsonl(file, dataset, options)
        elif kind == "parquet":
            _read_parquet(file, dataset)
        else:
            _read_delimited(file, dataset, options)
    return dataset


def _read_jsonl(file: Path, dataset: Dataset, options: ReadOptions) -> None:
    try:
        with _open_text(file, options.encoding) as handle:
            for number, line in enumerate(handle.handle, start=1):
                if not line.strip():
                    continue
                where = f"{file.name} line {number}"
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    hint = ""
                    if number == 1 and _base_suffix(file) not in JSON_SUFFIXES:
                        hint = "; name the file .csv or .tsv if it is delimited text"
                    raise DataError(f"{where}: not valid JSON ({exc}){hint}") from None
                if not isinstance(record, dict):
                    raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}")
                dataset.records.append(record)
                dataset.where.append(where)
                dataset.add_columns(record)
    except UnicodeDecodeError as exc:
        raise _encoding_error(file, options.encoding, exc) from None


def sniff_delimiter(sample: str, default: str = ",") -> str:
    """The delimiter of a delimited-text sample (its first lines), by the csv module's sniffer."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        return default


def _read_delimited(file: Path, dataset: Dataset, options: ReadOptions) -> None:
    import pandas as pd

    try:
        with _open_text(file, options.encoding) as handle:
            text = handle.handle.read()
    except UnicodeDecodeError as exc:
        raise _encoding_error(file, options.encoding, exc) from None
    if not text.strip():
        return
    delimiter = options.delimiter
    if delimiter is None:
        head = "\n".join(text.splitlines()[:20])
        delimiter = sniff_delimiter(head, "\t" if _base_suffix(file) == ".tsv" else ",")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            header=None,
            dtype=object,
            keep_default_na=False,  # missing values are decided per column kind, with NA_TOKENS
            skip_blank_lines=False,  # so row i is line i + 1
        )
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        shown = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}.get(delimiter, repr(delimiter))
        fix = f"read with delimiter {shown}: if the file uses another one, set --delimiter (e.g. --delimiter ';')"
        if found:
            expected, line, got = found.groups()
            raise DataError(
                f"{file.name} line {line}: expected {expected} fields, got {got}; {fix}"
            ) from None
        raise DataError(f"{file.name}: malformed delimited text ({exc}); {fix}") from None
    rows = frame.to_numpy(dtype=object).tolist()
    header = [str(h).strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise DataError(f"{file.name} line 1: duplicate column names in the header")
    dataset.add_columns(header)
    for number, row in enumerate(rows[1:], start=2):
        if not any(isinstance(cell, str) and cell.strip() for cell in row):
            continue
        dataset.records.append(
            {h: (v if isinstance(v, str) and v.strip() else None) for h, v in zip(header, row, strict=True)}
        )
        dataset.where.append(f"{file.name} line {number}")


def _read_parquet(file: Path, dataset: Dataset) -> None:
    import pandas as pd

    try:
        frame = pd.read_parquet(file)
    except ImportError as exc:
        raise DataError(f"{file.name}: reading Parquet needs pyarrow ({exc})") from None
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise DataError(f"{file.name}: not a readable Parquet file ({exc})") from None
    columns = [str(c) for c in frame.columns]
    dataset.add_columns(columns)
    frame = frame.astype(object).where(frame.notna(), None)
    for number, values in enumerate(frame.itertuples(index=False, name=None), start=1):
        dataset.records.append(dict(zip(columns, values, strict=True)))
        dataset.where.append(f"{file.name} row {number}")


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


def _is_na(value: Any, na_tokens: frozenset[str]) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() in na_tokens


def _number(value: Any, name: str, where: str, na_tokens: frozenset[str] = NA_TOKENS) -> float:
    if _is_na(value, na_tokens):
        return math.nan
    if isinstance(value, bool):
        raise DataError(f"{where}: column {name!r} must be a number, got {value!r}")
    number = math.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = math.nan
    if math.isfinite(number):
        return number
    hint = ""
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+,\d+\s*", value):
        hint = " (a decimal comma? write 1.5, not 1,5)"
    raise DataError(
        f"{where}: column {name!r} must be a number, got {value!r}{hint}; if {value!r} means missing, "
        f"add it with --na-values"
    )


def _category(value: Any, name: str, where: str, na_tokens: frozenset[str] = NA_TOKENS) -> str | None:
    if _is_na(value, na_tokens):
        return None
    try:
        return categorical_value(value)  # the coercion the endpoint and the profiles use
    except TypeError:
        raise DataError(
            f"{where}: categorical column {name!r} must be a string, number or boolean, got {value!r}"
        ) from None


def _text(value: Any, name: str, where: str, na_tokens: frozenset[str] = NA_TOKENS) -> str | None:
    if _is_na(value, na_tokens):
        return None
    if isinstance(value, str):
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
    na = dataset.na_tokens
    records: list[dict[str, Any]] = []
    labels = np.empty(len(dataset.records), dtype=np.int64)
    for i, (raw, where) in enumerate(zip(dataset.records, dataset.where, strict=True)):
        record: dict[str, Any] = {}
        for column in spec.all:
            value = raw.get(column)
            if column in numerical:
                number = _number(value, column, where, na)
                record[column] = None if math.isnan(number) else number
            elif column in categorical:
                record[column] = _category(value, column, where, na)
            else:
                record[column] = _text(value, column, where, na)
        records.append(record)
        label = raw.get(label_name)
        labels[i] = parse_label(None if _is_na(label, na) else label, positive_label, where)
    return records, labels


def load(
    path: str | Path | Dataset,
    spec: FeatureSpec,
    *,
    label_name: str,
    positive_label: str | None = None,
    name: str = "training",
    options: ReadOptions | None = None,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    dataset = path if isinstance(path, Dataset) else read_dataset(path, options)
    return prepare(dataset, spec, label_name=label_name, positive_label=positive_label, name=name)


def split_names(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"a, b"`` -> ("a", "b"); an empty string means no features of that kind."""
    if value is None:
        return ()
    parts = value.split(",") if isinstance(value, str) else list(value)
    return tuple(p.strip() for p in parts if p.strip())


# --- column inference -----------------------------------------------------------

# A label column is recognised by its name when --label-name is absent.
LABEL_NAMES = ("y", "churn", "churn?", "churned", "label", "target", "exited", "attrition")
# Columns that identify a row, never features.
ID_NAMES = re.compile(
    r"(^|[ _-])(id|ids|phone|uuid|key)$|^(customer|call|account|row)[ _-]?(id|number|no)$", re.I
)
MAX_CATEGORIES = 100  # a string column with more distinct values is no category
TEXT_MIN_MEAN_CHARS = 20  # the free-text column's values average at least this many characters
SCANNED_ROWS = 5000


@dataclass(frozen=True)
class Columns:
    """The resolved column flags and how each was decided (``flag``, ``names table``, ``inferred``)."""

    numerical: tuple[str, ...]
    categorical: tuple[str, ...]
    text: tuple[str, ...]
    label: str
    how: dict[str, str]
    ignored: tuple[str, ...] = ()

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec(self.numerical, self.categorical, self.text)


def is_ours(dataset: Dataset) -> bool:
    """The generator's format: every column of the names table and its label."""
    from churn_contracts import features

    return set(features.MODEL_FEATURES) | {features.LABEL} <= dataset.columns


def _is_number(value: Any, na: frozenset[str]) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    if isinstance(value, str):
        try:
            return math.isfinite(float(value))
        except ValueError:
            return False
    return False


def infer_columns(
    dataset: Dataset,
    *,
    numerical: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    text: Sequence[str] | None = None,
    label: str | None = None,
    ignore: Sequence[str] = (),
) -> Columns:
    """Resolve the feature and label columns: a given flag wins, then our names table, then the data.

    For data that is not ours, columns are typed from up to ``SCANNED_ROWS`` rows: numbers ->
    numerical; strings with at most ``MAX_CATEGORIES`` distinct values (and repeats) ->
    categorical; the string column with the longest values -> text. Identifier-like columns
    (all distinct, or named like ``customer_id``/``Phone``) and nested values are ignored, and so
    are the columns in ``ignore`` (e.g. the cross-validation groups).
    """
    from churn_contracts import features

    given = {"numerical": numerical, "categorical": categorical, "text": text, "label": label}
    how = {kind: "flag" for kind, value in given.items() if value is not None}
    if is_ours(dataset):
        ours = {
            "numerical": tuple(features.NUMERICAL),
            "categorical": tuple(features.CATEGORICAL),
            "text": (features.TEXT,),
            "label": features.LABEL,
        }
        for kind in ours:
            if given[kind] is None:
                given[kind] = ours[kind]
                how[kind] = "names table"
        return Columns(
            tuple(given["numerical"]),
            tuple(given["categorical"]),
            tuple(given["text"]),
            str(given["label"]),
            how,
        )

    if label is None:
        by_name = {c.strip().lower(): c for c in dataset.order}
        found = [by_name[n] for n in LABEL_NAMES if n in by_name]
        if len(found) != 1:
            raise DataError(
                "cannot tell which column is the label"
                + (f" (candidates: {found})" if found else f" (none of {', '.join(LABEL_NAMES)})")
                + f"; set --label-name to one of: {', '.join(dataset.order)}"
            )
        label = found[0]
        how["label"] = "inferred"
    taken = {label, *ignore} | {
        n for kind in ("numerical", "categorical", "text") for n in (given[kind] or ())
    }
    rows = dataset.records[:SCANNED_ROWS]
    na = dataset.na_tokens
    kinds: dict[str, str] = {}
    lengths: dict[str, float] = {}
    ignored = []
    for column in dataset.order:
        if column in taken:
            continue
        values = [r.get(column) for r in rows]
        present = [v for v in values if not (v is None or (isinstance(v, str) and v.strip() in na))]
        if not present or any(isinstance(v, (list, dict)) for v in present):
            ignored.append(column)
            continue
        distinct = len({str(v).strip() for v in present})
        if ID_NAMES.search(column.strip()):
            ignored.append(column)
        elif all(_is_number(v, na) for v in present):
            kinds[column] = "numerical"
        elif distinct <= MAX_CATEGORIES and distinct < len(present):
            kinds[column] = "categorical"
        else:
            mean = sum(len(str(v)) for v in present) / len(present)
            if mean >= TEXT_MIN_MEAN_CHARS and sum(" " in str(v) for v in present) * 2 > len(present):
                lengths[column] = mean
            ignored.append(column)
    for kind in ("numerical", "categorical"):
        if given[kind] is None:
            given[kind] = tuple(c for c, k in kinds.items() if k == kind)
            how[kind] = "inferred"
        else:
            ignored.extend(c for c, k in kinds.items() if k == kind)
    if given["text"] is None:
        longest = max(lengths, key=lambda c: lengths[c], default=None)
        given["text"] = (longest,) if longest else ()
        how["text"] = "inferred"
    text_columns = set(given["text"])
    return Columns(
        tuple(given["numerical"]),
        tuple(given["categorical"]),
        tuple(given["text"]),
        label,
        how,
        tuple(c for c in ignored if c not in text_columns) + tuple(c for c in ignore if c in dataset.columns),
    )
