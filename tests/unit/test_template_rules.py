"""template.yaml's parameter Rules and constraints, evaluated as CloudFormation would.

``churn_ops.template_rules.check_parameters`` is the evaluator the local stack (at ``stack up``) and
``python -m churn_ops.stack check`` (before ``sam deploy``) use; here it runs against every case
the rules are meant to catch, and against samconfig.toml's own settings.
"""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest
from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD
from churn_ops.template_rules import ParameterError, check_parameters, load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
MODEL = "s3://my-models/churn/model.tar.gz"


def problems(**overrides: object) -> str:
    try:
        check_parameters(TEMPLATE, overrides)
    except ParameterError as exc:
        return str(exc)
    return ""


def test_defaults_pass_and_come_back_as_values():
    values = check_parameters(TEMPLATE)
    assert values["MediumRiskThreshold"] == str(DEFAULT_MEDIUM_RISK_THRESHOLD)
    assert values["HighRiskThreshold"] == str(DEFAULT_HIGH_RISK_THRESHOLD)
    assert check_parameters(TEMPLATE, {"ModelDataUrl": MODEL})["ModelDataUrl"] == MODEL


@pytest.mark.parametrize("minimum", range(1, 11))
def test_instance_bounds_rule_accepts_exactly_the_ordered_pairs(minimum):
    for maximum in range(1, 13):
        found = problems(ModelDataUrl=MODEL, EndpointMinInstances=minimum, EndpointMaxInstances=maximum)
        if minimum <= maximum:
            assert found == "", (minimum, maximum, found)
        else:
            assert "EndpointInstancesInOrder: EndpointMaxInstances must be at least" in found, (
                minimum,
                maximum,
            )


def test_minimum_above_the_enumerated_range_is_refused_by_its_constraint():
    assert "EndpointMinInstances: 11 is above the maximum 10" in problems(
        EndpointMinInstances=11, EndpointMaxInstances=20
    )


def test_the_model_url_placeholder_is_refused_with_a_clear_message():
    found = problems(ModelDataUrl="s3://replace-me-model-bucket/churn/model.tar.gz")
    assert "ModelDataUrlIsNotThePlaceholder: ModelDataUrl is still samconfig.toml's placeholder" in found
    # The old upper-case placeholder never reached the rule: bucket names are lower case.
    assert "does not match empty, or s3://" in problems(
        ModelDataUrl="s3://REPLACE-ME-model-bucket/churn/model.tar.gz"
    )


def test_every_samconfig_environment_either_passes_or_only_lacks_its_model_url():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    checked = 0
    for env, commands in config.items():
        if not isinstance(commands, dict) or "deploy" not in commands:
            continue
        text = commands["deploy"]["parameters"].get("parameter_overrides", "")
        overrides = dict(pair.split("=", 1) for pair in shlex.split(text))
        found = problems(**overrides)
        checked += 1
        if "ModelDataUrl" in overrides:  # the placeholder: the rule, and nothing else, stops it
            assert found.count("\n  ") == 1 and "ModelDataUrlIsNotThePlaceholder" in found, (env, found)
            overrides["ModelDataUrl"] = MODEL
        assert problems(**overrides) == "", env
    assert checked == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"MediumRiskThreshold": 0.5, "HighRiskThreshold": 0.4},
            "MediumRiskThreshold (0.5) must be at most HighRiskThreshold (0.4)",
        ),
        ({"HighRiskThreshold": 1.2}, "HighRiskThreshold: 1.2 is above the maximum 1"),
        ({"EndpointInstanceType": "ml.p5.48xlarge"}, "EndpointInstanceType: 'ml.p5.48xlarge' is not one of"),
        ({"EndpointName": "Churn_Risk"}, "EndpointName: 'Churn_Risk' does not match lower-case letters"),
        ({"AlertSuppressionDays": "soon"}, "AlertSuppressionDays: 'soon' is not a number"),
        ({"HighRiskTreshold": 0.5}, "HighRiskTreshold: not a parameter of this template"),
    ],
)
def test_bad_values_are_named(overrides, message):
    assert message in problems(**overrides)


def test_all_problems_are_listed_at_once():
    found = problems(EndpointInstanceType="t2.micro", AlertSuppressionDays="-1")
    assert "EndpointInstanceType" in found and "AlertSuppressionDays" in found
