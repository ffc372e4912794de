"""Read a bulk-scoring output and write what the retention team and ops read.

    python -m churn_model.batch_report OUT.jsonl --out-dir report/ [--previous OLD.jsonl] [--top 100]

Writes into ``--out-dir``:

- ``top_at_risk.csv``: the ``--top`` customers most at risk: probability, risk level, the reasons
  when the scores carry explanations (``churn_model.batch --explain K``), and the offer the rules
  would pick (``churn_contracts.offers`` over ``--offers``, with the profile from ``--input``, the
  export that was scored; the offer history is not read, so every customer counts as eligible);
- ``score_distribution.png``: the scores' histogram, the thresholds drawn, the count per level;
- with ``--previous``: ``comparison.csv`` (newly high-risk and no longer high-risk customers, with
  both scores) and ``old_vs_new.png`` (old score against new, per customer);
- ``summary.json``: counts per level, errors, thresholds, and the comparison's figures.

Reads the local runner's lines (``churn_model.batch``) and SageMaker Batch Transform's joined
lines (the input's ids plus ``SageMakerOutput``) alike. The risk level is recomputed from the
thresholds, so both read the same. Memory: the top list and a fixed histogram; only a comparison
holds one float per customer of the previous run.
"""

from __future__ import annotations

import argparse
import csv
import heapq
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from churn_contracts.features import CALL_ID, CUSTOMER_ID
from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD, RiskThresholds

BINS = 50
TOP_FILE = "top_at_risk.csv"
DISTRIBUTION_FILE = "score_distribution.png"
COMPARISON_FILE = "comparison.csv"
OLD_VS_NEW_FILE = "old_vs_new.png"
SUMMARY_FILE = "summary.json"
TOP_COLUMNS = ("rank", CUSTOMER_ID, CALL_ID, "probability", "risk_level", "reasons", "offer", "model_version")
DEFAULT_OFFERS = Path("offers") / "default-rules.json"
_SPREADSHEET_FORMULA = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Scored:
    customer_id: str
    call_id: str | None
    probability: float
    model_version: str | None
    reasons: tuple[dict[str, Any], ...] = ()


@dataclass
class Report:
    files: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def read_scores(path: Path, counts: dict[str, int]) -> Iterator[Scored]:
    """The scored lines of a run (local runner or Batch Transform); error lines are counted."""
    with path.open(encoding="utf-8") as handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except ValueError:
                counts["unreadable"] += 1
                continue
            result = line.get("SageMakerOutput", line) if isinstance(line, dict) else None
            if not isinstance(result, dict) or "error" in result or "probability" not in result:
                counts["errors"] += 1
                continue
            customer = line.get(CUSTOMER_ID)
            if customer is None:
                counts["without_customer_id"] += 1
                continue
            yield Scored(
                customer_id=str(customer),
                call_id=line.get(CALL_ID),
                probability=float(result["probability"]),
                model_version=result.get("model_version"),
                reasons=tuple(r for r in result.get("reasons") or () if isinstance(r, dict)),
            )


def format_reasons(reasons: Sequence[Mapping[str, Any]]) -> str:
    """Explanations as one cell, strongest first: ``CustServ Calls = 7 (+0.21); said (price): ...``."""
    parts = []
    for reason in reasons:
        effect = reason.get("effect")
        shift = f" ({float(effect):+.2f})" if isinstance(effect, (int, float)) else ""
        if reason.get("kind") == "phrase":
            said = " ".join(str(reason.get("value") or "").split())
            said = said if len(said) <= 80 else said[:77] + "..."
            parts.append(f"said ({reason.get('topic') or 'other'}): {said}{shift}")
        else:
            parts.append(f"{reason.get('name')} = {reason.get('value')}{shift}")
    return "; ".join(parts)


def load_offer_rules(path: Path | None) -> Any:
    """The offer rules (``churn_contracts.offers``), or None without a rules file."""
    if path is None or not path.is_file():
        return None
    from churn_contracts.offers import load_rules

    return load_rules(path.read_bytes(), version=path.name)


def profiles_of(input_path: Path | None, customers: set[str]) -> dict[str, dict[str, Any]]:
    """The scored input's records of just these customers (one pass, memory for these only)."""
    found: dict[str, dict[str, Any]] = {}
    if input_path is None or not customers:
        return found
    with input_path.open(encoding="utf-8") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and str(record.get(CUSTOMER_ID)) in customers:
                found[str(record[CUSTOMER_ID])] = record
    return found


