"""A candidate model is promoted only when it is better than the serving one on recent labelled calls.

    python -m churn_ops.promote --candidate model.tar.gz --data data-stack/test.jsonl \\
        [--serving serving.tar.gz]                  # else the registry's approved package
        [--stack-name S | --bucket B --endpoint-url URL] [--group churn-models] [--dry-run]

Both models score the same rows (the newest labelled calls: ``--from-stack``'s test.jsonl) through
the bulk path (``churn_model.batch``, the endpoint's own handlers). The table gives ROC AUC, PR AUC
(average precision) and the Brier score of each, the candidate's difference and a 95 % paired
bootstrap interval for it (the same resampled rows for both models, so the interval is of the
difference itself), and the model check (the free-form sentiment pairs). The candidate is
promoted when:

- its ROC AUC is higher and the interval's lower end is above ``-margin`` (default 0.01: never
  clearly worse; the point estimate must be better);
- its Brier score is not clearly worse (the interval of the difference is not all above 0);
- its model check passes at least as many pairs as the serving model's, less ``pairs_margin``.

Every candidate is registered (SageMaker Model Package Group: the archive content-addressed, the
comparison as ModelMetrics) and Approved or Rejected with the reasons. ``--dry-run`` compares only.
The approved package's ``ModelDataUrl`` is what the stack's ``ModelDataUrl`` parameter takes
(printed as the ``sam deploy`` override; the endpoint then updates blue/green with a canary).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.features import LABEL

DEFAULT_BOOTSTRAP = 1000
DEFAULT_MARGIN = 0.01
DEFAULT_PAIRS_MARGIN = 0.02
MIN_ROWS = 30
MIN_PER_CLASS = 5


class PromoteError(RuntimeError):
    """Cannot compare: too few rows, one class only, a model that will not load."""


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Mann-Whitney: the chance a churned row outscores a kept one (ties count half)."""
    from scipy.stats import rankdata

    ranks = rankdata(p)
    positives = int(y.sum())
    negatives = len(y) - positives
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, p))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean((p - y) ** 2))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "roc_auc": roc_auc,
    "pr_auc": pr_auc,
    "brier": brier,
}
HIGHER_IS_BETTER = {"roc_auc": True, "pr_auc": True, "brier": False}


@dataclass(frozen=True)
class MetricRow:
    name: str
    serving: float
    candidate: float
    difference: float  # candidate - serving
    low: float  # 95 % paired bootstrap interval of the difference
    high: float


def paired_bootstrap(
    y: np.ndarray, serving: np.ndarray, candidate: np.ndarray, n: int = DEFAULT_BOOTSTRAP, seed: int = 0
) -> list[MetricRow]:
    """Each metric for both models, and the interval of the difference over ``n`` resamples of
    the rows (one resample serves both models; resamples with one class only are drawn again)."""
    if len(y) < MIN_ROWS or min(int(y.sum()), int(len(y) - y.sum())) < MIN_PER_CLASS:
        raise PromoteError(
            f"{len(y)} labelled rows with {int(y.sum())} churned: need at least {MIN_ROWS} rows and "
            f"{MIN_PER_CLASS} of each label to compare"
        )
    rng = np.random.default_rng(seed)
    diffs: dict[str, list[float]] = {name: [] for name in METRICS}
    drawn = 0
    while drawn < n:
        index = rng.integers(0, len(y), len(y))
        sample = y[index]
        if sample.min() == sample.max():
            continue
        drawn += 1
        for name, metric in METRICS.items():
            diffs[name].append(metric(sample, candidate[index]) - metric(sample, serving[index]))
    rows = []
    for name, metric in METRICS.items():
        low, high = np.percentile(diffs[name], [2.5, 97.5])
        s, c = metric(y, serving), metric(y, candidate)
        rows.append(MetricRow(name, s, c, c - s, float(low), float(high)))
    return rows


@dataclass
class Decision:
    promote: bool
    reasons: list[str] = field(default_factory=list)


