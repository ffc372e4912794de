"""Metrics, suggested risk thresholds and plots for a trained churn model.

Suggested thresholds (computed on out-of-fold scores of the training rows, never on the test set):
- ``high``: the lowest threshold at which precision reaches HIGH_PRECISION (0.6),
  i.e. the most churners caught while at least 3 in 5 high-risk alerts are
  real. Retention offers cost money, so a high alert should usually be right.
- ``medium``: the highest threshold that still catches MEDIUM_RECALL (80 %) of
  the churners: a watch list, recall first. Never above ``high``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)

HIGH_PRECISION = 0.6
MEDIUM_RECALL = 0.8
DECISION_THRESHOLD = 0.5

logger = logging.getLogger(__name__)


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = DECISION_THRESHOLD) -> dict[str, Any]:
    y = np.asarray(y)
    p = np.asarray(p, dtype=np.float64)
    predicted = (p >= threshold).astype(int)
    both_classes = len(np.unique(y)) == 2
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "threshold": threshold,
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, p)) if both_classes else None,
        "pr_auc": float(average_precision_score(y, p)) if both_classes else None,
        "brier": float(brier_score_loss(y, p)),
    }


def suggest_thresholds(
    y: np.ndarray,
    p: np.ndarray,
    *,
    high_precision: float = HIGH_PRECISION,
    medium_recall: float = MEDIUM_RECALL,
) -> dict[str, Any]:
    precision, recall, thresholds = precision_recall_curve(y, p)
    # precision/recall have one more entry than thresholds (the end point).
    precision, recall = precision[:-1], recall[:-1]
    reaching = np.flatnonzero(precision >= high_precision)
    if reaching.size:
        high = float(thresholds[reaching[0]])
        high_at = {"precision": float(precision[reaching[0]]), "recall": float(recall[reaching[0]])}
    else:  # never that precise: alert only on the single most confident score
        best = int(np.argmax(precision))
        high = float(thresholds[best])
        high_at = {"precision": float(precision[best]), "recall": float(recall[best])}
        logger.warning(
            "precision never reaches %.2f; the high threshold is the most precise one", high_precision
        )
    catching = np.flatnonzero(recall >= medium_recall)
    medium = float(thresholds[catching[-1]]) if catching.size else float(thresholds[0])
    medium = min(medium, high)
    index = int(np.searchsorted(thresholds, medium))
    medium_at = {"precision": float(precision[index]), "recall": float(recall[index])}
    # The customers behind each figure: all scored, the churners among them, those at or above it.
    y, p = np.asarray(y), np.asarray(p, dtype=np.float64)
    for at, cut in ((high_at, high), (medium_at, medium)):
        at.update(customers=len(y), churners=int(y.sum()), flagged=int((p >= cut).sum()))
    return {
        "high": high,
        "medium": medium,
        "rule": {
            "high": f"lowest threshold with precision >= {high_precision}",
            "medium": f"highest threshold with recall >= {medium_recall}, at most high",
        },
        "at_high": high_at,
        "at_medium": medium_at,
    }


def read_oracle(data_path: Path | None) -> dict[str, Any] | None:
    """The generator's oracle figures, when the data directory has ``oracle.json``."""
    if data_path is None:
        return None
    directory = data_path if data_path.is_dir() else data_path.parent
    file = directory / "oracle.json"
    if not file.is_file():
        return None
    try:
        return json.loads(file.read_text())
    except ValueError:
        logger.warning("ignoring %s: not valid JSON", file)
        return None


def oracle_auc(
    oracle: Mapping[str, Any] | None, feature_set: str = "both", split: str = "test"
) -> float | None:
    """Pick one oracle AUC out of the generator's file, whatever its nesting."""
    if not oracle:
        return None
    for path in (
        (split, "oracle_auc", feature_set),  # the generator's oracle.json
        (split, feature_set),
        ("auc", split, feature_set),
        ("oracle_auc", split, feature_set),
        (feature_set, split),
        ("auc", feature_set),
        ("oracle_auc", feature_set),
        (feature_set,),
    ):
        node: Any = oracle
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            return float(node)
    return None


