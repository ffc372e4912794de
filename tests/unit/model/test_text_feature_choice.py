"""``--text-features auto``: cross-validation chooses, the model check guards, thresholds are out of fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from churn_model import select
from churn_model.pipeline import SHRUNK
from churn_model.select import CandidateResult, choose

pytestmark = pytest.mark.slow


def _result(
    name: str, auc: float, *, seed_ok: bool | None = True, share: float | None = 0.95
) -> CandidateResult:
    return CandidateResult(name, auc, 0.5, 0.1, 1.0, seed_pair_ok=seed_ok, freeform_share=share)


# --- the rule ------------------------------------------------------------------------------------


def test_a_candidate_failing_the_seed_pair_is_never_picked_over_one_that_passes():
    results = [_result("intent", 0.90), _result("embedding", 0.99, seed_ok=False)]
    chosen, reason = choose(results)
    assert chosen == "intent"
    assert "failing the model check: embedding" in reason


def test_a_candidate_ordering_too_few_free_form_pairs_is_never_picked_over_one_that_passes():
    results = [_result("intent", 0.90, share=0.90), _result("embedding", 0.99, share=0.89)]
    assert choose(results)[0] == "intent"


def test_the_best_out_of_fold_auc_wins_among_those_that_pass():
    results = [_result("intent", 0.90), _result("axes", 0.95), _result("embedding", 0.99, share=0.5)]
    assert choose(results)[0] == "axes"


def test_a_tie_goes_to_the_simpler_candidate():
    results = [_result("intent", 0.950), _result("axes", 0.950 + select.TIE / 2)]
    chosen, reason = choose(results)
    assert chosen == "intent"
    assert "simpler" in reason
    assert choose([_result("intent", 0.95), _result("axes", 0.95 + 2 * select.TIE)])[0] == "axes"


def test_when_no_candidate_passes_the_best_auc_wins_and_says_so():
    results = [_result("intent", 0.90, seed_ok=False), _result("axes", 0.95, share=0.1)]
    chosen, reason = choose(results)
    assert chosen == "axes"
    assert "no candidate passes" in reason


def test_grouped_folds_never_split_a_group():
    labels = np.array([0, 1] * 60)
    groups = np.repeat(np.arange(12), 10)
    for train, held_out in select.fold_indices(labels, folds=4, seed=0, groups=groups):
        assert not set(groups[train]) & set(groups[held_out])


# --- on real training ----------------------------------------------------------------------------


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from churn_model.data.generate import generate_rows

    rows = generate_rows(420, seed=11)
    root = tmp_path_factory.mktemp("choice")
    train, test = rows[:300], rows[300:]
    # Another test file: other customers, every label flipped. Thresholds must not move.
    flipped = [{**row, "y": 1 - row["y"]} for row in generate_rows(150, seed=12)]
    return {
        "train": _write(root / "train.jsonl", train),
        "test": _write(root / "test.jsonl", test),
        "flipped": _write(root / "flipped.jsonl", flipped),
        "root": root,
    }


def _config(**overrides):
    from churn_model.train import TrainConfig

    settings = {"classifier": "logreg", "classifier_params": {"c": 0.1}, "progress": False, **overrides}
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def auto_model(data: dict[str, Path]):
    from churn_model.train import train_model

    return train_model(
        data["train"],
        data["root"] / "auto",
        test_path=data["test"],
        config=_config(),
        plots=False,
        checks=True,
        model_version="auto-test",
    )


def test_auto_cross_validates_every_candidate_and_stores_the_table_and_the_choice(auto_model):
    choice = auto_model.metrics["text_features"]
    assert choice["mode"] == "auto"
    # Logistic regression: the shrunk embedding would be intent+embedding again, so it is left out.
    expected = [c for c in select.CANDIDATES if c != SHRUNK]
    assert [c["text_features"] for c in choice["candidates"]] == expected
    assert choice["chosen"] in select.CANDIDATES
    assert choice["customers"] == 300 and choice["folds"] == select.DEFAULT_FOLDS
    for candidate in choice["candidates"]:
        assert 0.0 <= candidate["roc_auc"] <= 1.0
    # The check runs down from the best AUC to the first that passes: the chosen one was checked,
    # and every candidate scoring higher was checked and failed.
    kept = next(c for c in choice["candidates"] if c["text_features"] == choice["chosen"])
    assert kept["seed_pair_ok"] is not None and kept["freeform_share"] is not None
    for candidate in choice["candidates"]:
        if candidate["roc_auc"] > kept["roc_auc"] + select.TIE:
            assert candidate["guard_ok"] is False
    saved = json.loads((auto_model.model_dir / "model.json").read_text())
    assert saved["hyperparameters"]["text_features"] == choice["chosen"]
    assert saved["text_features"]["chosen"] == choice["chosen"]
    # The check block on the typical customer, for the model that was kept.
    assert auto_model.metrics["checks"]["profile"] == "reference"


def test_the_choice_is_deterministic_for_a_seed(data):
    from churn_model import dataio
    from churn_model.train import run_selection

    config = _config()
    records, labels = dataio.load(data["train"], config.spec, label_name="y")
    first = run_selection(records, labels, config)
    second = run_selection(records, labels, config)
    assert first.chosen == second.chosen
    assert [r.roc_auc for r in first.results] == [r.roc_auc for r in second.results]
    other = run_selection(records, labels, _config(seed=1))
    assert [r.roc_auc for r in other.results] != [r.roc_auc for r in first.results]  # the folds moved


def test_thresholds_come_from_out_of_fold_scores_and_never_read_the_test_file(data, auto_model):
    from churn_model.train import train_model

    thresholds = auto_model.metrics["thresholds"]
    assert thresholds["computed_on"] == "out_of_fold"
    assert thresholds["at_high"]["customers"] == 300
    assert thresholds["at_high"]["churners"] == auto_model.metrics["train"]["positives"]
    assert auto_model.metrics["out_of_fold"]["n"] == 300
    again = train_model(
        data["train"], None, test_path=data["flipped"], config=_config(), plots=False, model_version="x"
    )
    assert again.metrics["test"]["n"] == 150  # the other test file was read and scored
    assert again.metrics["thresholds"]["high"] == thresholds["high"]
    assert again.metrics["thresholds"]["medium"] == thresholds["medium"]
    assert again.metrics["thresholds"]["at_high"] == thresholds["at_high"]


def test_explicit_text_features_win(data):
    from churn_model.train import config_from_args, parse_args, train_model

    args = parse_args(["--best-flags", "--text-features", "axes", "--train", "-", "--model-dir", "-"])
    assert config_from_args(args).text_features == "axes"
    assert parse_args(["--train", "-", "--model-dir", "-"]).text_features == "auto"
    result = train_model(data["train"], None, config=_config(text_features="axes"), plots=False)
    choice = result.metrics["text_features"]
    assert choice["mode"] == "given" and choice["chosen"] == "axes"
    assert [c["text_features"] for c in choice["candidates"]] == ["axes"]
    assert result.metrics["thresholds"]["computed_on"] == "out_of_fold"


def test_the_auto_model_scores_a_record_alone_as_in_a_batch(data, auto_model):
    from churn_model import dataio
    from churn_model.artifact import load_model

    model = load_model(auto_model.model_dir)
    records, _ = dataio.load(data["test"], model.spec, label_name="y")
    records = records[:24]
    records[3] = {**records[3], "text": None}  # a record without a call
    batch = model.predict_proba(records)
    alone = np.array([model.predict_proba([record])[0] for record in records])
    np.testing.assert_allclose(alone, batch, rtol=0, atol=1e-6)


@pytest.mark.parametrize("features", ["intent+pca64", "intent+embedding", "intent+shrunk-embedding"])
def test_every_new_candidate_scores_a_record_alone_as_in_a_batch(data, features):
    from churn_model import dataio
    from churn_model.train import fit_pipeline, score

    config = _config(
        text_features=features, classifier="additive", classifier_params={"c": 0.1, "max_depth": 3}
    )
    records, labels = dataio.load(data["train"], config.spec, label_name="y")
    pipeline, _, _ = fit_pipeline(records[:150], labels[:150], config)
    sample = [*records[150:170], {**records[170], "text": None}]
    batch = score(pipeline, sample, config.spec)
    alone = np.array([score(pipeline, [record], config.spec)[0] for record in sample])
    np.testing.assert_allclose(alone, batch, rtol=0, atol=1e-6)
    encoder = next(e for _, e, _ in pipeline.named_steps["features"].transformers_ if hasattr(e, "width"))
    texts = [record["text"] for record in sample[:2]]
    assert (
        encoder.transform(texts).shape == (2, encoder.width()) == (2, 1 + (64 if "pca" in features else 384))
    )
