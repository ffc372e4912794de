"""Train the churn model: a SageMaker training script and a local command, one entry point.

Locally::

    python -m churn_model.train --train data/train.jsonl --test data/test.jsonl --model-dir artifacts/model

Under SageMaker the paths come from SM_MODEL_DIR, SM_CHANNEL_TRAIN,
SM_CHANNEL_TEST and SM_OUTPUT_DATA_DIR, and the serving code is written into
the model directory so the job's model.tar.gz serves as is.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import logging
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from churn_contracts.endpoint import FeatureSpec
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from . import dataio, evaluate, select
from .artifact import METRICS_FILE, save_model
from .encoder import remembered_embeddings
from .explain import typical_customer
from .pipeline import CALIBRATIONS, CLASSIFIERS, TEXT_FEATURE_CHOICES, build_pipeline, encoders, to_matrix

logger = logging.getLogger("churn_model.train")

# The seed's defaults, kept for compatibility with its hyperparameters.
SEED_NUMERICAL = "CustServ Calls,Account Length"
SEED_CATEGORICAL = "plan,limit"
SEED_TEXTUAL = "text"
SEED_LABEL = "y"
# Chosen on the template-disjoint split (model/README.md, bench_template_split.py).
DEFAULT_GRANULARITY = "text"  # see model/README.md: mixed evidence, real data and speed decide
DEFAULT_CALIBRATION = "sigmoid"  # lowest Brier that keeps the ranking (isotonic makes ties)
# The data decides (churn_model.select): cross-validated on the training rows, guarded by the check.
DEFAULT_TEXT_FEATURES = select.AUTO


@dataclass
class TrainConfig:
    """Everything that decides the fitted model, written to model.json."""

    spec: FeatureSpec = field(default_factory=FeatureSpec)
    label_name: str = SEED_LABEL
    positive_label: str | None = None
    classifier: str = "rf"
    n_estimators: int = 100
    class_weight: str | None = None
    seed: int = 0
    text_granularity: str = DEFAULT_GRANULARITY
    text_features: str = DEFAULT_TEXT_FEATURES
    calibration: str = DEFAULT_CALIBRATION
    classifier_params: dict[str, Any] = field(default_factory=dict)
    # The folds behind the choice of text features and the thresholds (a column keeps groups together).
    cv_folds: int = select.DEFAULT_FOLDS
    cv_groups: str | None = None
    # How, not what: these do not change the model (cache and device aside from float noise).
    batch_size: int = 64
    embedding_cache: str | None = None
    device: str | None = None
    precision: str | None = None
    progress: bool = True
    # What the text vectors are (minilm, or the static table distilled from it) and how MiniLM runs.
    encoder: str = "minilm"
    encoder_backend: str | None = None

    def hyperparameters(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        return data


@dataclass
class TrainResult:
    pipeline: Pipeline
    metrics: dict[str, Any]
    model_dir: Path | None
    seconds: dict[str, float]


def fit_pipeline(
    records: Sequence[Mapping[str, Any]], labels: np.ndarray, config: TrainConfig
) -> tuple[Pipeline, np.ndarray, float]:
    """Fit the pipeline; returns it, the training-set scores and the encoding seconds.

    Features are computed once and reused for the training-set scores, so the
    texts are never encoded twice.
    """
    if len(records) == 0:
        raise dataio.DataError("the training set is empty")
    if len(np.unique(labels)) < 2:
        raise dataio.DataError(f"the training labels are all {int(labels[0])}: both classes are needed")
    if config.text_features == select.AUTO:
        # Without train_model's model check: the cross-validation alone decides.
        with remembered_embeddings():
            chosen = run_selection(records, labels, config).chosen
            return fit_pipeline(records, labels, dataclasses.replace(config, text_features=chosen))
    pipeline = build_pipeline(
        config.spec,
        classifier=config.classifier,
        n_estimators=config.n_estimators,
        class_weight=config.class_weight,
        seed=config.seed,
        batch_size=config.batch_size,
        device=config.device,
        precision=config.precision,
        cache_dir=config.embedding_cache,
        show_progress_bar=config.progress,
        text_granularity=config.text_granularity,
        text_features=config.text_features,
        calibration=config.calibration,
        encoder=config.encoder,
        encoder_backend=config.encoder_backend,
        **config.classifier_params,
    )
    features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    started = time.perf_counter()
    matrix = features.fit_transform(to_matrix(records, config.spec), labels)
    encoded = time.perf_counter() - started
    # One OpenMP thread (see churn_model.select): boosting's spin-waiting team is many times
    # slower than one thread on a busy machine, and the fit is small beside the encoding.
    with threadpool_limits(limits=1, user_api="openmp"):
        _fit_classifier(classifier, matrix, labels, progress=config.progress)
    positive = list(classifier.classes_).index(1)
    return pipeline, classifier.predict_proba(matrix)[:, positive], encoded


def encoder_params(config: TrainConfig) -> dict[str, Any]:
    """The SentenceEncoder's parameters for ``config`` (as build_pipeline sets them)."""
    return {
        "batch_size": config.batch_size,
        "device": config.device,
        "precision": config.precision,
        "cache_dir": config.embedding_cache,
        "show_progress_bar": config.progress,
        "granularity": config.text_granularity,
        "encoder": config.encoder,
        "backend": config.encoder_backend,
    }


