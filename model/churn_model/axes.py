"""Intent: how much closer a call is to plain statements of leaving than to statements of staying.

all-MiniLM-L6-v2 was trained for sentence similarity, so the cosine between a call and "I want to
cancel my service." already measures intent, on any phrasing. The classifier then learns one
weight for the intent score (``"intent"``) or one per statement (``"axes"``) instead of 384 for
the raw embedding, so what it learns is "closer to leaving is riskier", not "the generator's words
for anger are riskier". On text the generator never wrote this generalises much better
(model/README.md, "Evaluation on text the generator never wrote").

The statements were written by hand for this list, from what contact-centre customers say when
they stay or leave (intent, complaint, price, competitor offer, praise, renewal); none comes from
the free-form evaluation pairs or the data generator, and none may ever be copied from them. Changing
one changes every model trained after it: re-run ``model/benchmarks/bench_template_split.py``.
"""

from __future__ import annotations

import numpy as np

# (name, statement): the name becomes the feature name, ``<text column>_axis_<name>``.
LEAVING: tuple[tuple[str, str], ...] = (
    ("cancel", "I want to cancel my service."),
    ("competitor", "I am leaving for another provider."),
    ("close", "Please close my account."),
    ("unhappy", "I am very unhappy with this company."),
    ("price", "This is too expensive, I can't afford it anymore."),
    ("failing", "Your service keeps failing and nobody fixes it."),
    ("done", "I'm fed up and I'm done with you."),
    ("better_deal", "Another company offered me a better deal, so I'm switching."),
)
STAYING: tuple[tuple[str, str], ...] = (
    ("happy", "I am happy with my service."),
    ("works", "Everything works well, thank you."),
    ("stay", "I want to stay with you."),
    ("fair_price", "The price is fair for what I get."),
    ("solved", "You solved my problem, thanks."),
    ("renew", "I'd like to renew my contract."),
    ("recommend", "I'm a satisfied customer and I'd recommend you."),
    ("fine", "No complaints, it's all fine."),
)
AXES: tuple[tuple[str, str], ...] = LEAVING + STAYING
NAMES: tuple[str, ...] = tuple(name for name, _ in AXES)
STATEMENTS: tuple[str, ...] = tuple(statement for _, statement in AXES)
# Columns per text for the features this module computes (the embedding's width depends on the encoder).
WIDTHS: dict[str, int] = {"intent": 1, "axes": len(AXES)}


def similarities(vectors: np.ndarray, statements: np.ndarray) -> np.ndarray:
    """(n, statements): cosine of each L2-normalised text vector with each statement vector."""
    return np.asarray(vectors, dtype=np.float32) @ np.asarray(statements, dtype=np.float32).T


def intent(vectors: np.ndarray, statements: np.ndarray) -> np.ndarray:
    """(n, 1): mean similarity to the leaving statements minus mean similarity to the staying ones."""
    cosines = similarities(vectors, statements)
    leaving = cosines[:, : len(LEAVING)].mean(axis=1)
    staying = cosines[:, len(LEAVING) :].mean(axis=1)
    return (leaving - staying)[:, None]
