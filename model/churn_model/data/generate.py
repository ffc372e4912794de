"""Synthetic churn data: profiles, calls and labels from the latent model.

    python -m churn_model.data.generate [--rows 50000] [--test-fraction 0.1]
        [--churn-rate 0.15] [--seed 7] [--out data/] [--split random|template]

writes ``train.jsonl``, ``test.jsonl`` and ``oracle.json`` to ``--out``. One
JSON object per line: ``customer_id``, ``call_id``, the profile features of
:mod:`churn_contracts.features`, ``text`` (the shared renderer's output for the
call), the label ``y`` and the call's ``turns``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.conversation import Conversation
from churn_contracts.features import CALL_ID, CATEGORICAL, CUSTOMER_ID, LABEL, NUMERICAL, TEXT
from tqdm import tqdm

from . import latent
from .grammar import CallWriter

GENERATOR_VERSION = "1.1.0"
SPLITS = ("random", "template")
MISSING_RATE = 0.03  # per numerical value, independently
# Counts are integers in the public data; minutes and charges are decimals.
INTEGER_COLUMNS = frozenset(
    {
        "Account Length",
        "VMail Message",
        "Day Calls",
        "Eve Calls",
        "Night Calls",
        "Intl Calls",
        "CustServ Calls",
    }
)


@dataclass(frozen=True)
class Dataset:
    rows: list[dict[str, Any]]
    profile: np.ndarray  # profile component of each row's churn logit
    attitude: np.ndarray  # attitude component of each row's churn logit
    intercept: float

    @property
    def labels(self) -> np.ndarray:
        return np.array([row[LABEL] for row in self.rows], dtype=int)

    def oracle_auc(self, rows: slice = slice(None)) -> dict[str, float]:
        scores = latent.oracle_scores(self.profile[rows], self.attitude[rows], self.intercept)
        y = self.labels[rows]
        return {name: round(latent.roc_auc(y, s), 4) for name, s in scores.items()}


def simulate(
    n: int,
    *,
    seed: int,
    churn_rate: float = 0.15,
    progress: bool = False,
    template_split_at: int | None = None,
) -> Dataset:
    """``n`` rows with their latent components; deterministic for ``seed``.

    With ``template_split_at`` the calls before that row use the grammar's train templates and
    the rest its test templates (a template-disjoint split); the latent draws are unchanged.
    """
    if n < 0:
        raise ValueError(f"number of rows must not be negative, got {n}")
    intercept = latent.intercept_for(churn_rate)
    profile_ss, plan_ss, missing_ss, label_ss, text_ss = np.random.SeedSequence(seed).spawn(5)

    profiles = latent.sample_profiles(n, np.random.default_rng(profile_ss))
    profile = latent.profile_logit(profiles)
    calls = latent.draw_calls(n, np.random.default_rng(plan_ss))
    attitude = calls.attitude
    plans = calls.plans()
    probability = latent.sigmoid(profile + attitude + intercept)
    labels = (np.random.default_rng(label_ss).random(n) < probability).astype(int).tolist()
    missing = (np.random.default_rng(missing_ss).random((n, len(NUMERICAL))) < MISSING_RATE).tolist()

    columns: dict[str, list[Any]] = {}
    for name in NUMERICAL:
        values = profiles.numerical[name]
        columns[name] = values.astype(int).tolist() if name in INTEGER_COLUMNS else values.tolist()
    for name in CATEGORICAL:
        columns[name] = profiles.categorical[name].tolist()

    writer = CallWriter(random.Random(int(text_ss.generate_state(1)[0])))
    rows: list[dict[str, Any]] = []
    for i in tqdm(range(n), desc="calls", unit="call", disable=not progress, mininterval=0.5):
        if template_split_at is not None:
            writer.family = "train" if i < template_split_at else "test"
        number = f"{i + 1:06d}"
        row: dict[str, Any] = {CUSTOMER_ID: f"C{number}", CALL_ID: f"call-{number}-1"}
        gaps = missing[i]
        for k, name in enumerate(NUMERICAL):
            row[name] = None if gaps[k] else columns[name][i]
        for name in CATEGORICAL:
            row[name] = columns[name][i]
        turns = writer.write(plans[i])
        row[TEXT] = Conversation.from_list(turns).customer_text
        row[LABEL] = labels[i]
        row["turns"] = turns
        rows.append(row)
    return Dataset(rows, profile, attitude, intercept)


def generate_rows(n: int, *, seed: int, churn_rate: float = 0.15) -> list[dict[str, Any]]:
    """``n`` rows in the training format (see the module docstring); deterministic for ``seed``."""
    return simulate(n, seed=seed, churn_rate=churn_rate).rows


def write_dataset(
    out: Path,
    *,
    rows: int = 50_000,
    test_fraction: float = 0.1,
    churn_rate: float = 0.15,
    seed: int = 7,
    progress: bool = False,
    split: str = "random",
) -> dict[str, Any]:
    """Write train.jsonl, test.jsonl and oracle.json to ``out``; returns the oracle report.

    ``split="template"`` writes the test calls from templates no training call uses.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    n_test = round(rows * test_fraction)
    if not 0 < n_test < rows:
        raise ValueError(f"--test-fraction {test_fraction} leaves no train or no test rows out of {rows}")
    n_train = rows - n_test
    split_kind = split  # the loops below reuse the name
    dataset = simulate(
        rows,
        seed=seed,
        churn_rate=churn_rate,
        progress=progress,
        template_split_at=n_train if split == "template" else None,
    )
    splits = {"train": slice(0, n_train), "test": slice(n_train, rows)}

    out.mkdir(parents=True, exist_ok=True)
    for split, part in splits.items():
        with (out / f"{split}.jsonl").open("w", encoding="utf-8") as fh:
            for row in tqdm(dataset.rows[part], desc=f"{split}.jsonl", unit="row", disable=not progress):
                fh.write(json.dumps(row, ensure_ascii=False))
                fh.write("\n")

    labels = dataset.labels
    report: dict[str, Any] = {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "rows": rows,
        "split": split_kind,
        "churn_rate_target": churn_rate,
        "intercept": round(dataset.intercept, 6),
        "missing_rate": MISSING_RATE,
        "latent_model": "p = sigmoid(profile + attitude + intercept), y ~ Bernoulli(p)",
    }
    for split, part in splits.items():
        report[split] = {
            "rows": part.stop - part.start,
            "churn_rate": round(float(labels[part].mean()), 4),
            "oracle_auc": dataset.oracle_auc(part),
        }
    (out / "oracle.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m churn_model.data.generate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rows", type=int, default=50_000, help="total rows, train and test (default 50000)")
    parser.add_argument(
        "--test-fraction", type=float, default=0.1, help="share of rows in test.jsonl (default 0.1)"
    )
    parser.add_argument("--churn-rate", type=float, default=0.15, help="target churn rate (default 0.15)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=Path("data"), help="output folder (default data/)")
    parser.add_argument(
        "--split",
        choices=SPLITS,
        default="random",
        help="random (default), or template: test calls use phrase templates no training call uses",
    )
    args = parser.parse_args(argv)
    if args.rows < 2:
        parser.error("--rows must be at least 2")
    if not 0.0 < args.test_fraction < 1.0:
        parser.error("--test-fraction must be strictly between 0 and 1")
    if not 0.0 < args.churn_rate < 1.0:
        parser.error("--churn-rate must be strictly between 0 and 1")
    if args.seed < 0:
        parser.error("--seed must not be negative")

    started = time.perf_counter()
    try:
        report = write_dataset(
            args.out,
            rows=args.rows,
            test_fraction=args.test_fraction,
            churn_rate=args.churn_rate,
            seed=args.seed,
            progress=True,
            split=args.split,
        )
    except ValueError as exc:
        parser.error(str(exc))
    elapsed = time.perf_counter() - started
    for split in ("train", "test"):
        part = report[split]
        print(
            f"{split}: {part['rows']} rows, churn rate {part['churn_rate']:.3f}, oracle AUC "
            + ", ".join(f"{k} {v:.3f}" for k, v in part["oracle_auc"].items())
        )
    print(f"wrote {args.out}/train.jsonl, test.jsonl, oracle.json in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