def run_selection(
    records: Sequence[Mapping[str, Any]],
    labels: np.ndarray,
    config: TrainConfig,
    *,
    groups: Sequence[Any] | None = None,
    reference: Mapping[str, Any] | None = None,
) -> select.Selection:
    """Cross-validate the text-feature candidates (``auto``) or the one given, on shared folds."""
    auto = config.text_features == select.AUTO
    return select.cross_validate(
        records,
        labels,
        config.spec,
        candidates=select.CANDIDATES if auto else (config.text_features,),
        classifier=config.classifier,
        classifier_params={
            "n_estimators": config.n_estimators,
            "class_weight": config.class_weight,
            **config.classifier_params,
        },
        encoder_params=encoder_params(config),
        seed=config.seed,
        folds=config.cv_folds,
        groups=None if groups is None else np.asarray(groups, dtype=object),
        grouped_by=config.cv_groups,
        reference=reference,
        auto=auto,
    )


def _fit_classifier(
    classifier: BaseEstimator, matrix: np.ndarray, labels: np.ndarray, *, progress: bool
) -> None:
    from tqdm.auto import tqdm

    if isinstance(classifier, RandomForestClassifier):
        # Grow the forest in slices for a progress bar; with a fixed random_state
        # warm-starting grows exactly the trees a single fit would.
        total = classifier.n_estimators
        with tqdm(total=total, desc="trees", unit="tree", disable=not progress) as bar:
            classifier.set_params(warm_start=True)
            for size in range(min(10, total), total + 10, 10):
                classifier.set_params(n_estimators=min(size, total))
                classifier.fit(matrix, labels)
                bar.update(len(classifier.estimators_) - bar.n)
                if len(classifier.estimators_) >= total:
                    break
            classifier.set_params(warm_start=False)
        return
    with tqdm(total=1, desc=f"fitting {type(classifier).__name__}", disable=not progress) as bar:
        classifier.fit(matrix, labels)
        bar.update(1)


def score(pipeline: Pipeline, records: Sequence[Mapping[str, Any]], spec: FeatureSpec) -> np.ndarray:
    classifier = pipeline.named_steps["classifier"]
    positive = list(classifier.classes_).index(1)
    return pipeline.predict_proba(to_matrix(records, spec))[:, positive]


def feature_set_name(spec: FeatureSpec) -> str:
    has_profile = bool(spec.numerical or spec.categorical)
    return "both" if has_profile and spec.text else ("text" if spec.text else "profile")


