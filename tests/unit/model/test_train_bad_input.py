"""Bad training input: every case gets a clear message naming where and what."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("sklearn")

from churn_contracts.endpoint import FeatureSpec
from churn_model import dataio
from churn_model.train import main

SPEC = FeatureSpec(("CustServ Calls", "Account Length"), ("plan",), ())


def row(y=0, **extra):
    return {"CustServ Calls": 1, "Account Length": 100, "plan": "A", "text": "fine", "y": y, **extra}


def write_jsonl(path, rows):
    path.write_text("".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows))
    return path


def load(path, spec=SPEC, **kwargs):
    return dataio.load(path, spec, label_name=kwargs.pop("label_name", "y"), **kwargs)


def test_malformed_json_line_is_reported_by_number(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [row(), row(1), '{"CustServ Calls": 1,\n', row()])
    with pytest.raises(dataio.DataError, match=r"train\.jsonl line 3: not valid JSON"):
        load(path)


def test_a_line_that_is_not_an_object_is_reported(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [row(), "[1, 2]\n"])
    with pytest.raises(dataio.DataError, match=r"line 2: expected a JSON object, got list"):
        load(path)


def test_csv_row_with_too_many_fields_is_reported_by_line_naming_the_delimiter(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("CustServ Calls,Account Length,plan,y\n1,100,A,0\n2,90,B,1,7\n3,80,C,1\n")
    with pytest.raises(
        dataio.DataError,
        match=r"train\.csv line 3: expected 4 fields, got 5; read with delimiter ',': .*--delimiter",
    ):
        load(path)


def test_a_short_csv_row_missing_its_label_is_reported_by_line(tmp_path):
    # pandas pads a short row with empty cells; the missing label is still named by line.
    path = tmp_path / "train.csv"
    path.write_text("CustServ Calls,Account Length,plan,y\n1,100,A,0\n2,90,B\n3,80,C,1\n")
    with pytest.raises(dataio.DataError, match=r"train\.csv line 3: the label is missing"):
        load(path)


def test_a_value_that_is_not_a_number_is_reported(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [row(), row(1, **{"Account Length": "long"})])
    with pytest.raises(
        dataio.DataError, match=r"line 2: column 'Account Length' must be a number, got 'long'"
    ):
        load(path)


def test_feature_columns_missing_from_the_data_are_named(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [row(), row(1)])
    spec = FeatureSpec(("CustServ Calls", "Day Mins", "Eve Mins"), ("plan",), ())
    with pytest.raises(
        dataio.DataError, match=r"feature columns named in the flags but missing.*'Day Mins', 'Eve Mins'"
    ):
        load(path, spec)


def test_missing_label_column_is_named(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", [row(), row(1)])
    with pytest.raises(dataio.DataError, match=r"label column named in the flags but missing.*\['churn'\]"):
        load(path, label_name="churn")


@pytest.mark.parametrize(
    ("value", "positive"),
    [("maybe", None), (2, None), ("True.", "churned"), (None, None)],
)
def test_unrecognised_label_values_are_refused(tmp_path, value, positive):
    path = write_jsonl(tmp_path / "train.jsonl", [row(0), row(value)])
    with pytest.raises(dataio.DataError, match=r"line 2: (label .* is neither|the label is missing)"):
        load(path, positive_label=positive)


@pytest.mark.parametrize(
    ("values", "positive", "expected"),
    [
        (["True.", "False.", "true", "FALSE"], None, [1, 0, 1, 0]),
        (["True.", "False.", "no", "0"], "True.", [1, 0, 0, 0]),
        ([1, 0, 1.0, "0.0"], None, [1, 0, 1, 0]),
        ([True, False, "yes", "n"], None, [1, 0, 1, 0]),
        (["churned", "0", "false", "no"], "churned", [1, 0, 0, 0]),
    ],
)
def test_label_spellings(values, positive, expected):
    assert [dataio.parse_label(v, positive, "here") for v in values] == expected


def test_empty_training_set(tmp_path):
    path = write_jsonl(tmp_path / "train.jsonl", ["\n", "  \n"])
    with pytest.raises(dataio.DataError, match=r"the training set is empty: no records in .*train\.jsonl"):
        load(path)


def test_a_directory_without_data_files(tmp_path):
    (tmp_path / "oracle.json").write_text("{}")
    with pytest.raises(dataio.DataError, match=r"no \.jsonl or \.csv files"):
        load(tmp_path)


def test_cli_reports_bad_input_as_one_clear_line(tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", [row(0), row("perhaps")])
    code = main(
        [
            "--train",
            str(train),
            "--model-dir",
            str(tmp_path / "model"),
            "--categorical-feature-names",
            "plan",
            "--textual-feature-names",
            "",
            "--no-progress",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: train.jsonl line 2: label 'perhaps' is neither")
    assert "Traceback" not in "\n".join(err)
    assert not (tmp_path / "model" / "model.joblib").exists()


def test_one_class_only_is_refused(tmp_path, capsys):
    train = write_jsonl(tmp_path / "train.jsonl", [row(0), row(0)])
    code = main(
        [
            "--train",
            str(train),
            "--model-dir",
            str(tmp_path / "model"),
            "--categorical-feature-names",
            "plan",
            "--textual-feature-names",
            "",
            "--no-progress",
        ]
    )
    assert code == 2
    assert "both classes are needed" in capsys.readouterr().err
