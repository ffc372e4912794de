"""The synthetic dataset: format, determinism, distributions and the CLI."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from churn_contracts.conversation import Conversation
from churn_contracts.features import CALL_ID, CATEGORICAL, CUSTOMER_ID, LABEL, NUMERICAL, TEXT
from churn_model.data import latent
from churn_model.data.generate import GENERATOR_VERSION, MISSING_RATE, generate_rows, main, simulate

EXPECTED_KEYS = [CUSTOMER_ID, CALL_ID, *NUMERICAL, *CATEGORICAL, TEXT, LABEL, "turns"]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate_rows(3000, seed=5)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = generate_rows(60, seed=3)
    assert json.dumps(first) == json.dumps(generate_rows(60, seed=3))
    assert json.dumps(first) != json.dumps(generate_rows(60, seed=4))


def test_same_seed_same_rows_across_processes() -> None:
    # A fresh interpreter with another hash seed writes the same bytes: nothing depends on set order.
    code = "import json; from churn_model.data import generate_rows; print(json.dumps(generate_rows(40, seed=3)))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
        ).stdout
        for hash_seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert json.loads(outputs.pop()) == generate_rows(40, seed=3)


def test_columns_and_types(rows: list[dict]) -> None:
    for i, row in enumerate(rows[:500], start=1):
        assert list(row) == EXPECTED_KEYS
        assert row[CUSTOMER_ID] == f"C{i:06d}"
        assert row[CALL_ID] == f"call-{i:06d}-1"
        for name in NUMERICAL:
            value = row[name]
            assert value is None or (isinstance(value, int | float) and not isinstance(value, bool)), name
            assert value is None or (math.isfinite(value) and value >= 0), name
        assert row[LABEL] in (0, 1) and not isinstance(row[LABEL], bool)
        assert isinstance(row[TEXT], str) and row[TEXT]


def test_categorical_values(rows: list[dict]) -> None:
    states = {r["State"] for r in rows}
    assert states <= set(latent.STATES) and len(latent.STATES) == 51 and "DC" in latent.STATES
    assert len(states) >= 45
    assert {r["Location"] for r in rows} == {"urban", "suburban", "rural", "other"}
    assert {r["plan"] for r in rows} == set("ABCDE")
    assert {r["limit"] for r in rows} == {"limited", "unlimited"}


def test_a_few_percent_of_numerical_values_missing(rows: list[dict]) -> None:
    values = [r[name] for r in rows for name in NUMERICAL]
    rate = sum(v is None for v in values) / len(values)
    assert abs(rate - MISSING_RATE) < 0.006
    assert all(r[name] is not None for r in rows for name in CATEGORICAL)


def test_churn_rate_near_target(rows: list[dict]) -> None:
    assert abs(np.mean([r[LABEL] for r in rows]) - 0.15) < 0.025
    other = generate_rows(3000, seed=5, churn_rate=0.3)
    assert abs(np.mean([r[LABEL] for r in other]) - 0.3) < 0.03


def test_charges_follow_minutes(rows: list[dict]) -> None:
    checked = 0
    for row in rows:
        for period, rate in latent.RATES.items():
            minutes, charge = row[f"{period} Mins"], row[f"{period} Charge"]
            if minutes is not None and charge is not None:
                assert charge == pytest.approx(minutes * rate, abs=0.006)
                checked += 1
    assert checked > 0.9 * 4 * len(rows)


def test_turns_alternate_in_time_and_text_is_the_renderer_output(rows: list[dict]) -> None:
    lengths = [len(r["turns"]) for r in rows]
    assert min(lengths) >= 5 and max(lengths) <= 40
    assert np.median(lengths) >= 10
    for row in rows[:300]:
        turns = row["turns"]
        assert turns[0]["role"] == "agent"
        assert [t["role"] for t in turns] == [
            "agent" if k % 2 == 0 else "customer" for k in range(len(turns))
        ]
        starts = [t["start_time"] for t in turns]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        assert row[TEXT] == Conversation.from_list(turns).customer_text


def test_customer_side_length_is_realistic(rows: list[dict]) -> None:
    words = [len(r[TEXT].split()) for r in rows]
    assert 80 <= np.median(words) <= 150
    assert np.percentile(words, 25) >= 60 and np.percentile(words, 75) <= 180


def test_oracle_aucs_in_range() -> None:
    dataset = simulate(4000, seed=21)
    auc = dataset.oracle_auc()
    assert 0.65 <= auc["profile"] <= 0.80
    assert 0.65 <= auc["text"] <= 0.80
    assert auc["both"] <= 0.92
    # Both components matter: the joint oracle beats each alone.
    assert auc["both"] > max(auc["profile"], auc["text"]) + 0.03


def test_cli_writes_train_test_and_oracle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "data"
    assert main(["--rows", "200", "--test-fraction", "0.25", "--seed", "9", "--out", str(out)]) == 0
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    test = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    assert (len(train), len(test)) == (150, 50)
    assert train + test == generate_rows(200, seed=9)
    oracle = json.loads((out / "oracle.json").read_text())
    assert oracle["generator_version"] == GENERATOR_VERSION
    assert (oracle["seed"], oracle["rows"], oracle["churn_rate_target"]) == (9, 200, 0.15)
    for split, part in (("train", train), ("test", test)):
        assert oracle[split]["rows"] == len(part)
        assert oracle[split]["churn_rate"] == pytest.approx(np.mean([r[LABEL] for r in part]), abs=1e-4)
        assert set(oracle[split]["oracle_auc"]) == {"profile", "text", "both"}
    assert "oracle AUC" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        ["--rows", "1"],
        ["--test-fraction", "1.5"],
        ["--churn-rate", "0"],
        ["--rows", "10", "--test-fraction", "0.01"],
    ],
)
def test_cli_rejects_bad_arguments(args: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main([*args, "--out", str(tmp_path)])
    assert exc.value.code == 2
    assert not (tmp_path / "train.jsonl").exists()
