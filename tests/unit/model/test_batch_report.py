"""The bulk-scoring report: top list, distribution, comparison; local and Batch Transform outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from churn_contracts.risk import RiskThresholds
from churn_model import batch_report

PNG = b"\x89PNG\r\n\x1a\n"


def local_line(n: int, customer: str, p: float, **extra) -> dict:
    return {
        "line": n,
        "customer_id": customer,
        "call_id": f"call-{customer}",
        "probability": p,
        "model_version": "m1",
        "missing_features": [],
        "risk_level": "ignored-recomputed",
        **extra,
    }


def write(path: Path, lines: list) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_top_list_levels_and_distribution(tmp_path: Path) -> None:
    probabilities = [0.05, 0.9, 0.3, 0.5, 0.11, 0.42, 0.7, 0.12]
    lines = [local_line(i + 1, f"C{i}", p) for i, p in enumerate(probabilities)]
    lines.insert(
        3, {"line": 99, "customer_id": "bad", "error": "line 99: field 'Day Mins' ...", "status": 400}
    )
    lines[1]["reasons"] = [
        {"kind": "profile", "name": "CustServ Calls", "value": 7.0, "effect": 0.21, "method": "m"},
        {
            "kind": "phrase",
            "name": "sentence 3",
            "value": "The  bill is\nwrong again.",
            "effect": 0.05,
            "topic": "billing",
        },
    ]
    output = write(tmp_path / "out.jsonl", lines)

    report = batch_report.write_report(
        output, tmp_path / "r", top=3, thresholds={"medium": 0.12, "high": 0.42}
    )

    rows = read_csv(tmp_path / "r" / "top_at_risk.csv")
    assert [r["customer_id"] for r in rows] == ["C1", "C6", "C3"]
    assert [r["probability"] for r in rows] == ["0.9000", "0.7000", "0.5000"]
    assert {r["risk_level"] for r in rows} == {"high"}
    assert (
        rows[0]["reasons"] == "CustServ Calls = 7.0 (+0.21); said (billing): The bill is wrong again. (+0.05)"
    )
    assert list(rows[0]) == list(batch_report.TOP_COLUMNS)
    summary = report.summary
    # 0.42 is high (at the threshold), 0.12 medium, 0.11 low: the pipeline's rule.
    assert summary["levels"] == {"low": 2, "medium": 2, "high": 4}
    assert summary["scored"] == 8 and summary["errors"] == 1
    png = (tmp_path / "r" / "score_distribution.png").read_bytes()
    assert png.startswith(PNG) and len(png) > 5_000
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["levels"] == summary["levels"]


def test_batch_transform_joined_output_reads_the_same(tmp_path: Path) -> None:
    local = write(tmp_path / "local.jsonl", [local_line(1, "C1", 0.6), local_line(2, "C2", 0.2)])
    joined = write(
        tmp_path / "bt.jsonl",
        [
            {
                "customer_id": "C1",
                "call_id": "call-C1",
                "SageMakerOutput": {"probability": 0.6, "model_version": "m1"},
            },
            {
                "customer_id": "C2",
                "call_id": "call-C2",
                "SageMakerOutput": {"probability": 0.2, "model_version": "m1"},
            },
        ],
    )
    a = batch_report.write_report(local, tmp_path / "a")
    b = batch_report.write_report(joined, tmp_path / "b")
    assert a.summary["levels"] == b.summary["levels"] == {"low": 0, "medium": 1, "high": 1}
    assert read_csv(tmp_path / "a" / "top_at_risk.csv") == read_csv(tmp_path / "b" / "top_at_risk.csv")


def test_comparison_with_a_previous_run(tmp_path: Path) -> None:
    old = write(
        tmp_path / "old.jsonl",
        [
            local_line(1, "A", 0.5),
            local_line(2, "B", 0.3),
            local_line(3, "C", 0.2),
            local_line(4, "gone", 0.9),
        ],
    )
    new = write(
        tmp_path / "new.jsonl",
        [
            local_line(1, "A", 0.3),
            local_line(2, "B", 0.6),
            local_line(3, "C", 0.25),
            local_line(4, "fresh", 0.8),
        ],
    )
    code = batch_report.main([str(new), "--out-dir", str(tmp_path / "r"), "--previous", str(old)])
    assert code == 0
    comparison = json.loads((tmp_path / "r" / "summary.json").read_text())["comparison"]
    assert comparison["customers_in_both"] == 3
    assert (comparison["newly_high"], comparison["no_longer_high"]) == (1, 1)
    assert (comparison["only_in_previous"], comparison["only_in_current"]) == (1, 1)
    assert comparison["mean_shift"] == pytest.approx((-0.2 + 0.3 + 0.05) / 3)
    rows = read_csv(tmp_path / "r" / "comparison.csv")
    assert [(r["change"], r["customer_id"], r["shift"]) for r in rows] == [
        ("newly_high", "B", "+0.3000"),
        ("no_longer_high", "A", "-0.2000"),
    ]
    assert (tmp_path / "r" / "old_vs_new.png").read_bytes().startswith(PNG)


def test_thresholds_come_from_the_run_unless_given(tmp_path: Path) -> None:
    output = write(tmp_path / "out.jsonl", [local_line(1, "A", 0.3)])
    (tmp_path / "out.jsonl.run.json").write_text(json.dumps({"thresholds": {"medium": 0.1, "high": 0.25}}))
    assert batch_report.write_report(output, tmp_path / "r").summary["levels"]["high"] == 1
    given = RiskThresholds(0.1, 0.5)
    assert (
        batch_report.write_report(output, tmp_path / "s", thresholds=given).summary["levels"]["medium"] == 1
    )


def test_cells_that_a_spreadsheet_would_run_are_written_as_text(tmp_path: Path) -> None:
    output = write(tmp_path / "out.jsonl", [local_line(1, "=HYPERLINK(1)", 0.9)])
    batch_report.write_report(output, tmp_path / "r")
    assert read_csv(tmp_path / "r" / "top_at_risk.csv")[0]["customer_id"] == "'=HYPERLINK(1)"


def test_the_offer_the_rules_would_pick(tmp_path: Path) -> None:
    rules = {
        "version": "t1",
        "rules": [
            {
                "offer_id": "callback",
                "text": "Senior callback.",
                "priority": 90,
                "when": {
                    "profile": [{"field": "CustServ Calls", "op": ">=", "value": 3}],
                    "topics_any": ["service"],
                },
            },
            {
                "offer_id": "match",
                "text": "Match the price.",
                "priority": 80,
                "when": {"topics_any": ["competitor"]},
            },
        ],
    }
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    said = lambda topic: [{"kind": "phrase", "name": "s1", "value": "...", "effect": 0.1, "topic": topic}]  # noqa: E731
    scores = write(
        tmp_path / "scores.jsonl",
        [
            local_line(1, "A", 0.9, reasons=said("service")),
            local_line(2, "B", 0.8, reasons=said("competitor")),
            local_line(3, "C", 0.7, reasons=said("service")),  # too few service calls
            local_line(4, "D", 0.6),  # no reasons, no topic
        ],
    )
    exported = write(
        tmp_path / "customers.jsonl",
        [
            {"customer_id": c, "CustServ Calls": n, "text": "..."}
            for c, n in (("A", 5), ("B", 1), ("C", 1), ("D", 9))
        ],
    )
    report = batch_report.write_report(
        scores, tmp_path / "r", input_path=exported, offers=tmp_path / "rules.json"
    )
    offers = {r["customer_id"]: r["offer"] for r in read_csv(tmp_path / "r" / "top_at_risk.csv")}
    assert offers == {"A": "callback", "B": "match", "C": "", "D": ""}
    assert report.summary["offers"]["picked"] == 2
    # Without the export there is no profile to match: the column stays empty.
    batch_report.write_report(scores, tmp_path / "s", offers=tmp_path / "rules.json")
    assert {r["offer"] for r in read_csv(tmp_path / "s" / "top_at_risk.csv")} == {""}


def test_the_repositorys_default_rules_load() -> None:
    root = Path(__file__).resolve().parents[3]
    assert batch_report.load_offer_rules(root / batch_report.DEFAULT_OFFERS) is not None


def test_the_weekly_list_explains_values_dates_and_why_an_offer_is_blank(tmp_path: Path) -> None:
    from churn_contracts.topics import summarise

    topics = summarise(
        ["The signal keeps dropping.", "No coverage at home.", "I'm cancelling."],
        [[("coverage", 0.9)], [("coverage", 0.8)], [("cancel", 0.95)]],
    ).to_dict()
    scores = write(
        tmp_path / "scores.jsonl",
        [
            local_line(1, "A", 0.9, topics=topics),
            local_line(2, "B", 0.5),  # scored plainly: no topics, no reasons
            local_line(3, "C", 0.3, topics=topics),  # cheap customer, high value ranking below B
            local_line(4, "Z", 0.2, topics=topics),  # not in the export
        ],
    )
    charges = {"Day Charge": 40.0, "Eve Charge": 10.0, "Night Charge": 5.0, "Intl Charge": 5.0}  # 60 a month
    exported = write(
        tmp_path / "customers.jsonl",
        [
            {"customer_id": "A", "CustServ Calls": 1, "Account Length": 90, **charges,
             "last_call_at": "2026-12-01T10:00:00.000Z", "alerted_at": "2026-12-01T10:00:05.000Z"},
            {"customer_id": "B", "CustServ Calls": 1, "Account Length": 20, "Day Charge": 200.0,
             "last_call_at": "2026-11-20T09:00:00.000Z", "alerted_at": None},
            {"customer_id": "C", "CustServ Calls": 0, "Account Length": 200, "Day Charge": 1.0},
        ],
    )  # fmt: skip
    batch_report.write_report(scores, tmp_path / "r", input_path=exported)
    rows = {r["customer_id"]: r for r in read_csv(tmp_path / "r" / "top_at_risk.csv")}
    a = rows["A"]
    assert a["monthly_value"] == "60.00" and a["value_at_risk"] == f"{12 * 60 * 0.9:.2f}"
    assert a["topics"] == "coverage and network (2), cancelling or the contract (1)"
    # A coverage complaint beats 90 months of tenure (offers/default-rules.json).
    assert a["offer"] == "network-booster" and a["offer_text"].startswith("Send a free signal booster")
    assert "main complaint coverage" in a["offer_why"]
    assert a["last_call_at"] == "2026-12-01" and a["alerted_on"] == "2026-12-01"
    b = rows["B"]
    assert b["offer"] == "" and "no rule matched" in b["offer_why"] and "topics are unknown" in b["offer_why"]
    assert b["alerted_on"] == "never" and b["last_call_at"] == "2026-11-20"
    assert rows["Z"]["offer"] == "" and "not in the scored export" in rows["Z"]["offer_why"]
    assert rows["Z"]["monthly_value"] == "" and rows["Z"]["value_at_risk"] == ""
    assert rows["C"]["offer"] == "network-booster"

    # By value x risk: B (200 a month at 0.5) before A (60 at 0.9); unknown values last.
    report = batch_report.write_report(scores, tmp_path / "v", input_path=exported, rank="value")
    order = [r["customer_id"] for r in read_csv(tmp_path / "v" / "top_at_risk.csv")]
    assert order == ["B", "A", "C", "Z"] and report.summary["rank"] == "value"
    with pytest.raises(ValueError, match="--input"):
        batch_report.write_report(scores, tmp_path / "w", rank="value")


def test_the_distribution_shows_last_week_against_this_one(tmp_path: Path) -> None:
    this = write(tmp_path / "scores.jsonl", [local_line(i, f"C{i}", 0.1 + 0.008 * i) for i in range(100)])
    last = write(tmp_path / "old.jsonl", [local_line(i, f"C{i}", 0.05 + 0.004 * i) for i in range(100)])
    batch_report.write_report(this, tmp_path / "alone")
    batch_report.write_report(this, tmp_path / "both", previous=last)
    alone = (tmp_path / "alone" / "score_distribution.png").read_bytes()
    both = (tmp_path / "both" / "score_distribution.png").read_bytes()
    assert both.startswith(PNG) and both != alone  # the previous run is drawn
    assert batch_report._previous_histogram(last)[2] == 3  # bin [0.04, 0.06): 0.05 + 0.004 i for i = 0, 1, 2
