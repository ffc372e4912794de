"""The weekly list keeps last week's finished run to compare with; an unfinished run is resumed."""

from __future__ import annotations

import json
from pathlib import Path

from churn_model.batch import parser, previous_path, rotate_finished


def run(output: Path, *, finished: bool) -> None:
    output.write_text('{"line": 1, "customer_id": "A", "probability": 0.5}\n')
    run_file = output.with_name(output.name + ".run.json")
    run_file.write_text(json.dumps({"input_bytes": 10, **({"finished": True} if finished else {})}))


def test_a_finished_run_becomes_the_previous_one(tmp_path: Path) -> None:
    output = tmp_path / "scores.jsonl"
    run(output, finished=True)
    assert rotate_finished(output) == previous_path(output) == tmp_path / "scores.previous.jsonl"
    assert not output.exists() and (tmp_path / "scores.previous.jsonl.run.json").exists()


def test_an_unfinished_run_stays_to_be_resumed(tmp_path: Path) -> None:
    output = tmp_path / "scores.jsonl"
    run(output, finished=False)
    assert rotate_finished(output) is None and output.exists()
    # An older previous run is still offered for the comparison.
    run(previous_path(output), finished=True)
    assert rotate_finished(output) == previous_path(output) and output.exists()


def test_the_command_explains_by_default():
    args = parser().parse_args(["--model", "m", "--input", "i", "--output", "o"])
    assert args.explain == 3 and not args.no_explain and args.rank == "risk"
