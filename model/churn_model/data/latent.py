"""The latent model behind the synthetic churn data.

Each row is one customer and one call. The label is drawn as

    p = sigmoid(profile + attitude + intercept),    y ~ Bernoulli(p)

* ``profile`` is a fixed function of the customer's true profile (before any
  value is blanked out as missing): customer-service calls (with a jump from the
  fourth call on), day minutes (with a steep rise above ~245 minutes), a
  limited plan with heavy international use, evening minutes, voice mail (a
  loyalty signal), account length, the plan letter, the location and a few
  states.
* ``attitude`` is a per-call latent. A disposition ``d ~ N(0, 1)`` sets the
  customer's mean tone ``1.35 d - 0.35``; an arc (steady 72 %; recovering 16 %:
  starts angry and ends satisfied, 1.7 levels below the mean to 1.7 above;
  souring 12 %: the reverse) and per-turn noise give one tone level from -3
  (furious) to +3 (delighted) to each customer turn. The attitude is a
  function of what is actually said: minus the tone averaged over the customer
  turns, later turns weighing up to twice as much (how a call ends matters
  most), plus a small offset for the call's topic. The grammar renders every
  customer turn at its tone level, so the text carries the attitude and
  nothing about the profile; the attitude is independent of the profile.
* ``intercept`` is solved so that the mean churn probability over a large
  fixed reference sample equals the requested churn rate.

The noise is the Bernoulli draw itself, the missing values and the many
label-free choices the grammar makes (topic wording, small talk, hedges).

Oracle AUCs score rows with the true latent probability: "both" uses p;
"profile" uses E[p | profile] (the attitude marginalised over its reference
distribution); "text" uses E[p | attitude] (the profile marginalised). They
are upper bounds for a model that sees the same inputs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from churn_contracts.features import NUMERICAL

# Per-minute rates of the public telecom churn data (charge = minutes x rate).
RATES: dict[str, float] = {"Day": 0.17, "Eve": 0.085, "Night": 0.045, "Intl": 0.27}

# 50 states and DC; weights follow population, compressed so small states still appear.
_STATE_POPULATION_M: dict[str, float] = {
    "AL": 5.0, "AK": 0.7, "AZ": 7.2, "AR": 3.0, "CA": 39.5, "CO": 5.8, "CT": 3.6, "DE": 1.0,
    "DC": 0.7, "FL": 21.5, "GA": 10.7, "HI": 1.5, "ID": 1.8, "IL": 12.8, "IN": 6.8, "IA": 3.2,
    "KS": 2.9, "KY": 4.5, "LA": 4.7, "ME": 1.4, "MD": 6.2, "MA": 7.0, "MI": 10.1, "MN": 5.7,
    "MS": 3.0, "MO": 6.2, "MT": 1.1, "NE": 2.0, "NV": 3.1, "NH": 1.4, "NJ": 9.3, "NM": 2.1,
    "NY": 20.2, "NC": 10.4, "ND": 0.8, "OH": 11.8, "OK": 4.0, "OR": 4.2, "PA": 13.0, "RI": 1.1,
    "SC": 5.1, "SD": 0.9, "TN": 6.9, "TX": 29.1, "UT": 3.3, "VT": 0.6, "VA": 8.6, "WA": 7.7,
    "WV": 1.8, "WI": 5.9, "WY": 0.6,
}  # fmt: skip
STATES: tuple[str, ...] = tuple(_STATE_POPULATION_M)
_STATE_WEIGHTS = np.sqrt(np.array(list(_STATE_POPULATION_M.values())))
_STATE_WEIGHTS /= _STATE_WEIGHTS.sum()

LOCATIONS: tuple[str, ...] = ("urban", "suburban", "rural", "other")
_LOCATION_WEIGHTS = np.array([0.46, 0.31, 0.19, 0.04])
PLANS: tuple[str, ...] = ("A", "B", "C", "D", "E")
_PLAN_WEIGHTS = np.array([0.28, 0.26, 0.21, 0.15, 0.10])
LIMITS: tuple[str, ...] = ("limited", "unlimited")

TOPICS: tuple[str, ...] = (
    "billing",
    "coverage",
    "dropped_calls",
    "roaming",
    "contract_end",
    "competitor_offer",
    "upgrade",
    "cancellation",
)
_TOPIC_WEIGHTS = np.array([0.22, 0.14, 0.14, 0.09, 0.11, 0.09, 0.12, 0.09])

# --- profile effects on the churn logit ---
_PLAN_EFFECT = {"A": 0.30, "B": 0.12, "C": 0.0, "D": -0.15, "E": -0.30}
_LOCATION_EFFECT = {"urban": 0.05, "suburban": -0.10, "rural": 0.25, "other": 0.0}
_STATE_EFFECT = {
    "NJ": 0.35,
    "TX": 0.30,
    "MD": 0.30,
    "CA": 0.25,
    "MI": 0.20,
    "HI": -0.35,
    "AK": -0.30,
    "IA": -0.25,
}
_LIMIT_EFFECT = {"limited": 0.10, "unlimited": -0.10}

# --- attitude: tone levels are -3 (furious) ... +3 (delighted) ---
TONE_MIN, TONE_MAX = -3, 3
ARCS: tuple[str, ...] = ("steady", "recovering", "souring")
_ARC_WEIGHTS = (0.72, 0.16, 0.12)
_TOPIC_EFFECT = {
    "billing": 0.05,
    "coverage": 0.10,
    "dropped_calls": 0.15,
    "roaming": -0.10,
    "contract_end": 0.20,
    "competitor_offer": 0.30,
    "upgrade": -0.35,
    "cancellation": 0.30,
}
_TOPIC_EFFECT_BY_INDEX = np.array([_TOPIC_EFFECT[t] for t in TOPICS])
ATTITUDE_SCALE = 0.75

REFERENCE_SIZE = 100_000
_REFERENCE_SEED = 20_240_601


@dataclass(frozen=True)
class CallPlan:
    """What the latent model decides about a call; the grammar turns it into words."""

    topic: str
    arc: str
    n_turns: int
    tones: tuple[int, ...]  # one per customer turn, in order
    customer_words: int  # the customer side's target length

    @property
    def attitude(self) -> float:
        return attitude_of(self.tones, self.topic)


def attitude_of(tones: tuple[int, ...], topic: str) -> float:
    m = len(tones)
    weights = [1.0 + (j / (m - 1) if m > 1 else 1.0) for j in range(m)]
    mean_tone = sum(w * t for w, t in zip(weights, tones, strict=True)) / sum(weights)
    return -ATTITUDE_SCALE * mean_tone + _TOPIC_EFFECT[topic]


MAX_CUSTOMER_TURNS = 20  # 40 turns at most, the agent speaks first


@dataclass(frozen=True)
class CallDraws:
    """The latent draws for many calls at once, as arrays."""

    topic: np.ndarray  # index into TOPICS
    arc: np.ndarray  # index into ARCS
    n_turns: np.ndarray  # 5-40
    customer_words: np.ndarray
    tones: np.ndarray  # (n, MAX_CUSTOMER_TURNS); column j is valid where j < n_turns // 2

    @property
    def attitude(self) -> np.ndarray:
        """:func:`attitude_of` for every call, vectorised."""
        m = (self.n_turns // 2)[:, None]
        j = np.arange(MAX_CUSTOMER_TURNS)[None, :]
        weights = np.where(j < m, 1.0 + j / np.maximum(m - 1, 1), 0.0)
        mean_tone = (weights * self.tones).sum(axis=1) / weights.sum(axis=1)
        return -ATTITUDE_SCALE * mean_tone + _TOPIC_EFFECT_BY_INDEX[self.topic]

    def plans(self) -> list[CallPlan]:
        tones = self.tones.tolist()
        return [
            CallPlan(TOPICS[t], ARCS[a], n, tuple(tones[i][: n // 2]), w)
            for i, (t, a, n, w) in enumerate(
                zip(
                    self.topic.tolist(),
                    self.arc.tolist(),
                    self.n_turns.tolist(),
                    self.customer_words.tolist(),
                    strict=True,
                )
            )
        ]


def draw_calls(n: int, rng: np.random.Generator) -> CallDraws:
    disposition = rng.standard_normal(n)
    topic = rng.choice(len(TOPICS), size=n, p=_TOPIC_WEIGHTS)
    arc = rng.choice(len(ARCS), size=n, p=_ARC_WEIGHTS)
    # Total turns 5-40, median about 14; the agent speaks first, so customers get half.
    n_turns = np.clip(np.rint(rng.lognormal(np.log(14.0), 0.42, size=n)), 5, 40).astype(int)
    words = np.clip(np.rint(rng.normal(112.0, 26.0, size=n)), 50, 210).astype(int)
    noise = rng.standard_normal((n, MAX_CUSTOMER_TURNS))

    mu = (1.35 * disposition - 0.35)[:, None]
    m = (n_turns // 2)[:, None]
    progress = np.arange(MAX_CUSTOMER_TURNS)[None, :] / np.maximum(
        m - 1, 1
    )  # 0 at the first turn, 1 at the last
    swing = np.select([arc == 1, arc == 2], [1.0, -1.0], 0.0)[:, None]  # recovering rises, souring falls
    start = mu - 1.7 * swing
    end = mu + 1.7 * swing
    steady = (arc == 0)[:, None]
    levels = np.where(steady, mu + 0.65 * noise, start + (end - start) * progress + 0.45 * noise)
    tones = np.clip(np.rint(levels), TONE_MIN, TONE_MAX).astype(int)
    return CallDraws(topic, arc, n_turns, words, tones)


def sample_plans(n: int, rng: np.random.Generator) -> list[CallPlan]:
    return draw_calls(n, rng).plans()


@dataclass(frozen=True)
class Profiles:
    """True profile values (no missing yet), column name -> array."""

    numerical: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(next(iter(self.numerical.values())))


def sample_profiles(n: int, rng: np.random.Generator) -> Profiles:
    num: dict[str, np.ndarray] = {}
    num["Account Length"] = np.clip(np.rint(rng.normal(101.0, 40.0, n)), 1, 243)
    has_vmail = rng.random(n) < 0.27
    num["VMail Message"] = np.where(has_vmail, np.clip(np.rint(rng.normal(29.0, 7.5, n)), 4, 51), 0.0)
    for period, mean, sd in (("Day", 180.0, 54.0), ("Eve", 200.0, 50.0), ("Night", 200.0, 50.0)):
        minutes = np.round(np.clip(rng.normal(mean, sd, n), 0.0, 380.0), 1)
        num[f"{period} Mins"] = minutes
        num[f"{period} Calls"] = np.clip(np.rint(rng.normal(100.0, 20.0, n)), 0, 170)
        num[f"{period} Charge"] = np.round(minutes * RATES[period], 2)
    intl = np.round(np.clip(rng.normal(10.2, 2.8, n), 0.0, 20.0), 1)
    num["Intl Mins"] = intl
    num["Intl Calls"] = rng.poisson(4.5, n).astype(float)
    num["Intl Charge"] = np.round(intl * RATES["Intl"], 2)
    num["CustServ Calls"] = rng.poisson(1.56, n).astype(float)
    num = {name: num[name] for name in NUMERICAL}

    cat: dict[str, np.ndarray] = {
        "State": np.array(STATES)[rng.choice(len(STATES), n, p=_STATE_WEIGHTS)],
        "Location": np.array(LOCATIONS)[rng.choice(len(LOCATIONS), n, p=_LOCATION_WEIGHTS)],
        "plan": np.array(PLANS)[rng.choice(len(PLANS), n, p=_PLAN_WEIGHTS)],
    }
    # Cheaper plans are more often limited.
    p_limited = np.select([cat["plan"] == "A", cat["plan"] == "B", cat["plan"] == "C"], [0.8, 0.65, 0.5], 0.3)
    cat["limit"] = np.where(rng.random(n) < p_limited, "limited", "unlimited")
    return Profiles(num, cat)


def profile_logit(profiles: Profiles) -> np.ndarray:
    """The profile component of the churn logit (centred near zero)."""
    x = profiles.numerical
    c = profiles.categorical
    cs = x["CustServ Calls"]
    day = x["Day Mins"]
    logit = (
        0.30 * (cs - 1.56)
        + 1.05 * (cs >= 4)
        + 0.42 * (day - 180.0) / 54.0
        + 0.85 * np.clip((day - 245.0) / 40.0, 0.0, None)
        + 0.15 * (x["Eve Mins"] - 200.0) / 50.0
        + 0.70 * ((c["limit"] == "limited") & (x["Intl Mins"] > 13.0))
        + 0.25 * (x["Intl Calls"] <= 2)
        - 0.45 * (x["VMail Message"] > 0)
        + 0.0025 * (x["Account Length"] - 101.0)
    )
    logit = logit + _lookup(c["plan"], _PLAN_EFFECT) + _lookup(c["Location"], _LOCATION_EFFECT)
    logit = logit + _lookup(c["State"], _STATE_EFFECT) + _lookup(c["limit"], _LIMIT_EFFECT)
    return logit.astype(float)


def _lookup(values: np.ndarray, effects: dict[str, float]) -> np.ndarray:
    out = np.zeros(len(values))
    for category, effect in effects.items():
        out[values == category] = effect
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class Reference:
    profile: np.ndarray  # profile logits of a large fixed sample
    attitude: np.ndarray  # attitudes of an independent fixed sample


@functools.lru_cache(maxsize=1)
def reference() -> Reference:
    """A fixed sample of both components: solves the intercept and marginalises the oracles."""
    rng = np.random.default_rng(_REFERENCE_SEED)
    profile = profile_logit(sample_profiles(REFERENCE_SIZE, rng))
    attitude = draw_calls(REFERENCE_SIZE, rng).attitude
    return Reference(profile, attitude)


@functools.lru_cache(maxsize=32)
def intercept_for(churn_rate: float) -> float:
    """The intercept that makes the reference population's mean churn probability ``churn_rate``."""
    if not 0.0 < churn_rate < 1.0:
        raise ValueError(f"churn rate must be strictly between 0 and 1, got {churn_rate}")
    ref = reference()
    logits = ref.profile + ref.attitude
    lo, hi = -20.0, 20.0
    for _ in range(50):
        mid = (lo + hi) / 2.0
        if sigmoid(logits + mid).mean() < churn_rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def _marginal(own: np.ndarray, other: np.ndarray, intercept: float, chunk: int = 4096) -> np.ndarray:
    """E over ``other`` of sigmoid(own_i + other + intercept), for every i."""
    out = np.empty(len(own))
    for start in range(0, len(own), chunk):
        block = own[start : start + chunk, None] + other[None, :] + intercept
        out[start : start + chunk] = sigmoid(block).mean(axis=1)
    return out


# Enough reference draws for the marginals to be smooth, few enough to stay fast.
_MARGINAL_DRAWS = 2_000


def oracle_scores(profile: np.ndarray, attitude: np.ndarray, intercept: float) -> dict[str, np.ndarray]:
    ref = reference()
    return {
        "profile": _marginal(profile, ref.attitude[:_MARGINAL_DRAWS], intercept),
        "text": _marginal(attitude, ref.profile[:_MARGINAL_DRAWS], intercept),
        "both": sigmoid(profile + attitude + intercept),
    }


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Rank-based ROC AUC (Mann-Whitney U, ties count half)."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(score, kind="mergesort")
    sorted_scores = np.asarray(score)[order]
    ranks = np.empty(len(score))
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