def train_model(
    train_path: str | Path | dataio.Dataset,
    model_dir: str | Path | None,
    *,
    test_path: str | Path | None = None,
    read_options: dataio.ReadOptions | None = None,
    config: TrainConfig | None = None,
    model_version: str | None = None,
    output_dir: str | Path | None = None,
    plots: bool = True,
    checks: bool = False,
    churn_period: str | None = None,
) -> TrainResult:
    """Read, fit, evaluate and (when ``model_dir`` is given) save the artifact.

    ``churn_period``: the period the label's churn covers ("90 days"), stored in metrics.json and
    the model card so alerts can say "leave within 90 days"; None: not known.

    ``checks``: also run the model check (seed pair, free-form pairs) on our data; the command
    line does unless ``--no-checks``.
    """
    config = config or TrainConfig()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    train_data = (
        train_path
        if isinstance(train_path, dataio.Dataset)
        else dataio.read_dataset(train_path, read_options)
    )
    train_records, y_train = dataio.prepare(
        train_data, config.spec, label_name=config.label_name, positive_label=config.positive_label
    )
    groups = None
    if config.cv_groups:
        dataio.check_columns(train_data, [config.cv_groups], "cross-validation group column")
        groups = [raw.get(config.cv_groups) for raw in train_data.records]
    test_records, y_test = (None, None)
    if test_path is not None:
        test_records, y_test = dataio.load(
            test_path,
            config.spec,
            label_name=config.label_name,
            positive_label=config.positive_label,
            name="test",
            options=read_options,
        )
    seconds["read"] = time.perf_counter() - started
    logger.info("training on %d records (%d churners)", len(y_train), int(y_train.sum()))
    if len(np.unique(y_train)) < 2:
        raise dataio.DataError(f"the training labels are all {int(y_train[0])}: both classes are needed")
    # The "typical customer": explanations replace profile features with it, the model check
    # scores its pairs on it.
    reference = typical_customer(train_records, config.spec.numerical, config.spec.categorical)
    guarded = checks and checks_apply(config.spec)

    with remembered_embeddings():  # the texts are encoded once, for the folds and the final fit
        mark = time.perf_counter()
        selection = run_selection(
            train_records, y_train, config, groups=groups, reference=reference if guarded else None
        )
        seconds["cross_validation"] = time.perf_counter() - mark
        print(selection.table(), flush=True)
        config = dataclasses.replace(config, text_features=selection.chosen)
        mark = time.perf_counter()
        pipeline, p_train, seconds["encode_train"] = fit_pipeline(train_records, y_train, config)
        seconds["fit"] = time.perf_counter() - mark
    p_test = None
    if test_records is not None:
        mark = time.perf_counter()
        p_test = score(pipeline, test_records, config.spec)
        seconds["score_test"] = time.perf_counter() - mark

    if test_path is None and isinstance(train_path, dataio.Dataset):
        oracle = evaluate.read_oracle(train_path.sources[0] if train_path.sources else None)
    else:
        oracle = evaluate.read_oracle(Path(test_path or train_path))
    metrics = evaluate.evaluate(
        y_train,
        p_train,
        y_test,
        p_test,
        oracle=oracle,
        feature_set=feature_set_name(config.spec),
        out_of_fold=(selection.labels, select.out_of_fold_probabilities(selection, pipeline)),
    )
    metrics["text_features"] = selection.to_json()
    metrics["churn_period"] = churn_period or None
    created = dt.datetime.now(dt.UTC)
    metrics["seconds"] = seconds
    print(evaluate.summary(metrics), flush=True)
    if guarded:
        mark = time.perf_counter()
        metrics["checks"] = model_checks(pipeline, config.spec, metrics, reference)
        seconds["checks"] = time.perf_counter() - mark

    if model_dir is not None:
        model_dir = Path(model_dir)
        metadata = build_metadata(config, pipeline, metrics, created, model_version)
        metadata["reference"] = reference
        # The model card: the cross-validated candidates and the choice, beside the hyperparameters.
        metadata["text_features"] = metrics["text_features"]
        metadata["churn_period"] = metrics["churn_period"]
        save_model(
            pipeline,
            model_dir,
            spec=config.spec,
            metadata=metadata,
            label={"name": config.label_name, "positive": config.positive_label},
        )
        targets = [model_dir] + ([Path(output_dir)] if output_dir else [])
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            evaluate.write_metrics(target / METRICS_FILE, metrics)
            if plots:
                y_plot, p_plot = (y_test, p_test) if p_test is not None else (y_train, p_train)
                evaluate.write_plots(y_plot, p_plot, target, title="test" if p_test is not None else "train")
        seconds["total"] = time.perf_counter() - started
        logger.info("model %s written to %s", metadata["model_version"], model_dir)
    seconds.setdefault("total", time.perf_counter() - started)
    return TrainResult(pipeline, metrics, model_dir, seconds)


