"""Read a bulk-scoring output and write what the retention team and ops read.

    python -m churn_model.batch_report OUT.jsonl --out-dir report/ [--previous OLD.jsonl] [--top 100]

Writes into ``--out-dir``:

- ``top_at_risk.csv``: the ``--top`` customers most at risk (``--rank risk``) or with the most value
  at risk (``--rank value``: a year of the monthly charges times the probability): probability,
  risk level, monthly value and value at risk, the reasons and the call's topics (the scores carry
  them by default: ``churn_model.batch --explain K``), the offer the rules would pick with its
  text (``churn_contracts.offers`` over ``--offers``, with the profile and topics of the call; the
  offer history is not read, so every customer counts as eligible) or why there is none, when the
  customer's last call was scored and when they were last alerted (from the export, ``--input``);
- ``score_distribution.png``: the scores' histogram, the thresholds drawn, the count per level;
  with ``--previous``, last run's histogram drawn over it (this week against the last);
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

from churn_contracts.features import CALL_ID, CUSTOMER_ID, monthly_value, value_at_risk
from churn_contracts.risk import DEFAULT_HIGH_RISK_THRESHOLD, DEFAULT_MEDIUM_RISK_THRESHOLD, RiskThresholds

BINS = 50
TOP_FILE = "top_at_risk.csv"
DISTRIBUTION_FILE = "score_distribution.png"
COMPARISON_FILE = "comparison.csv"
OLD_VS_NEW_FILE = "old_vs_new.png"
SUMMARY_FILE = "summary.json"
TOP_COLUMNS = (
    "rank",
    CUSTOMER_ID,
    CALL_ID,
    "probability",
    "risk_level",
    "monthly_value",
    "value_at_risk",
    "reasons",
    "topics",
    "offer",
    "offer_text",
    "offer_why",
    "last_call_at",
    "alerted_on",
    "model_version",
)
RANKS = ("risk", "value")
DEFAULT_OFFERS = Path("offers") / "default-rules.json"
_SPREADSHEET_FORMULA = ("=", "+", "-", "@")


@dataclass(frozen=True)
class Scored:
    customer_id: str
    call_id: str | None
    probability: float
    model_version: str | None
    reasons: tuple[dict[str, Any], ...] = ()
    topics: dict[str, Any] | None = None


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
                topics=result.get("topics") if isinstance(result.get("topics"), dict) else None,
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


@dataclass(frozen=True)
class Offer:
    offer_id: str = ""
    text: str = ""
    why: str = ""  # the rule that chose it, or why there is none


def call_topics(scored: Scored) -> Any:
    """The call's topics as scored; the phrase reasons' from a model without them; None if neither."""
    from churn_contracts.offers import offer_topics
    from churn_contracts.topics import CallTopics, TopicsError

    if scored.topics is not None:
        try:
            return CallTopics.from_dict(scored.topics)
        except TopicsError:
            pass
    return offer_topics(scored.reasons, None) if scored.reasons else None


def pick_offer(rules: Any, profile: Mapping[str, Any] | None, scored: Scored) -> Offer:
    """The offer the rules would pick for this customer, or an empty one saying why not."""
    if rules is None:
        return Offer(why="no offer rules file")
    if profile is None:
        return Offer(why="the customer is not in the scored export (--input)")
    from churn_contracts.offers import choose_offer

    topics = call_topics(scored)
    decision = choose_offer(rules, profile, topics)
    if decision.offer is None:
        why = decision.reason
        if topics is None:
            why += " (scored without explanations: the call's topics are unknown)"
        return Offer(why=why)
    return Offer(decision.offer.offer_id, decision.offer.text, decision.reason)


def format_topics(scored: Scored) -> str:
    """The call's topics in an agent's words, most sentences first: ``coverage and network (3)``."""
    from churn_contracts.topics import display_name

    topics = call_topics(scored)
    if not topics:
        return ""
    return ", ".join(f"{display_name(t)} ({topics.count(t)})" for t in topics.ranked())


def monthly_values(input_path: Path | None) -> dict[str, float | None]:
    """Every customer's monthly value from the scored export (one float per customer)."""
    found: dict[str, float | None] = {}
    if input_path is None:
        return found
    with input_path.open(encoding="utf-8") as handle:
        for raw in handle:
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get(CUSTOMER_ID) is not None:
                found[str(record[CUSTOMER_ID])] = monthly_value(record)
    return found


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
    rank: str = "risk",
) -> Report:
    if rank not in RANKS:
        raise ValueError(f"rank must be one of {RANKS}, got {rank!r}")
    if rank == "value" and input_path is None:
        raise ValueError("--rank value needs the scored export (--input) for the customers' charges")
    if isinstance(thresholds, Mapping):
        thresholds = RiskThresholds(float(thresholds["medium"]), float(thresholds["high"]))
    rule = thresholds_for(output, thresholds)
    out_dir.mkdir(parents=True, exist_ok=True)
    counts = {"errors": 0, "unreadable": 0, "without_customer_id": 0}
    levels = {"low": 0, "medium": 0, "high": 0}
    histogram = [0] * BINS
    best: list[tuple[float, float, int, Scored]] = []  # a min-heap of the top N
    values = monthly_values(input_path) if rank == "value" else {}
    scored = 0
    for index, item in enumerate(read_scores(output, counts)):
        scored += 1
        levels[rule.level(item.probability).value] += 1
        histogram[min(int(item.probability * BINS), BINS - 1)] += 1
        if rank == "value":
            at_risk = value_at_risk(values.get(item.customer_id), item.probability)
            key = at_risk if at_risk is not None else -1.0  # no charges known: after every known value
        else:
            key = item.probability
        entry = (key, item.probability, -index, item)
        if len(best) < top:
            heapq.heappush(best, entry)
        elif entry > best[0]:
            heapq.heapreplace(best, entry)

    report = Report()
    ranked = [entry[3] for entry in sorted(best, key=lambda e: e[:3], reverse=True)]
    rules = load_offer_rules(offers)
    records = profiles_of(input_path, {item.customer_id for item in ranked})
    offer_for = {item.customer_id: pick_offer(rules, records.get(item.customer_id), item) for item in ranked}
    report.files.append(_write_top(out_dir / TOP_FILE, ranked, rule, offer_for, records))
    last_week = _previous_histogram(previous) if previous is not None else None
    report.files.append(_plot_distribution(out_dir / DISTRIBUTION_FILE, histogram, levels, rule, last_week))
    summary: dict[str, Any] = {
        "output": str(output),
        "scored": scored,
        **counts,
        "levels": levels,
        "thresholds": {"medium": rule.medium, "high": rule.high},
        "top": len(ranked),
        "rank": rank,
        "offers": {
            "rules": str(offers) if rules is not None else None,
            "picked": sum(1 for offer in offer_for.values() if offer.offer_id),
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
    path: Path,
    ranked: Sequence[Scored],
    rule: RiskThresholds,
    offer_for: Mapping[str, Offer],
    records: Mapping[str, Mapping[str, Any]],
) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(TOP_COLUMNS)
        for rank, item in enumerate(ranked, start=1):
            record = records.get(item.customer_id) or {}
            monthly = monthly_value(record)
            at_risk = value_at_risk(monthly, item.probability)
            offer = offer_for.get(item.customer_id, Offer())
            writer.writerow(
                [
                    rank,
                    _cell(item.customer_id),
                    _cell(item.call_id or ""),
                    f"{item.probability:.4f}",
                    rule.level(item.probability).value,
                    "" if monthly is None else f"{monthly:.2f}",
                    "" if at_risk is None else f"{at_risk:.2f}",
                    _cell(format_reasons(item.reasons)),
                    _cell(format_topics(item)),
                    _cell(offer.offer_id),
                    _cell(offer.text),
                    _cell(offer.why),
                    _cell(_date(record.get("last_call_at"))),
                    _cell(_date(record.get("alerted_at")) or "never"),
                    item.model_version or "",
                ]
            )
    return path


def _date(value: Any) -> str:
    """The day of a stored timestamp (``2026-12-06T...`` -> ``2026-12-06``); empty if none."""
    return value[:10] if isinstance(value, str) and len(value) >= 10 else ""


def _previous_histogram(previous: Path) -> list[int]:
    histogram = [0] * BINS
    counts = {"errors": 0, "unreadable": 0, "without_customer_id": 0}
    for item in read_scores(previous, counts):
        histogram[min(int(item.probability * BINS), BINS - 1)] += 1
    return histogram


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plot_distribution(
    path: Path,
    histogram: Sequence[int],
    levels: Mapping[str, int],
    rule: RiskThresholds,
    previous: Sequence[int] | None = None,
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 1.0 / BINS
    edges = [i * width for i in range(BINS)]
    colours = [
        "#d62728" if x >= rule.high else "#ff7f0e" if x + width > rule.medium else "#2ca02c" for x in edges
    ]
    ax.bar(
        edges, histogram, width=width, align="edge", color=colours, edgecolor="white", linewidth=0.3,
        label="this run",
    )  # fmt: skip
    if previous is not None:
        # Last run as an outline over this one: where the customers moved, week on week.
        ax.stairs(
            previous, [i * width for i in range(BINS + 1)], color="black", linewidth=1.2, label="previous run"
        )
        ax.legend(fontsize=8, loc="upper right")
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
    p.add_argument("--rank", choices=RANKS, default="risk", help="risk, or value x risk (needs --input)")
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
            rank=args.rank,
        )
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.summary, indent=2))
    for path in report.files:
        print(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
