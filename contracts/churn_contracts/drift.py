"""Population stability of what the model sees and says (stdlib only): the drift monitor's math,
shared by the monitor function and the baseline builder (churn_ops.monitor).

The baseline (``drift-baseline.json``, written beside the model archive by
``python -m churn_ops.monitor baseline``) holds, from the rows the model was tested on: the score
deciles, the customer-text length deciles, each feature's missing rate and the share of calls
with no customer speech. A window (the last day's calls) is compared with it:

- ``ScorePSI``, ``TextLengthPSI``: the population stability index over the baseline's deciles,
  sum((a - e) * ln(a / e)). Read as usual: under 0.1 stable, 0.1 to 0.25 a moderate shift, over
  0.25 a significant one (the alarm's threshold, parameter ``DriftAlarmPSI``).
- ``MissingRateShift``: the largest change of any feature's missing rate (absolute, 0..1).
- ``NoCustomerSpeechRate`` and its shift from the baseline.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

BINS = 10
# Empty bins would make the index infinite: a bin's share is at least this.
FLOOR = 1e-4
TEXT = "text"


def quantile_edges(values: Sequence[float], bins: int = BINS) -> list[float]:
    """The inner edges of ``bins`` equal-count bins (duplicates dropped: ties make fewer bins)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values for a baseline")
    edges = [ordered[min(len(ordered) - 1, (len(ordered) * i) // bins)] for i in range(1, bins)]
    return sorted(set(edges))


def fractions(values: Iterable[float], edges: Sequence[float]) -> list[float]:
    counts = [0] * (len(edges) + 1)
    total = 0
    for value in values:
        counts[bisect.bisect_right(edges, value)] += 1
        total += 1
    return [c / total for c in counts] if total else [0.0] * len(counts)


def psi(expected: Sequence[float], actual: Sequence[float], floor: float = FLOOR) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, floor), max(a, floor)
        total += (a - e) * math.log(a / e)
    return total


@dataclass(frozen=True)
class Baseline:
    model_version: str
    rows: int
    score_edges: list[float]
    score_fractions: list[float]
    text_edges: list[float]
    text_fractions: list[float]
    missing_rates: dict[str, float]
    no_speech_rate: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass
class Window:
    """What the model saw and said over the window, one entry per scored call."""

    scores: list[float] = field(default_factory=list)
    missing: list[list[str]] = field(default_factory=list)
    text_lengths: list[int] = field(default_factory=list)  # a sample: each needs its transcript

    def add(self, score: float, missing: Iterable[str]) -> None:
        self.scores.append(score)
        self.missing.append(list(missing))


def missing_rates(missing: Sequence[Sequence[str]], features: Iterable[str]) -> dict[str, float]:
    n = len(missing) or 1
    return {name: sum(name in row for row in missing) / n for name in features}


def build_baseline(
    model_version: str,
    scores: Sequence[float],
    text_lengths: Sequence[int],
    missing: Sequence[Sequence[str]],
    features: Iterable[str],
) -> Baseline:
    score_edges, text_edges = quantile_edges(scores), quantile_edges([float(n) for n in text_lengths])
    rates = missing_rates(missing, features)
    return Baseline(
        model_version=model_version,
        rows=len(scores),
        score_edges=score_edges,
        score_fractions=fractions(scores, score_edges),
        text_edges=text_edges,
        text_fractions=fractions([float(n) for n in text_lengths], text_edges),
        missing_rates=rates,
        no_speech_rate=rates.get(TEXT, 0.0),
    )


def drift(baseline: Baseline, window: Window) -> dict[str, float]:
    """The metrics the monitor publishes; empty when the window has no calls."""
    if not window.scores:
        return {}
    rates = missing_rates(window.missing, baseline.missing_rates)
    metrics = {
        "ScorePSI": psi(baseline.score_fractions, fractions(window.scores, baseline.score_edges)),
        "MissingRateShift": max((abs(rates[n] - r) for n, r in baseline.missing_rates.items()), default=0.0),
        "NoCustomerSpeechRate": rates.get(TEXT, 0.0),
        "NoCustomerSpeechShift": rates.get(TEXT, 0.0) - baseline.no_speech_rate,
    }
    if window.text_lengths:
        lengths = [float(n) for n in window.text_lengths]
        metrics["TextLengthPSI"] = psi(baseline.text_fractions, fractions(lengths, baseline.text_edges))
    return metrics
