"""The template-disjoint split: no test call reuses a phrase template a training call uses."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from churn_model.data import grammar
from churn_model.data.generate import generate_rows, simulate, write_dataset


def banks() -> Iterator[tuple[str, ...]]:
    """Every phrase bank in the grammar module (tuples of templates, possibly nested in dicts)."""

    def walk(node: object) -> Iterator[tuple[str, ...]]:
        if isinstance(node, tuple) and node and all(isinstance(t, str) for t in node):
            yield node
        elif isinstance(node, dict):
            for value in node.values():
                yield from walk(value)

    for name, value in vars(grammar).items():
        if name.isupper() and name not in ("SLOTS", "TOPIC_THINGS"):  # slot values, not templates
            yield from walk(value)


def test_every_bank_splits_into_two_disjoint_non_empty_halves() -> None:
    seen = 0
    for bank in banks():
        train, test = grammar.template_family(bank, "train"), grammar.template_family(bank, "test")
        if len(bank) < 2:
            assert train == test == bank
            continue
        seen += 1
        assert train and test, bank
        assert not set(train) & set(test)
        assert set(train) | set(test) == set(bank)
    assert seen > 40


def test_test_calls_use_no_training_only_template() -> None:
    train_only, test_all = set(), set()
    for bank in banks():
        train = set(grammar.template_family(bank, "train"))
        test = set(grammar.template_family(bank, "test"))
        test_all |= test
        train_only |= train - test
    # Templates without slots, long enough to be recognisable, and not inside any test template.
    tests_lower = [u.lower() for u in test_all]
    stripped = {t.lower().rstrip(".!?,") for t in train_only if "{" not in t and len(t.split()) >= 4}
    probes = [p for p in stripped if not any(p in u for u in tests_lower)]
    assert len(probes) > 100
    dataset = simulate(400, seed=11, template_split_at=200)
    train_texts = " ".join(r["text"].lower() for r in dataset.rows[:200])
    test_texts = " ".join(r["text"].lower() for r in dataset.rows[200:])
    assert sum(p in train_texts for p in probes) > 50  # the probes do occur, in training calls
    leaked = [p for p in probes if p in test_texts]
    assert leaked == []


def test_latent_draws_and_labels_do_not_change_with_the_split() -> None:
    plain = generate_rows(120, seed=4)
    split = simulate(120, seed=4, template_split_at=100).rows
    assert [r["y"] for r in plain] == [r["y"] for r in split]
    assert [r["Day Mins"] for r in plain] == [r["Day Mins"] for r in split]
    assert json.dumps(split) == json.dumps(simulate(120, seed=4, template_split_at=100).rows)


def test_write_dataset_template_split(tmp_path) -> None:
    report = write_dataset(tmp_path, rows=60, test_fraction=0.25, seed=2, split="template")
    assert report["split"] == "template"
    assert len((tmp_path / "test.jsonl").read_text().splitlines()) == 15
    with pytest.raises(ValueError, match="unknown split"):
        write_dataset(tmp_path, rows=60, split="by-topic")


def test_unknown_family_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown template family"):
        grammar.CallWriter(__import__("random").Random(0), family="dev")
