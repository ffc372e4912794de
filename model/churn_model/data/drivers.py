"""The generator's own answer to "why": each customer's true profile drivers.

A driver's contribution is how much the latent profile logit drops when that one feature is set
to the training reference (the same "typical customer" the explainer uses), so the oracle and the
explanation answer the same question. Charges are minutes times a fixed rate, so no model can
tell ``Day Charge`` from ``Day Mins``: :data:`SAME_DRIVER` maps each charge onto its minutes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from churn_contracts.features import CATEGORICAL, NUMERICAL

from . import latent

SAME_DRIVER: dict[str, str] = {
    "Day Charge": "Day Mins",
    "Eve Charge": "Eve Mins",
    "Night Charge": "Night Mins",
    "Intl Charge": "Intl Mins",
}


def driver_of(feature: str) -> str:
    return SAME_DRIVER.get(feature, feature)


def _profiles(rows: Sequence[Mapping[str, Any]], reference: Mapping[str, Any]) -> latent.Profiles:
    # A value blanked out as missing is unknown to the model too: it counts as the reference.
    numerical = {
        name: np.array([float(r[name]) if r.get(name) is not None else float(reference[name]) for r in rows])
        for name in NUMERICAL
    }
    categorical = {name: np.array([r.get(name) or reference[name] for r in rows]) for name in CATEGORICAL}
    return latent.Profiles(numerical, categorical)


def oracle_contributions(
    rows: Sequence[Mapping[str, Any]], reference: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    """feature -> per-row drop of the true profile logit when the feature takes its reference."""
    profiles = _profiles(rows, reference)
    base = latent.profile_logit(profiles)
    out: dict[str, np.ndarray] = {}
    for name in NUMERICAL + CATEGORICAL:
        numerical = dict(profiles.numerical)
        categorical = dict(profiles.categorical)
        if name in numerical:
            numerical[name] = np.full(len(rows), float(reference[name]))
        else:
            categorical[name] = np.full(len(rows), reference[name])
        out[name] = base - latent.profile_logit(latent.Profiles(numerical, categorical))
    return out


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation (average ranks for ties); NaN when either side is constant."""

    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="mergesort")
        r = np.empty(len(x))
        sorted_x = x[order]
        _, first, counts = np.unique(sorted_x, return_index=True, return_counts=True)
        r[order] = np.repeat(first + (counts - 1) / 2.0, counts)
        return r

    ra, rb = ranks(np.asarray(a, float)), ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def compare(
    rows: Sequence[Mapping[str, Any]],
    model_effects: Sequence[Mapping[str, float]],
    reference: Mapping[str, Any],
) -> dict[str, float]:
    """The explained top profile driver against the oracle's, over customers whose oracle has a
    positive driver. ``model_effects``: per row, feature -> explained effect (absent: 0).

    Returns the match rate, two chance rates (a uniform pick among the drivers; always naming
    the most common oracle top driver) and the mean per-customer rank correlation of the two
    driver rankings. Charges count as their minutes (:data:`SAME_DRIVER`).
    """
    oracle = oracle_contributions(rows, reference)
    drivers = sorted({driver_of(f) for f in NUMERICAL + CATEGORICAL})
    hits, counted, correlations, oracle_tops = 0, 0, [], []
    for i, effects in enumerate(model_effects):
        truth = {d: 0.0 for d in drivers}
        for name, values in oracle.items():
            truth[driver_of(name)] = max(truth[driver_of(name)], float(values[i]))
        explained = {d: -np.inf for d in drivers}
        for name in NUMERICAL + CATEGORICAL:
            d = driver_of(name)
            explained[d] = max(explained[d], float(effects.get(name, 0.0)))
        oracle_top = max(drivers, key=lambda d: truth[d])
        if truth[oracle_top] <= 0:
            continue  # a customer with nothing raising the risk has no top driver
        counted += 1
        oracle_tops.append(oracle_top)
        hits += max(drivers, key=lambda d: explained[d]) == oracle_top
        rho = spearman(np.array([truth[d] for d in drivers]), np.array([explained[d] for d in drivers]))
        if not np.isnan(rho):
            correlations.append(rho)
    most_common = max(set(oracle_tops), key=oracle_tops.count) if oracle_tops else None
    return {
        "customers": counted,
        "match_rate": hits / counted if counted else float("nan"),
        "chance_uniform": 1.0 / len(drivers),
        "chance_most_common": oracle_tops.count(most_common) / counted if counted else float("nan"),
        "most_common_driver": most_common,
        "rank_correlation": float(np.mean(correlations)) if correlations else float("nan"),
    }