def decide(
    rows: Sequence[MetricRow],
    checks: Mapping[str, float] | None = None,
    *,
    margin: float = DEFAULT_MARGIN,
    pairs_margin: float = DEFAULT_PAIRS_MARGIN,
) -> Decision:
    by = {row.name: row for row in rows}
    reasons: list[str] = []
    auc = by["roc_auc"]
    if auc.difference <= 0:
        reasons.append(f"ROC AUC is not higher ({auc.candidate:.3f} vs {auc.serving:.3f})")
    if auc.low <= -margin:
        reasons.append(
            f"ROC AUC may be worse: the difference's interval reaches {auc.low:+.3f} (margin {margin})"
        )
    score = by["brier"]
    if score.low > 0:
        reasons.append(
            f"Brier score is worse: {score.candidate:.4f} vs {score.serving:.4f} (interval above 0)"
        )
    if checks is not None and checks["candidate"] < checks["serving"] - pairs_margin:
        reasons.append(
            f"the model check passes fewer pairs: {checks['candidate']:.1%} vs {checks['serving']:.1%}"
        )
    return Decision(
        not reasons, reasons or [f"ROC AUC {auc.difference:+.3f} [{auc.low:+.3f}, {auc.high:+.3f}]"]
    )


def table(rows: Sequence[MetricRow], checks: Mapping[str, float] | None) -> list[str]:
    out = [f"{'metric':<10} {'serving':>8} {'candidate':>9} {'diff':>8}   95% paired bootstrap"]
    for row in rows:
        out.append(
            f"{row.name:<10} {row.serving:8.4f} {row.candidate:9.4f} {row.difference:+8.4f}   "
            f"[{row.low:+.4f}, {row.high:+.4f}]"
        )
    if checks is not None:
        out.append(
            f"{'check':<10} {checks['serving']:8.1%} {checks['candidate']:9.1%} "
            f"{checks['candidate'] - checks['serving']:+8.1%}   (free-form pairs passed)"
        )
    return out


# ---------------------------------------------------------------- scoring through the bulk path


def load(model_path: Path, into: Path) -> Any:
    from churn_model.serving.handlers import model_fn
    from churn_model.serving.server import unpack_model

    return model_fn(str(unpack_model(model_path, into)))


def bulk_scores(model: Any, data: Path, work: Path) -> np.ndarray:
    """P(churn) per line of ``data`` through churn_model.batch; a refused row is an error here
    (both models must score the same rows)."""
    from churn_model.batch import model_thresholds, run_batch

    out = work / f"scores-{model.model_version}.jsonl"
    run_batch(model, data, out, thresholds=model_thresholds(model), restart=True, progress=False)
    scores = []
    for line in out.read_text().splitlines():
        result = json.loads(line)
        if "error" in result:
            raise PromoteError(f"line {result['line']} of {data}: {result['error']}")
        scores.append(float(result["probability"]))
    return np.asarray(scores)


def labels(data: Path) -> np.ndarray:
    values = []
    for number, line in enumerate(data.read_text().splitlines(), start=1):
        if line.strip():
            y = json.loads(line).get(LABEL)
            if y not in (0, 1):
                raise PromoteError(f"line {number} of {data}: '{LABEL}' must be 0 or 1")
            values.append(int(y))
    return np.asarray(values)


def model_check(model: Any) -> float:
    """The share of free-form sentiment pairs the model orders right."""
    from churn_model.checks import check_freeform

    result = check_freeform(model.predict_proba)
    return float(result.share)


@dataclass
class Comparison:
    rows: list[MetricRow]
    checks: dict[str, float] | None
    decision: Decision
    n_rows: int
    candidate_version: str
    serving_version: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.n_rows,
            "candidate": self.candidate_version,
            "serving": self.serving_version,
            "metrics": [asdict(row) for row in self.rows],
            "model_check": self.checks,
            "promote": self.decision.promote,
            "reasons": self.decision.reasons,
        }


