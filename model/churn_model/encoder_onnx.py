"""The MiniLM encoder on ONNX Runtime, dynamic int8: the CPU default.

Built once at training time (:func:`export_int8`): the transformer is exported
from the packaged PyTorch weights with ``torch.onnx`` and its weights quantised
to int8 per channel (MatMuls only) with ONNX Runtime's dynamic quantiser. The file is stored
in the artifact's ``encoder/onnx/`` directory, so nothing exports at serve time.

Why not sentence-transformers' own ``backend="onnx"``: it loads and exports
through ``optimum-onnx``, whose only release needs transformers < 4.58, while
sentence-transformers 6.2 needs transformers >= 5. The graph and the pooling
here are the same (transformer, mean over the attention mask, L2 norm).

Dynamic int8 quantises activations with one scale per input tensor, so texts
sharing a pass would move each other's vectors (cosine down to 0.99 here).
Every piece therefore runs alone and unpadded: deterministic, and on 2 cores
faster than padded batches (padding is most of a mixed batch's cost).

A lone piece (a single-record request) runs on ONNX Runtime's own thread pool.
Many pieces run side by side instead, one single-threaded pass per core: a
short sequence leaves most of an intra-op pool idle, so this is 1.6x the
throughput on 2 cores (107.7 vs 66.6 texts a second, idle machine), and each
piece still runs alone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ONNX_DIR = "onnx"
INT8_FILE = "model_qint8.onnx"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Below this many pieces the side-by-side passes do not pay for their threads.
PARALLEL_MIN_PIECES = 8


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def int8_path(model_dir: Path) -> Path:
    return Path(model_dir) / ONNX_DIR / INT8_FILE


def export_int8(model_dir: Path, target: Path) -> Path:
    """Export the transformer at ``model_dir`` to ONNX and quantise it to ``target`` (int8)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    sample = tokenizer(
        ["a short one", "and a slightly longer sample text"], padding=True, return_tensors="pt"
    )

    class _Hidden(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fp32 = Path(scratch) / "model.onnx"
        axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "token_embeddings")}
        torch.onnx.export(
            _Hidden(model),
            tuple(sample[name] for name in _INPUTS),
            str(fp32),
            input_names=list(_INPUTS),
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript needed, and dynamic axes as given
        )
        partial = target.with_suffix(".partial")
        # MatMuls only: the embedding lookups (Gather) stay fp32, which lifts the worst text's
        # cosine to fp32 above 0.99 (0.9898 -> 0.9902 on 40 calls) at no cost in speed; the file
        # grows from 23 to 59 MB.
        with quiet_root_logger():
            quantize_dynamic(
                str(fp32),
                str(partial),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        partial.replace(target)
    return target


def _below_error(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


@contextlib.contextmanager
def quiet_root_logger() -> Any:
    """Drop INFO/WARNING records logged straight to the root logger (``logging.info(...)``).

    ONNX Runtime's quantiser logs ~90 such lines per export (one per tensor it skips, a hint to
    pre-process). A filter on the root logger sees only records logged to the root itself, not
    those propagating from named loggers, so training's own messages still print. A NullHandler
    keeps ``logging.info`` from installing a stderr handler when the root has none.
    """
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    root.addFilter(_below_error)
    try:
        yield
    finally:
        root.removeFilter(_below_error)
        if placeholder is not None:
            root.removeHandler(placeholder)


class OnnxSentenceModel:
    """The parts of a SentenceTransformer the encoder uses, on ONNX Runtime."""

    def __init__(self, model_dir: Path, *, threads: int | None = None) -> None:
        from tokenizers import Tokenizer
        from transformers import AutoTokenizer

        model_dir = Path(model_dir)
        path = int8_path(model_dir)
        if not path.is_file():
            raise FileNotFoundError(f"no ONNX encoder at {path}: it is exported at training time")
        config = json.loads((model_dir / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(config.get("max_seq_length", 256))
        self._path = path
        self._threads = threads
        self.session = self._session(threads)
        self._single_threaded: Any = None
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._dimension = int(self.session.get_outputs()[0].shape[-1])
        # The fast tokenizer for offsets (window cuts); the bare one for encoding.
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        self._bare = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._bare.no_padding()
        self._bare.enable_truncation(self.max_seq_length)
        self._lock = threading.Lock()  # the tokenizer's truncation state is shared

    def _session(self, threads: int | None) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        return ort.InferenceSession(str(self._path), options, providers=["CPUExecutionProvider"])

    def get_embedding_dimension(self) -> int:
        return self._dimension

    def _vector(self, session: Any, ids: list[int]) -> np.ndarray:
        array = np.asarray([ids], dtype=np.int64)
        feed = {
            "input_ids": array,
            "attention_mask": np.ones_like(array),
            "token_type_ids": np.zeros_like(array),
        }
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0][0]
        vector = hidden.mean(axis=0)
        return vector / max(float(np.linalg.norm(vector)), 1e-12)

    def encode(self, pieces: Sequence[str], show_progress_bar: bool = False, **_: Any) -> np.ndarray:
        """Mean-pooled, L2-normalised vectors, one unpadded pass per piece."""
        with self._lock:
            encodings = self._bare.encode_batch(list(pieces))
        vectors = np.empty((len(encodings), self._dimension), dtype=np.float32)
        workers = 1 if self._threads else _cores()
        if workers > 1 and len(encodings) >= PARALLEL_MIN_PIECES:
            with self._lock:
                if self._single_threaded is None:
                    self._single_threaded = self._session(1)
            session = self._single_threaded
            pool = ThreadPoolExecutor(workers)
            results: Any = pool.map(lambda e: self._vector(session, e.ids), encodings)
        else:
            pool = None
            results = (self._vector(self.session, e.ids) for e in encodings)
        if show_progress_bar:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(encodings), desc="encoding (onnx int8)", unit="piece")
        try:
            for row, vector in enumerate(results):
                vectors[row] = vector
        finally:
            if pool is not None:
                pool.shutdown()
        return vectors


def build_onnx_dir(source: Path, target: Path) -> Path:
    """A copy of the encoder files at ``source`` plus ``onnx/model_qint8.onnx``, built atomically."""
    if int8_path(target).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        shutil.copytree(
            source,
            scratch,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".git*", "README.md", "__pycache__"),
        )
        export_int8(source, int8_path(scratch))
        try:
            scratch.rename(target)
        except OSError:  # another process built it first
            if not int8_path(target).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
