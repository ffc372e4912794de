"""``make loop`` end to end, small: calls through the local stack, outcomes back by the alert's
link, the API and a CRM import, training data from the stack, a candidate promoted into the
registry and served without a restart, a shuffled-label control refused.

The promote rule itself (paired bootstrap, refusing a model trained on shuffled labels on the
generator's rows) is tested in tests/unit/outcomes/test_promote.py; here it runs on what the
stack recorded."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

pytestmark = [pytest.mark.local, pytest.mark.slow, pytest.mark.model]

ROOT = Path(__file__).resolve().parents[2]


def test_outcomes_train_a_candidate_that_is_promoted_and_served(tmp_path: Path) -> None:
    from churn_local.loop import run

    result = run(
        calls=100,
        day_one_rows=40,
        work=tmp_path / "loop",
        template=ROOT / "template.yaml",
        bootstrap=300,
        model_check=False,
    )

    # Every route was used, and each recorded outcome is one training row with its label.
    assert all(result.recorded[route] for route in ("link", "api", "import")), result.recorded
    recorded = {c: o for found in result.recorded.values() for c, o in found.items()}
    assert len(recorded) == sum(len(found) for found in result.recorded.values())  # one route each
    assert result.data_dir is not None
    rows = [
        json.loads(line)
        for name in ("train.jsonl", "test.jsonl")
        for line in (result.data_dir / name).read_text().splitlines()
    ]
    per_customer = Counter(row["customer_id"] for row in rows)
    assert set(per_customer) == set(recorded) and set(per_customer.values()) == {1}
    for row in rows:
        assert row["y"] == (1 if recorded[row["customer_id"]] == "churned" else 0), row["customer_id"]
    # The CRM export repeated five API outcomes and was imported twice: none recorded again.
    assert result.duplicates_refused == 5 + len(result.recorded["import"]) + 5

    # The candidate beat the day-one model, was approved, and the endpoint serves it (the next
    # call's item says so); the control trained on shuffled labels was rejected.
    candidates = [v for v in result.decisions if v.startswith("loop-candidate-")]
    assert len(candidates) == 1
    (candidate,) = candidates
    assert result.decisions[candidate] is True and result.packages[candidate] == "Approved"
    assert result.decisions["loop-shuffled-labels"] is False
    assert result.packages["loop-shuffled-labels"] == "Rejected"
    assert result.served_before == "loop-day-one"
    assert result.served_after == candidate == result.scored_after
