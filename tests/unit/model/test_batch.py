"""Local bulk scoring: bulk == real-time, resume after an interruption, bad records, systemic failure."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.model]


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path) -> Any:
    from churn_model.serving.handlers import model_fn

    return model_fn(str(tiny_model_dir))


@pytest.fixture(scope="module")
def customers() -> list[dict[str, Any]]:
    """500 generated customers as the export writes them: ids, profile, the customer's text."""
    from churn_model.data.generate import generate_rows

    rows = generate_rows(500, seed=77)
    return [{k: v for k, v in row.items() if k not in ("turns", "y")} for row in rows]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


THRESHOLDS = {"medium": 0.12, "high": 0.42}


def realtime(model: Any, record: dict[str, Any]) -> dict[str, Any]:
    """One record as the score Lambda sends it: application/json, one object, through the handlers."""
    from churn_model.batch import _Context
    from churn_model.serving.handlers import input_fn, output_fn, predict_fn

    context = _Context()
    data = input_fn(json.dumps(record), "application/json", context)
    body, _ = output_fn(predict_fn(data, model, context), "application/json", context)
    assert context.status == 200
    return json.loads(body)


@pytest.mark.slow
def test_bulk_scores_equal_realtime_scores_on_500_records(model, customers, tmp_path: Path) -> None:
    from churn_model.batch import run_batch

    source = write_jsonl(tmp_path / "in.jsonl", customers)
    summary = run_batch(model, source, tmp_path / "out.jsonl", thresholds=THRESHOLDS, progress=False)
    results = read_jsonl(tmp_path / "out.jsonl")

    assert summary.scored == 500 and summary.errors == 0
    assert [r["line"] for r in results] == list(range(1, 501))
    for record, result in zip(customers, results, strict=True):
        single = realtime(model, record)
        assert result["customer_id"] == record["customer_id"] and result["call_id"] == record["call_id"]
        assert result["probability"] == single["probability"], result["line"]
        assert result["missing_features"] == single["missing_features"]
        assert result["model_version"] == single["model_version"]
    levels = {r["risk_level"] for r in results}
    assert levels <= {"low", "medium", "high"} and sum(summary.by_level.values()) == 500