def checks_apply(spec: FeatureSpec) -> bool:
    """The model check writes its texts into the data's first text column, on any columns; it needs
    one, and the free-form pairs beside the package (a SageMaker source_dir has none)."""
    from .checks import FREEFORM_PATH

    if not spec.text:
        return False
    if not FREEFORM_PATH.is_file():
        logger.info("model check skipped: %s is not here", FREEFORM_PATH)
        return False
    return True


def model_checks(
    pipeline: Pipeline, spec: FeatureSpec, metrics: Mapping[str, Any], reference: Mapping[str, Any]
) -> dict[str, Any]:
    """The seed's pair and the free-form pairs on the typical customer, printed and returned for metrics.json."""
    from . import checks

    def predict(records: list[dict[str, Any]]) -> np.ndarray:
        return score(pipeline, records, spec)

    results = checks.run_checks(predict, grammar_pairs=False, profile=reference, text_column=spec.text[0])
    oracle = metrics.get("oracle", {}).get("roc_auc")
    print(checks.format_check(results, test_auc=metrics.get("test", {}).get("roc_auc"), oracle_auc=oracle))
    return {**checks.to_json(results), "profile": "reference", "text_column": spec.text[0]}


def build_metadata(
    config: TrainConfig,
    pipeline: Pipeline,
    metrics: Mapping[str, Any],
    created: dt.datetime,
    model_version: str | None,
) -> dict[str, Any]:
    import joblib
    import sklearn
    import torch

    try:
        import sentence_transformers

        st_version = sentence_transformers.__version__
    except ImportError:  # a tabular-only model does not need it
        st_version = None
    encoder = next(encoders(pipeline), None)
    version = model_version or f"churn-{config.classifier}-{created:%Y%m%d-%H%M%S}"
    return {
        "model_version": version,
        "created_at": created.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "versions": {
            "scikit-learn": sklearn.__version__,
            "sentence-transformers": st_version,
            "torch": torch.__version__.split("+")[0],
            "numpy": np.__version__,
            "joblib": joblib.__version__,
            "python": sys.version.split()[0],
        },
        "classifier": config.classifier,
        "hyperparameters": config.hyperparameters(),
        "label": {"name": config.label_name, "positive": config.positive_label},
        "encoder": None
        if encoder is None
        else {"path": "encoder", "model": "all-MiniLM-L6-v2", "trained_with": encoder.identity},
        "thresholds": {
            "medium": metrics["thresholds"]["medium"],
            "high": metrics["thresholds"]["high"],
            "rule": metrics["thresholds"]["rule"],
        },
        "test_roc_auc": metrics.get("test", {}).get("roc_auc"),
    }


# --- command line -------------------------------------------------------------


def _class_weight(value: str) -> str | None:
    lowered = value.strip().lower()
    if lowered in ("", "none"):
        return None
    if lowered in ("balanced", "balanced_subsample"):
        return lowered
    raise argparse.ArgumentTypeError(
        f"class weight must be none, balanced or balanced_subsample, got {value!r}"
    )


