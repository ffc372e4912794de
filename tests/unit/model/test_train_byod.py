"""Bring your own data: the issue's four verbatim errors, column inference, and no skew on types.

Every file here is shaped like the public telecom churn data (its column names, ``True.``/
``False.`` labels); training is tabular-only so no text is encoded.
"""

from __future__ import annotations

import csv
import gzip
import json
import random

import numpy as np
import pytest

pytest.importorskip("sklearn")

from churn_contracts.endpoint import FeatureSpec
from churn_model import dataio
from churn_model.train import main

COLUMNS = [
    "State",
    "Account Length",
    "Area Code",
    "Phone",
    "Int'l Plan",
    "Day Mins",
    "CustServ Calls",
    "Churn?",
]
FAST = [
    "--classifier",
    "hgb",
    "--n-estimators",
    "20",
    "--no-progress",
    "--no-plots",
    "--textual-feature-names",
    "",
]


def public_rows(n=240, seed=0, na_every=0, plan_words=True):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        calls, day, plan = rng.randint(0, 7), rng.uniform(50, 350), rng.choice([0, 1])
        churn = rng.random() < (0.15 * calls + (day > 260) * 0.9 + plan * 0.5) / 2.5
        day_value = "NA" if na_every and i % na_every == 3 else round(day, 1)
        rows.append(
            [
                rng.choice(["NY", "CA", "TX", "OH"]),
                rng.randint(1, 200),
                rng.choice([408, 415, 510]),
                f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                ("yes" if plan else "no") if plan_words else plan,
                day_value,
                calls,
                "True." if churn else "False.",
            ]
        )
    return rows


def write_delimited(path, rows, delimiter=",", encoding="utf-8", header=COLUMNS):
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def train(tmp_path, train_file, *flags):
    return main(["--train", str(train_file), "--model-dir", str(tmp_path / "model"), *FAST, *flags])


# --- the four errors of issue 11, section 5 ------------------------------------------


def test_a_tab_separated_txt_file_trains_with_inferred_columns(tmp_path, capsys):
    # Was: "churn.txt line 1: not valid JSON".
    path = write_delimited(tmp_path / "churn.txt", public_rows(), delimiter="\t")
    assert train(tmp_path, path) == 0
    out = capsys.readouterr().out
    assert "label       (inferred): Churn?" in out
    assert "categorical (inferred): State, Int'l Plan" in out
    assert "ignored: Phone" in out
    assert "resolved flags" in out and "--label-name 'Churn?'" in out
    model = json.loads((tmp_path / "model" / "model.json").read_text())
    assert model["hyperparameters"]["spec"]["numerical"] == [
        "Account Length",
        "Area Code",
        "Day Mins",
        "CustServ Calls",
    ]


def test_na_cells_are_missing_values_not_errors(tmp_path):
    # Was: "column 'Day Mins' must be a number, got 'NA'".
    path = write_delimited(tmp_path / "train.csv", public_rows(na_every=10))
    records, _ = dataio.load(path, FeatureSpec(("Day Mins",), (), ()), label_name="Churn?")
    assert sum(r["Day Mins"] is None for r in records) == 24
    assert train(tmp_path, path) == 0


def test_a_really_wrong_value_is_still_named_by_line_with_the_fix(tmp_path):
    rows = public_rows()
    rows[4][5] = "lots"
    path = write_delimited(tmp_path / "train.csv", rows)
    with pytest.raises(
        dataio.DataError,
        match=r"train\.csv line 6: column 'Day Mins' must be a number, got 'lots'.*--na-values",
    ):
        dataio.load(path, FeatureSpec(("Day Mins",), (), ()), label_name="Churn?")


def test_a_semicolon_file_is_sniffed_and_a_wrong_delimiter_names_the_flag(tmp_path, capsys):
    # Was: "semicolon.csv line 5: expected 1 fields, got 2" (a comma inside a field on line 5).
    rows = public_rows()
    rows[3][0] = "NY, upstate"
    path = write_delimited(tmp_path / "semicolon.csv", rows, delimiter=";")
    assert train(tmp_path, path) == 0
    capsys.readouterr()
    assert train(tmp_path, path, "--delimiter", ",") == 2
    err = capsys.readouterr().err
    assert "semicolon.csv line 5: expected 1 fields, got 2; read with delimiter ','" in err
    assert "set --delimiter" in err and "Traceback" not in err


def test_a_latin1_file_names_the_encoding_flag_and_trains_with_it(tmp_path, capsys):
    # Was: "not UTF-8 text (invalid continuation byte ...)", with no way to name an encoding.
    rows = public_rows()
    for row in rows[::3]:
        row[0] = "Québec"
    path = write_delimited(tmp_path / "latin.csv", rows, encoding="latin-1")
    assert train(tmp_path, path) == 2
    err = capsys.readouterr().err
    assert "latin.csv: not UTF-8 text (invalid continuation byte" in err and "--encoding" in err
    assert train(tmp_path, path, "--encoding", "latin-1") == 0


