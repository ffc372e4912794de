"""`python -m churn_ops.stack check`: samconfig.toml's parameters against the template's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from churn_ops.stack import main, parse_overrides, samconfig_overrides

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_parse_overrides_reads_sams_quoting():
    assert parse_overrides('A="x y" B=2 C=""') == {"A": "x y", "B": "2", "C": ""}
    assert parse_overrides(["A=1", 'B="2 3"']) == {"A": "1", "B": "2 3"}
    with pytest.raises(ValueError, match="Name=Value"):
        parse_overrides("oops")


def test_default_environment_passes(capsys):
    assert main(["check"]) == 0
    assert "parameters OK (default)" in capsys.readouterr().out


def test_prod_fails_on_the_placeholder_until_the_model_url_is_set(capsys):
    assert samconfig_overrides(ROOT / "samconfig.toml", "prod")["ModelDataUrl"].startswith("s3://replace-me")
    assert main(["check", "--config-env", "prod"]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith("error: invalid stack parameters") and "placeholder" in err and "Traceback" not in err
    )
    assert (
        main(
            ["check", "--config-env", "prod", "--parameter-overrides", "ModelDataUrl=s3://models-a/m.tar.gz"]
        )
        == 0
    )


def test_misordered_thresholds_fail_before_any_deploy(capsys):
    code = main(["check", "--parameter-overrides", "MediumRiskThreshold=0.6", "HighRiskThreshold=0.4"])
    assert code == 1
    assert "MediumRiskThreshold (0.6) must be at most HighRiskThreshold (0.4)" in capsys.readouterr().err
