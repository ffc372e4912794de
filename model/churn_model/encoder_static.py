"""The static tier: a model2vec embedding table distilled from the packaged MiniLM.

Distillation (:func:`build_static_dir`, training time, offline, a few minutes on
2 cores) runs every vocabulary token through MiniLM once, reduces the vectors
with PCA to 256 dimensions and weights them by token frequency (model2vec's
``distill``). A text's vector is then the mean of its tokens' rows: no network
at serve time, two orders of magnitude faster than MiniLM, a little less
faithful to meaning (see model/README.md).

The files are model2vec's own layout (``model.safetensors``, ``tokenizer.json``,
``config.json``); they load with model2vec's ``StaticModel`` or
sentence-transformers' ``StaticEmbedding``. A vector depends only on its own
tokens, so a text scores the same alone or in any batch.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MARKER = "churn_static.json"
PCA_DIMS = 256


def is_static_dir(path: Path) -> bool:
    return (Path(path) / MARKER).is_file()


def build_static_dir(source: Path, target: Path, *, pca_dims: int = PCA_DIMS) -> Path:
    """Distil the sentence-transformers model at ``source`` into ``target`` (built atomically)."""
    if is_static_dir(target):
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from model2vec.distill import distill

    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        static = distill(model_name=str(source), pca_dims=pca_dims, quantize_to="float32")
        static.save_pretrained(str(scratch))
        (scratch / MARKER).write_text(
            json.dumps({"distilled_from": source.name, "pca_dims": pca_dims}) + "\n"
        )
        try:
            scratch.rename(target)
        except OSError:  # another process built it first
            if not is_static_dir(target):
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


class StaticSentenceModel:
    """The parts of a SentenceTransformer the encoder uses, on a model2vec table."""

    # Token means have no window: whole texts of any length are one piece.
    max_seq_length = 1 << 30

    def __init__(self, model_dir: Path) -> None:
        from model2vec import StaticModel

        if not is_static_dir(model_dir):
            raise FileNotFoundError(f"no static encoder at {model_dir} ({MARKER} missing)")
        self._model = StaticModel.from_pretrained(str(model_dir))
        self.tokenizer = self._model.tokenizer
        self._dimension = int(self._model.dim)

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def encode(self, pieces: Sequence[str], batch_size: int = 1024, **_: Any) -> np.ndarray:
        vectors = self._model.encode(
            list(pieces),
            max_length=None,
            batch_size=max(batch_size, 1024),
            show_progress_bar=False,
            use_multiprocessing=False,  # a pool per call costs more than the lookups
        )
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