def parser() -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="python -m churn_model.train",
        description="Train the churn model (SageMaker training script or local command).",
    )
    paths = p.add_argument_group("data and output (SageMaker sets them through SM_* variables)")
    paths.add_argument(
        "--train", default=env.get("SM_CHANNEL_TRAIN"), help="JSON Lines/CSV file or directory"
    )
    paths.add_argument("--test", default=env.get("SM_CHANNEL_TEST"), help="JSON Lines/CSV file or directory")
    paths.add_argument("--model-dir", default=env.get("SM_MODEL_DIR"), help="where the artifact is written")
    paths.add_argument(
        "--output-data-dir", default=env.get("SM_OUTPUT_DATA_DIR"), help="extra copy of metrics"
    )

    paths.add_argument("--encoding", default=None, help="text encoding of the data files (default UTF-8)")
    paths.add_argument(
        "--delimiter",
        type=_delimiter,
        default=None,
        help="CSV/TSV/TXT delimiter (default: sniffed; 'tab' for tabs)",
    )
    paths.add_argument(
        "--na-values",
        default=None,
        help="extra comma-separated tokens meaning missing (NA, NaN, null, ... already do)",
    )

    features = p.add_argument_group(
        "features (the seed's names; absent: the names table on our data, else inferred from the data)"
    )
    features.add_argument("--numerical-feature-names", default=None)
    features.add_argument("--categorical-feature-names", default=None)
    features.add_argument("--textual-feature-names", default=None, help="empty: tabular only")
    features.add_argument("--label-name", default=None)
    features.add_argument(
        "--positive-label",
        default=None,
        help="the label value meaning churn (e.g. 'True.'); default 1/true/yes",
    )

    model = p.add_argument_group("model")
    model.add_argument(
        "--best-flags",
        action="store_true",
        help="start from the measured best flags (churn_model/best_flags.py; the default since issue 20); "
        "explicit flags still win",
    )
    model.add_argument(
        "--classifier",
        choices=CLASSIFIERS,
        default="rf",
        help="rf (the seed's forest), hgb (boosting), logreg, or additive: boosting on the profile "
        "plus a linear text term (default: the best flags' additive)",
    )
    model.add_argument(
        "--n-estimators", type=int, default=100, help="trees (rf) or boosting iterations (hgb, additive)"
    )
    model.add_argument(
        "--class-weight", type=_class_weight, default=None, help="none, balanced, balanced_subsample"
    )
    model.add_argument("--seed", type=int, default=0)
    model.add_argument(
        "--max-depth", type=_optional_int, default=None, help="tree depth; none: unlimited (best flags: 3)"
    )
    model.add_argument("--min-samples-leaf", type=int, default=1)
    model.add_argument("--learning-rate", type=float, default=0.1, help="hgb and additive only")
    model.add_argument(
        "--c", type=float, default=1.0, help="inverse regularisation: logreg, and additive's text term"
    )
    model.add_argument(
        "--calibration",
        choices=CALIBRATIONS,
        default=DEFAULT_CALIBRATION,
        help=f"calibrate probabilities on held-out folds (default {DEFAULT_CALIBRATION}: chosen by Brier)",
    )

    run = p.add_argument_group("encoding")
    run.add_argument(
        "--text-granularity",
        choices=("text", "sentence"),
        default=DEFAULT_GRANULARITY,
        help="embed each text whole, windows pooled past 256 tokens (default), or sentences pooled",
    )
    run.add_argument(
        "--text-features",
        choices=(select.AUTO, *TEXT_FEATURE_CHOICES),
        default=DEFAULT_TEXT_FEATURES,
        help="what the classifier sees of a text: its intent score (leaving vs staying statements), "
        "its similarity to each statement (axes), the embedding, the intent beside the embedding "
        "(or its first 64 principal components, or the embedding held harder: intent+shrunk-embedding), "
        f"or auto: the best of those by cross-validation on the training rows (default {DEFAULT_TEXT_FEATURES})",
    )
    run.add_argument(
        "--cv-folds",
        type=_folds,
        default=select.DEFAULT_FOLDS,
        help="stratified folds for the text-feature choice and the out-of-fold thresholds (default 5)",
    )
    run.add_argument(
        "--cv-groups",
        default=None,
        help="a column whose values a fold keeps together (e.g. template_group in our generated data); "
        "it is never a feature",
    )
    run.add_argument("--batch-size", type=int, default=64)
    run.add_argument("--embedding-cache", default=None, help="directory for cached text embeddings")
    run.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when present)")
    run.add_argument(
        "--encoder",
        choices=("minilm", "static"),
        default="minilm",
        help="minilm (the transformer), or static: a model2vec table distilled from it here (offline)",
    )
    run.add_argument(
        "--encoder-backend",
        choices=("torch", "onnx"),
        default=None,
        help="how MiniLM runs (default: onnx int8 on CPU, exported at training time; torch on GPU)",
    )
    run.add_argument(
        "--precision",
        choices=("fp32", "fp16", "bf16", "int8"),
        default=None,
        help="encoder precision (default: int8 on CPU; fp32 on GPU, where fp16 is the fast option)",
    )
    run.add_argument("--model-version", default=None)
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--no-plots", action="store_true")
    run.add_argument(
        "--churn-period",
        type=_churn_period,
        default=None,
        help='the period the label\'s churn covers, e.g. "90 days": stored in metrics.json and the '
        'model card, for the alert\'s "leave within ..." (default: not known)',
    )
    run.add_argument(
        "--no-checks",
        action="store_true",
        help="skip the model check (seed pair, free-form pairs) on our data",
    )
    return p