# --- formats ------------------------------------------------------------------------


def test_gzip_bom_and_parquet_read_the_same_records(tmp_path):
    rows = public_rows(n=30)
    plain = write_delimited(tmp_path / "plain.csv", rows)
    bom = write_delimited(tmp_path / "bom.csv", rows, encoding="utf-8-sig")
    zipped = tmp_path / "zipped.csv.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    spec = FeatureSpec(("Account Length", "Day Mins"), ("State", "Area Code"), ())
    expected = dataio.load(plain, spec, label_name="Churn?")
    for path in (bom, zipped):
        records, labels = dataio.load(path, spec, label_name="Churn?")
        assert records == expected[0] and labels.tolist() == expected[1].tolist()
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.read_csv(plain)
    frame.to_parquet(tmp_path / "data.parquet")
    records, labels = dataio.load(tmp_path / "data.parquet", spec, label_name="Churn?")
    assert records == expected[0] and labels.tolist() == expected[1].tolist()


def test_column_inference_picks_the_longest_free_text_and_skips_ids():
    dataset = dataio.Dataset()
    rng = random.Random(3)
    for i in range(200):
        record = {
            "customer_id": f"C{i}",
            "tenure": rng.randint(1, 60),
            "plan": rng.choice(["A", "B"]),
            "note": rng.choice(["ok", "vip", "new"]),
            "summary": f"called about the bill on day {i}",
            "transcript": "well I have been a customer for years and " * rng.randint(2, 4) + str(i),
            "churned": rng.choice([True, False]),
        }
        dataset.records.append(record)
        dataset.where.append(f"line {i + 1}")
        dataset.add_columns(record)
    columns = dataio.infer_columns(dataset)
    assert columns.label == "churned"
    assert columns.numerical == ("tenure",)
    assert columns.categorical == ("plan", "note")
    assert columns.text == ("transcript",)
    assert "customer_id" in columns.ignored and "summary" in columns.ignored
    flagged = dataio.infer_columns(dataset, text=(), categorical=("plan",))
    assert flagged.text == () and flagged.categorical == ("plan",) and flagged.how["text"] == "flag"


def test_an_unknown_label_column_asks_for_the_flag():
    dataset = dataio.Dataset(records=[{"a": 1, "b": "x"}], where=["line 1"])
    dataset.add_columns(["a", "b"])
    with pytest.raises(dataio.DataError, match="set --label-name to one of: a, b"):
        dataio.infer_columns(dataset)


# --- section 4: no skew on types ----------------------------------------------------------


def test_numbers_in_categorical_columns_train_and_serve_to_the_same_scores(tmp_path):
    """Train from JSON Lines where Area Code and Int'l Plan are numbers, then serve the same
    records through the SageMaker handlers: no 400, and the scores equal the in-process ones."""
    from churn_model.artifact import load_model
    from churn_model.serving import handlers

    records = [dict(zip(COLUMNS, row, strict=True)) for row in public_rows(n=300, seed=5, plan_words=False)]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    flags = [
        "--numerical-feature-names",
        "Account Length,Day Mins,CustServ Calls",
        "--categorical-feature-names",
        "Area Code,Int'l Plan,State",
        "--label-name",
        "Churn?",
    ]
    assert train(tmp_path, path, *flags) == 0
    model_dir = tmp_path / "model"
    sample = records[:40]
    assert isinstance(sample[0]["Area Code"], int) and isinstance(sample[0]["Int'l Plan"], int)

    model = handlers.model_fn(str(model_dir))
    body = json.dumps({"instances": sample})
    result = handlers.predict_fn(handlers.input_fn(body, "application/json"), model)
    payload, _ = handlers.output_fn(result, "application/json")
    answer = json.loads(payload)
    assert "predictions" in answer, answer
    served = np.array([p["probability"] for p in answer["predictions"]])

    # What training saw for the same rows: the strings "415" and "1", read by dataio.
    spec = load_model(model_dir).spec
    trained_records, _ = dataio.load(path, spec, label_name="Churn?")
    assert trained_records[0]["Area Code"] == str(sample[0]["Area Code"])
    in_process = load_model(model_dir).predict_proba(trained_records[:40])
    np.testing.assert_allclose(served, in_process, rtol=0, atol=1e-12)
    # And the one-hot encoder knows the canonical strings: Area Code is not all "unknown".
    pipeline = load_model(model_dir).pipeline
    onehot = pipeline.named_steps["features"].named_transformers_["categorical"]
    assert "415" in list(onehot.categories_[0])
