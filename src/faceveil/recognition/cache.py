"""On-disk embedding cache: one SQLite file, keyed by image content, model and alignment settings.

A key is the SHA-1 of ``<SHA-1 of the image file bytes>|<embedder.cache_key()>|<aligner.key()>``, so a
renamed file still hits, and a changed image, model, test-time option or alignment setting misses.
Values are the raw float32 embedding and whether the face was detected (False: fallback box).
Writes are committed per batch, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np

from ..paths import cache_dir


def content_digest(path: str | Path) -> str:
    """Hex SHA-1 of a file's bytes."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def entry_key(content: str, settings: str) -> str:
    """Cache key of one image (content digest) under one settings string."""
    return hashlib.sha1(f"{content}|{settings}".encode()).hexdigest()


class EmbeddingCache:
    """Persistent map from entry keys to (embedding (D,) float32, detected).

    Args:
        path: SQLite file; default ``cache_dir()/embeddings.sqlite``.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else cache_dir() / "embeddings.sqlite"
        if self.path.is_dir():
            raise ValueError(f"embedding cache {self.path} is a folder; name a file such as "
                             f"{self.path / 'embeddings.sqlite'}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path)
            self._db.execute("CREATE TABLE IF NOT EXISTS embeddings "
                             "(key TEXT PRIMARY KEY, vec BLOB NOT NULL, detected INTEGER NOT NULL)")
        except sqlite3.DatabaseError as err:
            raise ValueError(f"embedding cache {self.path} cannot be used: {err} (is it a faceveil cache, "
                             "an SQLite file in a writable folder?)") from None
        except OSError as err:
            raise ValueError(f"cannot create the embedding cache {self.path}: {err.strerror}") from None

    def get_many(self, keys: list[str]) -> dict[str, tuple[np.ndarray, bool]]:
        """The cached entries among ``keys`` (missing keys are absent from the result)."""
        found: dict[str, tuple[np.ndarray, bool]] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._db.execute(
                f"SELECT key, vec, detected FROM embeddings WHERE key IN ({','.join('?' * len(chunk))})", chunk
            )
            for key, vec, detected in rows:
                found[key] = (np.frombuffer(vec, dtype=np.float32).copy(), bool(detected))
        return found

    def put_many(self, items: list[tuple[str, np.ndarray, bool]]) -> None:
        """Store (key, embedding, detected) entries and commit."""
        self._db.executemany(
            "INSERT OR REPLACE INTO embeddings VALUES (?, ?, ?)",
            [(k, np.asarray(v, dtype=np.float32).tobytes(), int(d)) for k, v, d in items],
        )
        self._db.commit()

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]

    def close(self) -> None:
        self._db.close()