def config_from_args(args: argparse.Namespace, columns: dataio.Columns | None = None) -> TrainConfig:
    """The configuration; column names from ``columns`` (resolved on the data), else the flags,
    else the names table."""
    if columns is None:
        default = FeatureSpec()
        spec = FeatureSpec(
            *(
                default_names if value is None else dataio.split_names(value)
                for value, default_names in (
                    (args.numerical_feature_names, default.numerical),
                    (args.categorical_feature_names, default.categorical),
                    (args.textual_feature_names, default.text),
                )
            )
        )
        label = args.label_name or SEED_LABEL
    else:
        spec, label = columns.spec, columns.label
    params: dict[str, Any] = {}
    if args.classifier in ("rf", "hgb", "additive"):
        params.update(max_depth=args.max_depth, min_samples_leaf=args.min_samples_leaf)
    if args.classifier in ("hgb", "additive"):
        params["learning_rate"] = args.learning_rate
    if args.classifier in ("logreg", "additive"):
        params["c"] = args.c
    return TrainConfig(
        spec=spec,
        label_name=label,
        positive_label=args.positive_label,
        classifier=args.classifier,
        n_estimators=args.n_estimators,
        class_weight=args.class_weight,
        seed=args.seed,
        text_granularity=args.text_granularity,
        text_features=args.text_features,
        calibration=args.calibration,
        classifier_params=params,
        cv_folds=args.cv_folds,
        cv_groups=args.cv_groups or None,
        batch_size=args.batch_size,
        embedding_cache=args.embedding_cache,
        device=args.device,
        precision=args.precision,
        progress=not args.no_progress,
        encoder=args.encoder,
        encoder_backend=args.encoder_backend,
    )


def write_serving_code(model_dir: Path) -> None:
    """Under SageMaker, put the inference code beside the model so model.tar.gz serves as is."""
    try:
        from churn_model.serving.package import write_code_dir
    except ImportError as exc:
        raise SystemExit(
            f"cannot write the serving code into {model_dir}: churn_model.serving.package.write_code_dir "
            f"is not importable ({exc})"
        ) from exc
    write_code_dir(model_dir)


def _optional_int(value: str) -> int | None:
    # The best flags are the defaults, so "no limit" must be sayable on the command line.
    return None if value.strip().lower() in ("", "none") else int(value)


def _churn_period(value: str) -> str | None:
    # Said in every alert's first lines: one short line (the alert's cap is 64 characters).
    period = " ".join(value.split())
    if len(period) > 64:
        raise argparse.ArgumentTypeError(f"the churn period is at most 64 characters, got {len(period)}")
    return period or None


def _folds(value: str) -> int:
    folds = int(value)
    if folds < 2:
        raise argparse.ArgumentTypeError(f"cross-validation needs at least 2 folds, got {folds}")
    return folds


def _delimiter(value: str) -> str:
    return "\t" if value.lower() in ("tab", "\\t", "\t") else value


