"""An on-disk embedding cache, so a retrain with other hyperparameters skips encoding.

One SQLite file per encoder identity (weights digest, precision, window and
pooling scheme) under the cache directory; rows are keyed by the SHA-256 of the
text. Only hashes and vectors are stored, never the text itself.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

_QUERY_CHUNK = 900  # under SQLite's default limit on bound parameters


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    def __init__(self, directory: Path, identity: str) -> None:
        self.directory = Path(directory)
        self.identity = identity
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"embeddings-{identity}.sqlite"
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS embedding (key BLOB PRIMARY KEY, vector BLOB NOT NULL)")

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            with db:  # commits, or rolls back on error
                yield db
        finally:
            db.close()

    def get_many(self, texts: Sequence[str]) -> list[np.ndarray | None]:
        keys = [text_key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._connect() as db:
            for start in range(0, len(unique), _QUERY_CHUNK):
                chunk = unique[start : start + _QUERY_CHUNK]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(f"SELECT key, vector FROM embedding WHERE key IN ({marks})", chunk)  # noqa: S608
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return [found.get(k) for k in keys]

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = [(text_key(t), v.tobytes()) for t, v in zip(texts, vectors, strict=True)]
        with self._connect() as db:
            db.executemany("INSERT OR REPLACE INTO embedding (key, vector) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT COUNT(*) FROM embedding").fetchone()[0])