def test_bad_records_become_error_lines_and_the_run_goes_on(model, customers, tmp_path: Path) -> None:
    from churn_model import batch

    good = customers[:6]
    lines: list[Any] = [
        good[0],
        "{not json",  # 2
        good[1],
        "",  # 4: blank, skipped
        [1, 2, 3],  # 5
        {**good[2], "Day Mins": "lots"},  # 6
        good[3],
        {**good[4], "CustServ Calls": 1e300},  # 8: beyond float32
        {**good[5], "text": "x" * 50_001},  # 9: too long
        good[5],  # 10
    ]
    source = write_jsonl(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    assert (
        batch.main(
            ["--model", str(model.model_dir), "--input", str(source), "--output", str(out), "--no-progress"]
        )
        == 0
    )

    results = {r["line"]: r for r in read_jsonl(out)}
    assert sorted(results) == [1, 2, 3, 5, 6, 7, 8, 9, 10]
    assert {n for n, r in results.items() if "error" not in r} == {1, 3, 7, 10}
    assert results[2]["status"] == 400 and results[2]["error"].startswith("line 2 is not valid JSON")
    assert results[5]["status"] == 400 and "JSON object" in results[5]["error"]
    assert results[6]["status"] == 400 and "'Day Mins'" in results[6]["error"]
    assert results[6]["customer_id"] == good[2]["customer_id"]  # ids still echoed for joining
    assert results[8]["status"] == 400 and "out of range" in results[8]["error"]
    assert results[9]["status"] == 413
    # The good records scored in the same chunk as bad ones score as they do alone.
    assert results[7]["probability"] == realtime(model, good[3])["probability"]
    for result in results.values():
        assert "lots" not in json.dumps(result)  # values never echoed into messages


def test_a_file_of_nothing_but_bad_records_is_a_systemic_failure(model, tmp_path: Path) -> None:
    from churn_model import batch

    source = write_jsonl(tmp_path / "in.jsonl", ["a,b,c", "1,2,3"])
    code = batch.main(
        [
            "--model",
            str(model.model_dir),
            "--input",
            str(source),
            "--output",
            str(tmp_path / "o.jsonl"),
            "--no-progress",
        ]
    )
    assert code == 1


def test_resume_after_an_interruption_scores_every_line_once(model, customers, tmp_path: Path) -> None:
    from churn_model.batch import run_batch

    records = customers[:40]
    source = write_jsonl(tmp_path / "in.jsonl", records)
    out = tmp_path / "out.jsonl"

    class Interrupted(Exception):
        pass

    def stop_after_two_chunks(summary) -> None:
        if summary.scored >= 16:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_batch(
            model,
            source,
            out,
            thresholds=THRESHOLDS,
            chunk_size=8,
            progress=False,
            on_chunk=stop_after_two_chunks,
        )
    assert len(read_jsonl(out)) == 16
    with out.open("ab") as handle:  # the process died mid-write of the third chunk
        handle.write(b'{"line": 17, "customer_id": "C-cut-sh')

    scored_again: list[int] = []
    summary = run_batch(
        model,
        source,
        out,
        thresholds=THRESHOLDS,
        chunk_size=8,
        progress=False,
        on_chunk=lambda s: scored_again.append(s.scored),
    )
    results = read_jsonl(out)
    assert [r["line"] for r in results] == list(range(1, 41))
    assert summary.resumed_after_line == 16 and summary.scored == 24
    assert [r["customer_id"] for r in results] == [r["customer_id"] for r in records]
    # Nothing left to do: a third run scores nothing and changes nothing.
    before = out.read_bytes()
    assert run_batch(model, source, out, thresholds=THRESHOLDS, progress=False).scored == 0
    assert out.read_bytes() == before


def test_resume_refuses_an_output_of_other_thresholds(model, customers, tmp_path: Path) -> None:
    from churn_model.batch import SystemicFailure, run_batch

    source = write_jsonl(tmp_path / "in.jsonl", customers[:3])
    out = tmp_path / "out.jsonl"
    run_batch(model, source, out, thresholds=THRESHOLDS, progress=False)
    with pytest.raises(SystemicFailure, match="thresholds"):
        run_batch(model, source, out, thresholds={"medium": 0.2, "high": 0.5}, progress=False)
    assert (
        run_batch(
            model, source, out, thresholds={"medium": 0.2, "high": 0.5}, progress=False, restart=True
        ).scored
        == 3
    )


def test_a_model_failing_record_after_record_stops_the_run(model, customers, tmp_path: Path) -> None:
    from churn_model.batch import MAX_CONSECUTIVE_MODEL_FAILURES, SystemicFailure, run_batch

    class Broken:
        spec = model.spec
        model_version = model.model_version

        def predict_proba(self, records):
            raise RuntimeError("CUDA error: device lost")

    source = write_jsonl(tmp_path / "in.jsonl", customers[: MAX_CONSECUTIVE_MODEL_FAILURES + 5])
    with pytest.raises(SystemicFailure, match="in a row"):
        run_batch(Broken(), source, tmp_path / "out.jsonl", thresholds=THRESHOLDS, progress=False)


def test_chunks_respect_the_payload_limit() -> None:
    from churn_model.batch import InputLine, chunked

    lines = [InputLine(i, b"x" * 400, {}, True) for i in range(1, 11)]
    sizes = [len(c) for c in chunked(lines, size=4, max_bytes=1000)]
    assert sizes == [2, 2, 2, 2, 2]
    assert [len(c) for c in chunked(lines, size=4, max_bytes=10_000)] == [4, 4, 2]


def test_explain_asks_the_handlers_for_reasons_and_keeps_the_score(model, customers, tmp_path: Path) -> None:
    from churn_model.batch import run_batch

    records = customers[:4]
    source = write_jsonl(tmp_path / "in.jsonl", [*records[:2], "{broken", *records[2:]])
    run_batch(model, source, tmp_path / "plain.jsonl", thresholds=THRESHOLDS, progress=False)
    run_batch(model, source, tmp_path / "why.jsonl", thresholds=THRESHOLDS, progress=False, explain=2)
    plain, why = read_jsonl(tmp_path / "plain.jsonl"), read_jsonl(tmp_path / "why.jsonl")
    assert [r["line"] for r in why] == [1, 2, 3, 4, 5]
    assert why[2]["status"] == 400 and why[2]["error"].startswith("line 3 ")
    explained = 0
    for a, b in zip(plain, why, strict=True):
        if "error" in a:
            continue
        # Only contributions that raise the risk are reasons: a low-risk record may have none.
        assert len(b["reasons"]) <= 2 and "reasons" not in a
        assert all(r["effect"] > 0 for r in b["reasons"])
        assert {r["kind"] for r in b["reasons"]} <= {"profile", "phrase"}
        assert b["probability"] == pytest.approx(a["probability"], abs=1e-9)
        explained += bool(b["reasons"])
    assert explained >= 1