def compare(
    candidate: Path,
    serving: Path,
    data: Path,
    *,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    margin: float = DEFAULT_MARGIN,
    with_check: bool = True,
) -> Comparison:
    y = labels(data)
    with tempfile.TemporaryDirectory(prefix="promote-") as tmp:
        work = Path(tmp)
        models = {
            "candidate": load(candidate, work / "candidate"),
            "serving": load(serving, work / "serving"),
        }
        scores = {name: bulk_scores(model, data, work / name) for name, model in models.items()}
        checks = {name: model_check(model) for name, model in models.items()} if with_check else None
    rows = paired_bootstrap(y, scores["serving"], scores["candidate"], n=bootstrap)
    return Comparison(
        rows,
        checks,
        decide(rows, checks, margin=margin),
        len(y),
        str(models["candidate"].model_version),
        str(models["serving"].model_version),
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m churn_ops.promote", description=__doc__.split("\n")[0])
    p.add_argument(
        "--candidate", type=Path, required=True, help="the candidate's model.tar.gz (or model dir)"
    )
    p.add_argument("--data", type=Path, required=True, help="recent labelled calls (JSON Lines with y)")
    p.add_argument(
        "--serving", type=Path, help="the serving model (default: the registry's approved package)"
    )
    p.add_argument("--bootstrap", type=int, default=DEFAULT_BOOTSTRAP)
    p.add_argument("--margin", type=float, default=DEFAULT_MARGIN)
    p.add_argument("--no-check", action="store_true", help="skip the model check (free-form pairs)")
    p.add_argument("--dry-run", action="store_true", help="compare only: register nothing")
    p.add_argument("--bucket", help="the models' bucket (default: the stack's recordings bucket)")
    p.add_argument("--group", default="churn-models", help="the model package group")
    p.add_argument("--image", default="", help="the serving container image (pinned tag)")
    p.add_argument("--stack-name")
    p.add_argument("--region")
    p.add_argument("--endpoint-url")
    return p


def registry_from_args(args: argparse.Namespace) -> Any:
    import boto3

    from churn_ops.registry import ModelRegistry
    from churn_ops.stack import models_bucket

    session = boto3.session.Session(region_name=args.region)
    bucket = models_bucket(session, args.bucket, args.stack_name, args.endpoint_url)
    if not bucket:
        raise PromoteError("cannot tell the models' bucket: pass --bucket or --stack-name")
    return ModelRegistry(
        session.client("sagemaker", endpoint_url=args.endpoint_url),
        session.client("s3", endpoint_url=args.endpoint_url),
        bucket,
        args.group,
        args.image,
    )


def main(argv: Sequence[str] | None = None) -> int:
    from churn_ops.registry import RegistryError

    args = parser().parse_args(argv)
    try:
        registry = None if args.dry_run and args.serving else registry_from_args(args)
        serving = args.serving
        with tempfile.TemporaryDirectory(prefix="serving-") as tmp:
            if serving is None:
                package = registry.approved() if registry else None
                if package is None:
                    raise PromoteError("no approved package in the registry: pass --serving")
                serving = registry.fetch(package, Path(tmp) / "model.tar.gz")
            result = compare(
                args.candidate, serving, args.data, bootstrap=args.bootstrap, margin=args.margin,
                with_check=not args.no_check,
            )  # fmt: skip
    except (PromoteError, RegistryError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{result.n_rows} labelled calls; candidate {result.candidate_version} vs serving {result.serving_version}"
    )
    for line in table(result.rows, result.checks):
        print(line)
    verdict = "PROMOTE" if result.decision.promote else "REFUSE"
    print(f"{verdict}: " + "; ".join(result.decision.reasons))
    if registry is not None and not args.dry_run:
        registry.ensure_group()
        url, digest = registry.upload(args.candidate)
        package = registry.register(url, digest, result.to_json(), result.candidate_version)
        package = registry.decide(package.arn, result.decision.promote, "; ".join(result.decision.reasons))
        print(f"registered {package.arn}: {package.status}")
        if result.decision.promote:
            print(f"deploy: sam deploy --parameter-overrides ModelDataUrl={package.model_data_url}")
    return 0 if result.decision.promote else 1


if __name__ == "__main__":
    sys.exit(main())
