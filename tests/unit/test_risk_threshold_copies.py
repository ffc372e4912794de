"""One source for the risk thresholds' defaults (churn_contracts.risk); every copy must match it.

The template's parameter defaults, the score function's settings and the figures quoted in the
READMEs are copies. This fails, naming the copy, when one drifts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from churn_contracts.risk import (
    DEFAULT_HIGH_RISK_THRESHOLD,
    DEFAULT_MEDIUM_RISK_THRESHOLD,
    HIGH_PARAMETER,
    MEDIUM_PARAMETER,
)
from churn_ops.template_rules import load_template

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = (DEFAULT_MEDIUM_RISK_THRESHOLD, DEFAULT_HIGH_RISK_THRESHOLD)
NUMBER = r"[0-9]*\.?[0-9]+"

# (file, pattern with a medium and a high group, in either order: "medium"/"high" name them).
DOC_COPIES = [
    ("README.md", rf"\*high\* (?P<high>{NUMBER}) .*?\*medium\* (?P<medium>{NUMBER})"),
    ("ops/README.md", rf"\| `MediumRiskThreshold` \| `(?P<medium>{NUMBER})` \|"),
    ("ops/README.md", rf"\| `HighRiskThreshold` \| `(?P<high>{NUMBER})` \|"),
    (
        "functions/README.md",
        rf'"thresholds": \{{"medium": (?P<medium>{NUMBER}), "high": (?P<high>{NUMBER})\}}',
    ),
    (
        "functions/README.md",
        rf"The template's defaults, (?P<medium>{NUMBER}) / (?P<high>{NUMBER}),",
    ),
    (
        "functions/README.md",
        rf"\| `MediumRiskThreshold` / `HighRiskThreshold` \| (?P<medium>{NUMBER}) / "
        rf"(?P<high>{NUMBER}) \|",
    ),
]


def test_template_defaults_are_the_contracts():
    parameters = load_template(ROOT / "template.yaml")["Parameters"]
    copies = (float(parameters[MEDIUM_PARAMETER]["Default"]), float(parameters[HIGH_PARAMETER]["Default"]))
    assert copies == DEFAULTS, "template.yaml's threshold defaults drifted from churn_contracts.risk"


def test_score_settings_default_to_the_contracts():
    from score_call.config import Settings, load_settings

    env = {
        name: "x"
        for name in (
            "CALLS_TABLE",
            "PROFILES_TABLE",
            "CUSTOMER_ALERTS_TABLE",
            "ALERT_TOPIC_ARN",
            "ENDPOINT_NAME",
            "JOB_NAME_PREFIX",
            "RECORDINGS_BUCKET",
        )
    }
    settings = load_settings(env)
    assert (settings.medium_risk_threshold, settings.high_risk_threshold) == DEFAULTS
    fields = Settings.__dataclass_fields__
    assert (fields["medium_risk_threshold"].default, fields["high_risk_threshold"].default) == DEFAULTS


@pytest.mark.parametrize(
    ("path", "pattern"), DOC_COPIES, ids=[f"{p}:{i}" for i, (p, _) in enumerate(DOC_COPIES)]
)
def test_readme_copies_match(path, pattern):
    text = (ROOT / path).read_text(encoding="utf-8")
    found = re.search(pattern, text, flags=re.DOTALL)
    assert found, f"{path}: the thresholds' sentence moved or changed; update DOC_COPIES here"
    expected = {"medium": DEFAULT_MEDIUM_RISK_THRESHOLD, "high": DEFAULT_HIGH_RISK_THRESHOLD}
    for name, value in found.groupdict().items():
        assert float(value) == expected[name], (
            f"{path}: {name} threshold {value} drifted from {expected[name]}"
        )


def test_the_drift_check_catches_a_changed_copy():
    path, pattern = DOC_COPIES[1]
    changed = (
        (ROOT / path)
        .read_text(encoding="utf-8")
        .replace("| `MediumRiskThreshold` | `0.11` |", "| `MediumRiskThreshold` | `0.15` |")
    )
    assert float(re.search(pattern, changed).group("medium")) != DEFAULT_MEDIUM_RISK_THRESHOLD
