"""Training end to end: the local command, SageMaker mode, CSV with other names, tabular only."""

from __future__ import annotations

import csv
import json
import random

import numpy as np
import pytest

pytest.importorskip("sklearn")

from churn_model.artifact import load_model
from churn_model.train import main


def public_style_csv(path, n=240, seed=0):
    """A CSV shaped like the public telecom churn data: other names, True./False. labels."""
    rng = random.Random(seed)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["State", "Account Length", "Int'l Plan", "Day Mins", "CustServ Calls", "Churn?"])
        for _ in range(n):
            calls = rng.randint(0, 7)
            day = rng.uniform(50, 350)
            plan = rng.choice(["yes", "no"])
            risk = 0.15 * calls + (day > 260) * 0.9 + (plan == "yes") * 0.5
            churn = rng.random() < risk / 2.5
            day_text = "" if rng.random() < 0.05 else f"{day:.1f}"  # a few missing values
            writer.writerow(
                [
                    rng.choice(["NY", "CA", "TX"]),
                    rng.randint(1, 200),
                    plan,
                    day_text,
                    calls,
                    "True." if churn else "False.",
                ]
            )
    return path


TABULAR_FLAGS = [
    "--numerical-feature-names",
    "Account Length,Day Mins,CustServ Calls",
    "--categorical-feature-names",
    "State,Int'l Plan",
    "--textual-feature-names",
    "",
    "--label-name",
    "Churn?",
    "--positive-label",
    "True.",
    "--no-progress",
]


def test_csv_with_other_names_and_true_false_labels_tabular_only(tmp_path, capsys):
    train = public_style_csv(tmp_path / "train.csv", seed=1)
    test = public_style_csv(tmp_path / "test.csv", n=120, seed=2)
    model_dir = tmp_path / "model"
    code = main(
        [
            "--train",
            str(train),
            "--test",
            str(test),
            "--model-dir",
            str(model_dir),
            # The seed's forest (no longer the default since issue 20: the best flags are).
            "--classifier",
            "rf",
            "--n-estimators",
            "40",
            "--max-depth",
            "none",
            "--min-samples-leaf",
            "1",
            *TABULAR_FLAGS,
        ]
    )
    assert code == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "test  n=   120 auc=" in out

    features = json.loads((model_dir / "feature_names.json").read_text())
    assert features["numerical"] == ["Account Length", "Day Mins", "CustServ Calls"]
    assert features["text"] == []
    assert features["label"] == {"name": "Churn?", "positive": "True."}
    assert not (model_dir / "encoder").exists()  # tabular only: no encoder files needed

    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["test"]["roc_auc"] > 0.65  # the signal above is learnable
    for name in ("roc.png", "precision_recall.png", "calibration.png"):
        assert (model_dir / name).stat().st_size > 1000

    model = load_model(model_dir)
    p = model.predict_proba(
        [
            {
                "Account Length": 10,
                "Day Mins": 320.0,
                "CustServ Calls": 6,
                "State": "NY",
                "Int'l Plan": "yes",
            },
            {},
        ]
    )
    assert p.shape == (2,)
    assert p.min() >= 0.0 and p.max() <= 1.0


@pytest.mark.parametrize("classifier", ["hgb", "logreg"])
def test_other_classifiers_train(tmp_path, classifier, capsys):
    train = public_style_csv(tmp_path / "train.csv", seed=3)
    code = main(
        [
            "--train",
            str(train),
            "--model-dir",
            str(tmp_path / "m"),
            "--classifier",
            classifier,
            "--class-weight",
            "balanced",
            "--n-estimators",
            "30",
            "--no-plots",
            *TABULAR_FLAGS,
        ]
    )
    assert code == 0, capsys.readouterr().err
    metadata = json.loads((tmp_path / "m" / "model.json").read_text())
    assert metadata["classifier"] == classifier
    assert metadata["hyperparameters"]["class_weight"] == "balanced"
    assert 0.0 <= metadata["thresholds"]["medium"] <= metadata["thresholds"]["high"] <= 1.0


def test_sagemaker_mode_reads_channels_and_writes_serving_code(tmp_path, monkeypatch, capsys):
    channels = {name: tmp_path / "input" / name for name in ("train", "test")}
    for name, folder in channels.items():
        folder.mkdir(parents=True)
        public_style_csv(folder / f"{name}.csv", n=150, seed=len(name))
    model_dir, output = tmp_path / "model", tmp_path / "output"
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(channels["train"]))
    monkeypatch.setenv("SM_CHANNEL_TEST", str(channels["test"]))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(output))
    pytest.importorskip("churn_model.serving.package")

    assert main(["--n-estimators", "20", *TABULAR_FLAGS]) == 0, capsys.readouterr().err
    assert (model_dir / "model.joblib").is_file()
    assert (model_dir / "code" / "inference.py").is_file()
    assert json.loads((output / "metrics.json").read_text())["test"]["n"] == 150


