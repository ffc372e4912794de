"""The model artifact: what training writes and serving loads, from one directory.

Layout of ``<model_dir>``::

    model.joblib          the fitted pipeline (the encoder by relative path, no weights)
    feature_names.json    FeatureSpec.to_dict() plus the label's name and positive value
    model.json            version, created_at (UTC), library versions, classifier,
                          hyperparameters, suggested thresholds
    metrics.json          written by evaluate
    encoder/              MiniLM: the sentence-transformers files, copied from the package,
                          plus onnx/model_qint8.onnx (exported and quantised at training time);
                          static tier: the model2vec table distilled at training time
    *.png                 ROC, precision-recall and calibration plots

Nothing is downloaded at load time: the encoder is read from ``encoder/``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from churn_contracts.endpoint import FeatureSpec
from sklearn.pipeline import Pipeline

from .encoder import SentenceEncoder, onnx_ready_dir, static_ready_dir
from .encoder_onnx import int8_path
from .fastpath import compile_scorer
from .pipeline import encoders, set_n_jobs, to_matrix

MODEL_FILE = "model.joblib"
FEATURES_FILE = "feature_names.json"
METADATA_FILE = "model.json"
METRICS_FILE = "metrics.json"
ENCODER_DIR = "encoder"
# Up to this many records the classifier predicts on one thread: spawning
# workers costs more than the trees do.
SERIAL_BATCH = 32

logger = logging.getLogger(__name__)


class ChurnModel:
    """A loaded artifact: ``predict_proba(records)`` gives P(churn) per record."""

    def __init__(
        self, pipeline: Pipeline, spec: FeatureSpec, metadata: dict[str, Any], model_dir: Path
    ) -> None:
        self.pipeline = pipeline
        self.spec = spec
        self.metadata = metadata
        self.model_dir = model_dir
        self.model_version: str = str(metadata["model_version"])
        classes = list(pipeline.classes_)
        if 1 not in classes:
            raise ValueError(
                f"{model_dir}: the classifier was not trained on a positive class (classes {classes})"
            )
        self._positive = classes.index(1)
        # The pipeline's numbers without scikit-learn's per-call cost (fastpath.py); None: the pipeline.
        self.fast = compile_scorer(pipeline, spec)

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """P(churn) for each record, shape (n,); one batched encode for all of them."""
        if not records:
            return np.zeros(0, dtype=np.float64)
        matrix = to_matrix(records, self.spec)
        n_jobs = 1 if len(records) <= SERIAL_BATCH else -1
        # Threads: worker processes would get a pickled copy of the encoder on every call (3-4x slower).
        with joblib.parallel_config(backend="threading", n_jobs=n_jobs):  # thread-local config
            if self.fast is not None:
                return self.fast.score_matrix(matrix)
            return self.pipeline.predict_proba(matrix)[:, self._positive]

    def warm_up(self) -> None:
        """One dummy prediction, so the first real request does not pay for lazy set-up."""
        record: dict[str, Any] = dict.fromkeys(self.spec.all)
        for name in self.spec.text:
            record[name] = "I have been a customer for years and my bill went up again this month."
        self.predict_proba([record])

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self.metadata.get("thresholds", {}))


def load_model(
    model_dir: str | Path,
    *,
    device: str | None = None,
    precision: str | None = None,
    backend: str | None = None,
) -> ChurnModel:
    """Load an artifact directory. ``device`` None picks CUDA when present; ``backend``
    and ``precision`` None pick the encoder's defaults for the device (see encoder.py):
    ONNX int8 on CPU where the artifact carries it, else PyTorch. In a container the
    environment can choose (``CHURN_ENCODER_BACKEND``, ``CHURN_ENCODER_PRECISION``: e.g.
    ``fp16`` on a GPU endpoint); explicit arguments win."""
    backend = backend or os.environ.get("CHURN_ENCODER_BACKEND") or None
    precision = precision or os.environ.get("CHURN_ENCODER_PRECISION") or None
    model_dir = Path(model_dir).resolve()
    for required in (MODEL_FILE, FEATURES_FILE, METADATA_FILE):
        if not (model_dir / required).is_file():
            raise FileNotFoundError(f"{model_dir} is not a churn model directory: {required} is missing")
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    spec = FeatureSpec.from_dict(json.loads((model_dir / FEATURES_FILE).read_text()))
    _check_versions(metadata)
    pipeline: Pipeline = joblib.load(model_dir / MODEL_FILE)
    for encoder in encoders(pipeline):
        if encoder.model_path and not Path(encoder.model_path).is_absolute():
            encoder.model_path = str(model_dir / encoder.model_path)
        encoder.device = device
        encoder.precision = precision
        encoder.backend = backend
        encoder.cache_dir = None
        encoder.show_progress_bar = False
        _check_encoder_files(encoder)
    set_n_jobs(pipeline, None)  # decided per call through joblib.parallel_config
    for encoder in encoders(pipeline):
        encoder.model  # noqa: B018 - load the weights now, not on the first request
    return ChurnModel(pipeline, spec, metadata, model_dir)


def save_model(
    pipeline: Pipeline,
    model_dir: str | Path,
    *,
    spec: FeatureSpec,
    metadata: Mapping[str, Any],
    label: Mapping[str, Any] | None = None,
) -> Path:
    """Write the pipeline, feature names, metadata and encoder files to ``model_dir``.

    ``metadata`` must hold ``model_version``; it is written as ``model.json``.
    """
    if "model_version" not in metadata:
        raise ValueError("metadata needs a model_version")
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    found = list(encoders(pipeline))
    # MiniLM artifacts carry the ONNX int8 file, so they serve on a CPU without exporting.
    sources = {_encoder_files(e).resolve() for e in found}
    if len(sources) > 1:
        raise ValueError(f"all text features must share one encoder, found {sorted(map(str, sources))}")
    if sources:
        _copy_encoder(sources.pop(), model_dir / ENCODER_DIR)

    # The artifact refers to the encoder by relative path and carries no
    # training-machine settings (cache, device, progress bars).
    saved = [(e, e.get_params(deep=False)) for e in found]
    try:
        for encoder in found:
            encoder.set_params(
                model_path=ENCODER_DIR,
                device=None,
                precision=None,
                backend=None,
                cache_dir=None,
                show_progress_bar=False,
            )
        joblib.dump(pipeline, model_dir / MODEL_FILE, compress=3)
    finally:
        for encoder, params in saved:
            encoder.set_params(**params)

    features = {**spec.to_dict(), "label": dict(label or {})}
    _write_json(model_dir / FEATURES_FILE, features)
    _write_json(model_dir / METADATA_FILE, dict(metadata))
    return model_dir


def _encoder_files(encoder: SentenceEncoder) -> Path:
    if encoder.encoder == "static":
        return static_ready_dir(encoder.source_path)
    return onnx_ready_dir(encoder.source_path)


def _check_encoder_files(encoder: SentenceEncoder) -> None:
    """Fail at load, not on the first request, when the artifact lacks what its encoder needs."""
    if encoder.encoder == "static":
        static_ready_dir(encoder.source_path, build=False)
    elif encoder.resolved_backend == "onnx":
        if encoder.backend is None and not int8_path(encoder.source_path).is_file():
            # An artifact from before the ONNX default: PyTorch on CPU, never an export at serve time.
            logger.warning("%s has no ONNX encoder; serving with PyTorch", encoder.source_path)
            encoder.backend = "torch"
        else:
            onnx_ready_dir(encoder.source_path, build=False)


def _copy_encoder(source: Path, target: Path) -> None:
    if target.resolve() == source:
        return
    if target.exists():
        shutil.rmtree(target)
    # The weights, configs and tokenizer only; the package's README and git files stay behind.
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".git*", "README.md", "__pycache__"))


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def _check_versions(metadata: Mapping[str, Any]) -> None:
    import sklearn

    trained = metadata.get("versions", {}).get("scikit-learn")
    if trained and trained != sklearn.__version__:
        # Pickles across scikit-learn versions may load yet predict differently.
        logger.warning("model trained with scikit-learn %s, loading with %s", trained, sklearn.__version__)