def pick_offer(rules: Any, profile: Mapping[str, Any] | None, scored: Scored) -> str:
    """The offer id the rules would pick for this customer, or empty."""
    if rules is None or profile is None:
        return ""
    from churn_contracts.offers import choose_offer, reason_topics

    decision = choose_offer(rules, profile, reason_topics(scored.reasons))
    return decision.offer.offer_id if decision.offer is not None else ""


def _cell(value: Any) -> Any:
    # A value a spreadsheet would run as a formula is written as text.
    if isinstance(value, str) and value.startswith(_SPREADSHEET_FORMULA):
        return "'" + value
    return value


def thresholds_for(output: Path, given: RiskThresholds | None) -> RiskThresholds:
    """The flags', else the run's (``OUT.jsonl.run.json``), else the shared defaults."""
    if given is not None:
        return given
    run_file = output.with_name(output.name + ".run.json")
    if run_file.is_file():
        values = json.loads(run_file.read_text()).get("thresholds") or {}
        if "medium" in values and "high" in values:
            return RiskThresholds(float(values["medium"]), float(values["high"]))
    return RiskThresholds(DEFAULT_MEDIUM_RISK_THRESHOLD, DEFAULT_HIGH_RISK_THRESHOLD)


def write_report(
    output: Path,
    out_dir: Path,
    *,
    previous: Path | None = None,
    top: int = 100,
    thresholds: Mapping[str, float] | RiskThresholds | None = None,
    input_path: Path | None = None,
    offers: Path | None = DEFAULT_OFFERS,
) -> Report:
    if isinstance(thresholds, Mapping):
        thresholds = RiskThresholds(float(thresholds["medium"]), float(thresholds["high"]))
    rule = thresholds_for(output, thresholds)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"errors": 0, "unreadable": 0, "without_customer_id": 0}
    levels = {"low": 0, "medium": 0, "high": 0}
    histogram = [0] * BINS
    best: list[tuple[float, int, Scored]] = []  # a min-heap of the top N
    scored = 0
    for index, item in enumerate(read_scores(output, counts)):
        scored += 1
        levels[rule.level(item.probability).value] += 1
        histogram[min(int(item.probability * BINS), BINS - 1)] += 1
        entry = (item.probability, -index, item)
        if len(best) < top:
            heapq.heappush(best, entry)
        elif entry > best[0]:
            heapq.heapreplace(best, entry)

    report = Report()
    ranked = [entry[2] for entry in sorted(best, reverse=True)]
    rules = load_offer_rules(offers)
    profiles = profiles_of(input_path, {item.customer_id for item in ranked}) if rules is not None else {}
    offer_for = {item.customer_id: pick_offer(rules, profiles.get(item.customer_id), item) for item in ranked}
    report.files.append(_write_top(out_dir / TOP_FILE, ranked, rule, offer_for))
    report.files.append(_plot_distribution(out_dir / DISTRIBUTION_FILE, histogram, levels, rule))
    summary: dict[str, Any] = {
        "output": str(output),
        "scored": scored,
        **counts,
        "levels": levels,
        "thresholds": {"medium": rule.medium, "high": rule.high},
        "top": len(ranked),
        "offers": {
            "rules": str(offers) if rules is not None else None,
            "picked": sum(1 for offer in offer_for.values() if offer),
            "note": "the offer history is not read: every customer counts as eligible",
        },
    }
    if previous is not None:
        comparison, files = compare(previous, output, rule, out_dir)
        summary["comparison"] = comparison
        report.files += files
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    report.files.append(out_dir / SUMMARY_FILE)
    report.summary = summary
    return report