def test_reports_missing_paths_clearly(tmp_path, capsys, monkeypatch):
    for name in ("SM_MODEL_DIR", "SM_CHANNEL_TRAIN", "SM_CHANNEL_TEST", "SM_OUTPUT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        main(["--model-dir", str(tmp_path)])
    assert "--train is required" in capsys.readouterr().err
    assert main(["--train", str(tmp_path / "nope.jsonl"), "--model-dir", str(tmp_path / "m")]) == 2
    assert "no such file or directory" in capsys.readouterr().err


@pytest.mark.slow
def test_tiny_model_artifact_is_complete(tiny_model_dir):
    names = {p.name for p in tiny_model_dir.iterdir()}
    assert {
        "model.joblib",
        "feature_names.json",
        "model.json",
        "metrics.json",
        "encoder",
        "roc.png",
        "precision_recall.png",
        "calibration.png",
    } <= names
    assert (tiny_model_dir / "encoder" / "model.safetensors").is_file()
    assert (tiny_model_dir / "encoder" / "modules.json").is_file()
    # The pipeline refers to the encoder; it does not carry its 90 MB of weights.
    assert (tiny_model_dir / "model.joblib").stat().st_size < 5_000_000

    metadata = json.loads((tiny_model_dir / "model.json").read_text())
    assert metadata["model_version"] == "tiny-test-model"
    assert metadata["created_at"].endswith("Z")
    assert metadata["versions"]["scikit-learn"]
    assert metadata["versions"]["sentence-transformers"]
    assert metadata["encoder"]["path"] == "encoder"

    metrics = json.loads((tiny_model_dir / "metrics.json").read_text())
    for split in ("train", "test"):
        assert set(metrics[split]) >= {"accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc", "brier"}
    assert metrics["oracle"]["roc_auc"] > 0.5  # the generator's oracle.json was found beside the data
    assert np.isfinite(metrics["test"]["roc_auc"])


def test_best_flags_become_the_defaults_and_explicit_flags_still_win():
    from churn_contracts import features
    from churn_model.train import config_from_args, parse_args

    seed = config_from_args(parse_args(["--train", "t.jsonl", "--model-dir", "m"]))
    # Since issue 20 no model flags at all train the best flags (the seed's forest: --classifier rf).
    assert seed.classifier == "additive" and seed.n_estimators == 300 and seed.text_features == "auto"
    forest = config_from_args(parse_args(["--train", "t", "--model-dir", "m", "--classifier", "rf"]))
    assert forest.classifier == "rf" and "c" not in forest.classifier_params
    # Without name flags and without data to look at: the names table.
    assert seed.spec.numerical == features.NUMERICAL and seed.label_name == features.LABEL
    named = config_from_args(
        parse_args(
            ["--train", "t", "--model-dir", "m", "--numerical-feature-names", "CustServ Calls,Account Length"]
        )
    )
    assert named.spec.numerical == ("CustServ Calls", "Account Length")  # the seed's flag names still work

    best = config_from_args(parse_args(["--train", "t.jsonl", "--model-dir", "m", "--best-flags"]))
    assert best.classifier == "additive" and best.n_estimators == 300
    assert best.classifier_params == {
        "max_depth": 3,
        "min_samples_leaf": 40,
        "learning_rate": 0.05,
        "c": 0.01,
    }
    assert best.spec.numerical == features.NUMERICAL and best.spec.categorical == features.CATEGORICAL
    assert best.text_granularity == "text" and best.text_features == "auto"
    # --best-flags sets model hyperparameters only: no column names, so it fits any data.
    from churn_model.best_flags import BEST_FLAGS

    assert not any(key.endswith(("feature-names", "label-name")) for key in BEST_FLAGS)

    tuned = config_from_args(
        parse_args(["--train", "t.jsonl", "--model-dir", "m", "--best-flags", "--c", "0.5"])
    )
    assert tuned.classifier == "additive" and tuned.classifier_params["c"] == 0.5
    raw = config_from_args(
        parse_args(
            [
                "--train",
                "t",
                "--model-dir",
                "m",
                "--best-flags",
                "--text-features",
                "embedding",
                "--classifier",
                "hgb",
            ]
        )
    )
    assert raw.text_features == "embedding" and raw.classifier == "hgb" and raw.n_estimators == 300