def _names_flag(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else dataio.split_names(value)


def describe_columns(columns: dataio.Columns) -> str:
    lines = ["columns:"]
    for kind, names in (
        ("numerical", columns.numerical),
        ("categorical", columns.categorical),
        ("text", columns.text),
        ("label", (columns.label,)),
    ):
        lines.append(f"  {kind:11s} ({columns.how.get(kind, 'flag')}): {', '.join(names) or '-'}")
    if columns.ignored:
        lines.append(f"  ignored: {', '.join(columns.ignored)}")
    return "\n".join(lines)


def resolved_flags(config: TrainConfig, args: argparse.Namespace | None = None) -> list[str]:
    """The flags that reproduce ``config`` (data paths aside), as argv."""
    flags = [
        "--numerical-feature-names",
        ",".join(config.spec.numerical),
        "--categorical-feature-names",
        ",".join(config.spec.categorical),
        "--textual-feature-names",
        ",".join(config.spec.text),
        "--label-name",
        config.label_name,
    ]
    if config.positive_label is not None:
        flags += ["--positive-label", config.positive_label]
    flags += [
        "--classifier",
        config.classifier,
        "--n-estimators",
        str(config.n_estimators),
        "--class-weight",
        config.class_weight or "none",
        "--seed",
        str(config.seed),
    ]
    for key, value in config.classifier_params.items():
        if value is not None or key == "max_depth":  # unlimited depth is "none", not the default 3
            flags += ["--" + key.replace("_", "-"), "none" if value is None else str(value)]
    flags += ["--text-granularity", config.text_granularity, "--text-features", config.text_features]
    flags += ["--calibration", config.calibration, "--cv-folds", str(config.cv_folds)]
    if config.cv_groups:
        flags += ["--cv-groups", config.cv_groups]
    if args is not None:
        for name in ("encoding", "delimiter", "na_values"):
            if getattr(args, name, None) is not None:
                flags += ["--" + name.replace("_", "-"), getattr(args, name)]
    return flags


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The flags; the measured best flags are the defaults (``--best-flags`` says so explicitly),
    so anything given on the command line still wins. Since issue 20 a run with no model flags
    trains what ``--best-flags`` trains: on the outside dev set the seed's forest scored 0.94."""
    from .best_flags import BEST_FLAGS

    p = parser()
    p.set_defaults(**{name.replace("-", "_"): value for name, value in BEST_FLAGS.items()})
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    if not args.train:
        parser().error("--train is required (or SM_CHANNEL_TRAIN)")
    if not args.model_dir:
        parser().error("--model-dir is required (or SM_MODEL_DIR)")
    options = dataio.ReadOptions(args.encoding, args.delimiter, dataio.split_names(args.na_values))
    try:
        train_data = dataio.read_dataset(args.train, options)
        columns = dataio.infer_columns(
            train_data,
            numerical=_names_flag(args.numerical_feature_names),
            categorical=_names_flag(args.categorical_feature_names),
            text=_names_flag(args.textual_feature_names),
            label=args.label_name,
            ignore=(args.cv_groups,) if args.cv_groups else (),
        )
    except (dataio.DataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    config = config_from_args(args, columns)
    print(describe_columns(columns), flush=True)
    print(
        "resolved flags (repeat this run exactly with them):\n  " + shlex.join(resolved_flags(config, args))
    )
    try:
        result = train_model(
            train_data,
            args.model_dir,
            read_options=options,
            test_path=args.test,
            config=config,
            model_version=args.model_version,
            output_dir=args.output_data_dir,
            plots=not args.no_plots,
            checks=not args.no_checks,
            churn_period=args.churn_period,
        )
    except (dataio.DataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("SM_MODEL_DIR"):
        write_serving_code(Path(args.model_dir))
    total = result.seconds.get("total", 0.0)
    print(f"trained in {total:.1f} s; model written to {args.model_dir}", flush=True)
    return 0


def best_config(**overrides: Any) -> TrainConfig:
    """The configuration ``--best-flags`` trains on our data (the names table's columns)."""
    import dataclasses

    args = parse_args(["--best-flags", "--train", "-", "--model-dir", "-"])
    return dataclasses.replace(config_from_args(args), spec=FeatureSpec(), **overrides)


if __name__ == "__main__":
    sys.exit(main())