def _write_top(
    path: Path, ranked: Sequence[Scored], rule: RiskThresholds, offer_for: Mapping[str, str]
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TOP_COLUMNS)
        for rank, item in enumerate(ranked, start=1):
            writer.writerow(
                [
                    rank,
                    _cell(item.customer_id),
                    _cell(item.call_id or ""),
                    f"{item.probability:.4f}",
                    rule.level(item.probability).value,
                    _cell(format_reasons(item.reasons)),
                    _cell(offer_for.get(item.customer_id, "")),
                    item.model_version or "",
                ]
            )
    return path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_distribution(
    path: Path, histogram: Sequence[int], levels: Mapping[str, int], rule: RiskThresholds
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 1.0 / BINS
    edges = [i * width for i in range(BINS)]
    colours = [
        "#d62728" if x >= rule.high else "#ff7f0e" if x + width > rule.medium else "#2ca02c" for x in edges
    ]
    ax.bar(edges, histogram, width=width, align="edge", color=colours, edgecolor="white", linewidth=0.3)
    for value, name in ((rule.medium, "medium"), (rule.high, "high")):
        ax.axvline(value, color="black", linestyle="--", linewidth=1)
        ax.text(value, ax.get_ylim()[1] * 0.95, f" {name} {value:.3g}", va="top", fontsize=8)
    total = sum(levels.values()) or 1
    label = ", ".join(f"{k} {v:,} ({v / total:.0%})" for k, v in levels.items())
    ax.set(xlabel="churn probability", ylabel="customers", xlim=(0, 1), title=f"Scores: {label}")
    ax.title.set_fontsize(9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def compare(
    previous: Path, current: Path, rule: RiskThresholds, out_dir: Path
) -> tuple[dict[str, Any], list[Path]]:
    """Newly high-risk, no longer high-risk, and the score shift, per customer in both runs."""
    old_counts = {"errors": 0, "unreadable": 0, "without_customer_id": 0}
    old = {item.customer_id: item.probability for item in read_scores(previous, old_counts)}
    pairs: list[tuple[float, float]] = []
    changes: list[tuple[str, str, float, float]] = []
    new_counts = {"errors": 0, "unreadable": 0, "without_customer_id": 0}
    only_new = 0
    for item in read_scores(current, new_counts):
        before = old.pop(item.customer_id, None)
        if before is None:
            only_new += 1
            continue
        pairs.append((before, item.probability))
        was_high = rule.level(before).value == "high"
        is_high = rule.level(item.probability).value == "high"
        if is_high and not was_high:
            changes.append(("newly_high", item.customer_id, before, item.probability))
        elif was_high and not is_high:
            changes.append(("no_longer_high", item.customer_id, before, item.probability))
    shifts = sorted(new - old_ for old_, new in pairs)
    n = len(shifts)
    summary = {
        "previous": str(previous),
        "customers_in_both": n,
        "only_in_previous": len(old),
        "only_in_current": only_new,
        "newly_high": sum(1 for c in changes if c[0] == "newly_high"),
        "no_longer_high": sum(1 for c in changes if c[0] == "no_longer_high"),
        "mean_shift": round(sum(shifts) / n, 6) if n else None,
        "median_shift": round(shifts[n // 2], 6) if n else None,
        "mean_abs_shift": round(sum(abs(s) for s in shifts) / n, 6) if n else None,
    }
    csv_path = out_dir / COMPARISON_FILE
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("change", CUSTOMER_ID, "previous_probability", "probability", "shift"))
        for change, customer, before, after in sorted(changes, key=lambda c: (c[0], -c[3])):
            writer.writerow(
                (change, _cell(customer), f"{before:.4f}", f"{after:.4f}", f"{after - before:+.4f}")
            )
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    if pairs:
        xs, ys = zip(*pairs, strict=True)
        ax.scatter(xs, ys, s=4, alpha=0.4, linewidths=0)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1)
    for value in (rule.medium, rule.high):
        ax.axvline(value, color="black", linestyle=":", linewidth=0.8)
        ax.axhline(value, color="black", linestyle=":", linewidth=0.8)
    ax.set(
        xlabel="previous score",
        ylabel="new score",
        xlim=(0, 1),
        ylim=(0, 1),
        title=f"{n:,} customers: {summary['newly_high']} newly high, {summary['no_longer_high']} no longer high",
    )
    ax.title.set_fontsize(9)
    fig.tight_layout()
    png_path = out_dir / OLD_VS_NEW_FILE
    fig.savefig(png_path, dpi=100)
    plt.close(fig)
    return summary, [csv_path, png_path]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m churn_model.batch_report", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("output", type=Path, help="a bulk-scoring output (JSON Lines)")
    p.add_argument("--out-dir", type=Path, default=None, help="default: OUTPUT's folder / report")
    p.add_argument("--previous", type=Path, default=None, help="a previous run's output, to compare")
    p.add_argument("--top", type=int, default=100)
    p.add_argument("--input", type=Path, default=None, help="the scored export: profiles for the offers")
    p.add_argument(
        "--offers", type=Path, default=DEFAULT_OFFERS, help=f"offer rules (default {DEFAULT_OFFERS})"
    )
    p.add_argument("--medium-threshold", type=float, default=None)
    p.add_argument("--high-threshold", type=float, default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    given = None
    if args.medium_threshold is not None or args.high_threshold is not None:
        given = RiskThresholds(
            args.medium_threshold if args.medium_threshold is not None else DEFAULT_MEDIUM_RISK_THRESHOLD,
            args.high_threshold if args.high_threshold is not None else DEFAULT_HIGH_RISK_THRESHOLD,
        )
    out_dir = args.out_dir or args.output.parent / "report"
    try:
        report = write_report(
            args.output,
            out_dir,
            previous=args.previous,
            top=args.top,
            thresholds=given,
            input_path=args.input,
            offers=args.offers,
        )
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.summary, indent=2))
    for path in report.files:
        print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