def evaluate(
    y_train: np.ndarray,
    p_train: np.ndarray,
    y_test: np.ndarray | None = None,
    p_test: np.ndarray | None = None,
    *,
    oracle: Mapping[str, Any] | None = None,
    feature_set: str = "both",
    out_of_fold: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Metrics on train, out of fold and on test; thresholds from the out-of-fold scores.

    ``out_of_fold``: labels and held-out probabilities of training rows (churn_model.select). The
    thresholds never read the test file: without out-of-fold scores they come from the training
    scores (``computed_on: train``).
    """
    metrics: dict[str, Any] = {"train": binary_metrics(y_train, p_train)}
    if out_of_fold is not None:
        metrics["out_of_fold"] = binary_metrics(*out_of_fold)
    if y_test is not None and p_test is not None:
        metrics["test"] = binary_metrics(y_test, p_test)
    basis_y, basis_p = (y_train, p_train) if out_of_fold is None else out_of_fold
    metrics["thresholds"] = suggest_thresholds(basis_y, basis_p)
    metrics["thresholds"]["computed_on"] = "train" if out_of_fold is None else "out_of_fold"
    reference = oracle_auc(oracle, feature_set)
    if reference is not None:
        metrics["oracle"] = {"feature_set": feature_set, "roc_auc": reference, "figures": dict(oracle or {})}
        if "test" in metrics and metrics["test"]["roc_auc"] is not None:
            metrics["oracle"]["test_auc_ratio"] = metrics["test"]["roc_auc"] / reference
    return metrics


def write_metrics(path: Path, metrics: Mapping[str, Any]) -> Path:
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return path


def summary(metrics: Mapping[str, Any]) -> str:
    lines = []
    for split in ("train", "out_of_fold", "test"):
        if split in metrics:
            m = metrics[split]
            auc = "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.4f}"
            pr = "n/a" if m["pr_auc"] is None else f"{m['pr_auc']:.4f}"
            lines.append(
                f"{split.replace('out_of_fold', 'oof'):5s} n={m['n']:6d} auc={auc} pr_auc={pr} acc={m['accuracy']:.4f} "
                f"precision={m['precision']:.4f} recall={m['recall']:.4f} f1={m['f1']:.4f} brier={m['brier']:.4f}"
            )
    t = metrics["thresholds"]
    lines.append(
        f"thresholds ({t['computed_on']}, {t['at_high'].get('customers', '?')} customers): high={t['high']:.4f} "
        f"(precision {t['at_high']['precision']:.3f}, recall {t['at_high']['recall']:.3f}), "
        f"medium={t['medium']:.4f} (precision {t['at_medium']['precision']:.3f}, "
        f"recall {t['at_medium']['recall']:.3f})"
    )
    if "oracle" in metrics:
        o = metrics["oracle"]
        ratio = o.get("test_auc_ratio")
        lines.append(
            f"oracle auc ({o['feature_set']}): {o['roc_auc']:.4f}"
            + ("" if ratio is None else f"; test auc / oracle = {ratio:.4f}")
        )
    return "\n".join(lines)


def write_plots(y: np.ndarray, p: np.ndarray, directory: Path, *, title: str = "test") -> list[Path]:
    """ROC, precision-recall and calibration curves as PNGs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import roc_curve

    directory.mkdir(parents=True, exist_ok=True)
    written = []

    fpr, tpr, _ = roc_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"AUC {roc_auc_score(y, p):.3f}")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC ({title})")
    ax.legend(loc="lower right")
    written.append(_save(fig, directory / "roc.png"))

    precision, recall, _ = precision_recall_curve(y, p)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(recall, precision, label=f"AP {average_precision_score(y, p):.3f}")
    ax.axhline(float(np.mean(y)), linestyle="--", color="grey", label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision-recall ({title})")
    ax.legend(loc="upper right")
    written.append(_save(fig, directory / "precision_recall.png"))

    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(predicted, observed, marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect")
    ax.set(xlabel="mean predicted probability", ylabel="observed churn rate", title=f"Calibration ({title})")
    ax.legend(loc="upper left")
    written.append(_save(fig, directory / "calibration.png"))
    return written


def _save(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
