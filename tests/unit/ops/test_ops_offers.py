"""python -m churn_ops.offers validate: schema, parser and example customers."""

from __future__ import annotations

import json

import pytest
from churn_ops import offers

pytest.importorskip("jsonschema")

DEFAULT = offers.REPO / "offers" / "default-rules.json"


def test_the_default_rules_pass(capsys):
    assert offers.main(["validate", str(DEFAULT)]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "FAIL" not in out


def test_a_schema_breach_fails_with_its_path(tmp_path, capsys):
    document = json.loads(DEFAULT.read_text())
    document["rules"][1]["when"]["profile"] = [{"field": "plan", "op": ">", "value": "B"}]
    document["rules"][2]["priority"] = "high"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    assert offers.main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "$.rules[1].when.profile[0]" in err
    assert "$.rules[2].priority" in err


def test_an_example_customer_that_gets_another_offer_fails(tmp_path, capsys):
    document = json.loads(DEFAULT.read_text())
    for rule in document["rules"]:
        if rule["offer_id"] == "match-competitor-12m":
            rule["priority"] = 5  # now below the device offer
            rule["when"]["topics_any"] = ["device"]  # and about something else
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    assert offers.main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert "FAIL competitor offer: no offer" in captured.out
    assert "expected match-competitor-12m" in captured.err


def test_unreached_rules_are_a_warning_and_examples_can_be_skipped(tmp_path, capsys):
    examples = tmp_path / "examples.jsonl"
    examples.write_text(json.dumps({"name": "nobody", "profile": {}, "topics": [], "expect": None}) + "\n")
    assert offers.main(["validate", str(DEFAULT), "--examples", str(examples)]) == 0
    assert "warning: no example reaches" in capsys.readouterr().out
    assert offers.main(["validate", str(DEFAULT), "--no-examples"]) == 0


def test_not_json_and_a_bad_examples_file(tmp_path, capsys):
    bad = tmp_path / "rules.json"
    bad.write_text("{")
    assert offers.main(["validate", str(bad)]) == 1
    examples = tmp_path / "examples.jsonl"
    examples.write_text('{"profile": {}}\n')
    assert offers.main(["validate", str(DEFAULT), "--examples", str(examples)]) == 2
