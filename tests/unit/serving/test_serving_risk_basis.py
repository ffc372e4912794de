"""The alert's risk words from the model itself (issue 22 s4): training stores the churn period
(``--churn-period``) beside the out-of-fold precision at the high threshold in metrics.json, and
every answer carries that ``risk_basis``, read once when the model loads.

A real model: the training command on a small tabular CSV, served through the SageMaker handlers.
"""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("sklearn")

from churn_contracts.endpoint import JSON, JSON_LINES, RiskBasis, parse_score
from churn_model.artifact import load_model
from churn_model.serving import handlers
from churn_model.serving.handlers import Invocation, output_fn, predict_fn
from churn_model.train import main

from tests.unit.model.test_train_cli import TABULAR_FLAGS, public_style_csv

pytestmark = pytest.mark.model

RECORD = {"Account Length": 20, "Day Mins": 300.0, "CustServ Calls": 5, "State": "NY", "Int'l Plan": "yes"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("risk-basis")
    train = public_style_csv(folder / "train.csv", seed=3)
    flags = ["--train", str(train), "--model-dir", str(folder / "model"), "--n-estimators", "20"]
    assert main([*flags, *TABULAR_FLAGS, "--no-plots", "--churn-period", " 90  days "]) == 0
    return folder / "model"


def answer(model, body, content_type=JSON):
    result = predict_fn(Invocation(body if isinstance(body, str) else json.dumps(body), content_type), model)
    payload, _ = output_fn(result, content_type)
    if content_type == JSON_LINES:
        return [json.loads(line) for line in payload.decode().splitlines()]
    return json.loads(payload)


def test_training_stores_the_churn_period_in_metrics_and_the_model_card(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["churn_period"] == "90 days"  # one line, spaces folded
    assert json.loads((trained / "model.json").read_text())["churn_period"] == "90 days"
    assert metrics["thresholds"]["computed_on"] == "out_of_fold"


def test_a_churn_period_too_long_for_an_alert_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--train", "x.csv", "--model-dir", str(tmp_path), "--churn-period", "d" * 65])
    assert exit_.value.code == 2 and "at most 64 characters" in capsys.readouterr().err


def test_every_answer_carries_the_models_risk_basis(trained):
    model = load_model(trained)
    at_high = json.loads((trained / "metrics.json").read_text())["thresholds"]
    expected = RiskBasis(
        threshold=at_high["high"],
        precision=at_high["at_high"]["precision"],
        flagged=at_high["at_high"]["flagged"],
        customers=at_high["at_high"]["customers"],
        churners=at_high["at_high"]["churners"],
        period="90 days",
        computed_on="out_of_fold",
    )
    assert expected.customers == 240 and 0 < expected.flagged <= expected.customers
    single = answer(model, RECORD)
    assert parse_score(json.dumps(single)).risk_basis == expected
    # The same static figures alone, in a batch and in JSON Lines: never per-record data.
    batch = answer(model, {"instances": [RECORD, {**RECORD, "State": "ZZ"}]})["predictions"]
    lines = answer(model, "\n".join(json.dumps(r) for r in (RECORD, RECORD)), JSON_LINES)
    assert {json.dumps(p["risk_basis"], sort_keys=True) for p in [single, *batch, *lines]} == {
        json.dumps(expected.to_json(), sort_keys=True)
    }


def test_the_basis_is_read_once_at_load(trained, tmp_path):
    copy = shutil.copytree(trained, tmp_path / "model")
    model = load_model(copy)
    first = handlers.risk_basis(model)
    (copy / "metrics.json").write_text("{}")  # a changed file under a running model changes nothing
    assert answer(model, RECORD)["risk_basis"] == first.to_json()


@pytest.mark.parametrize("metrics", [None, "not json", {"thresholds": {"high": 0.5}}])
def test_a_model_without_the_figures_answers_without_a_risk_basis(trained, tmp_path, metrics, caplog):
    copy = shutil.copytree(trained, tmp_path / "model")
    if metrics is None:
        (copy / "metrics.json").unlink()
    else:
        (copy / "metrics.json").write_text(metrics if isinstance(metrics, str) else json.dumps(metrics))
    scored = answer(load_model(copy), RECORD)
    assert "risk_basis" not in scored and 0 <= scored["probability"] <= 1
    assert parse_score(json.dumps(scored)).risk_basis is None
    assert "answers will not carry a risk basis" in caplog.text
