"""Photos -> aligned chips -> embeddings, with the cache, batching, progress and fallback counting."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.images import ImageReadError, load_rgb, to_tensor
from ..faces.align import FaceAligner
from .base import Embedder
from .cache import EmbeddingCache, content_digest, entry_key


@dataclass
class EmbeddingSet:
    """Embeddings of a list of image files.

    Attributes:
        paths: the N image files, in input order.
        embeddings: float32 (N, D) raw model outputs (not normalised; normalise for cosine scores).
        detected: bool (N,): True where a face was detected, False where the fallback box was used.
        cached: number of embeddings read from the cache rather than computed.
        skipped: unreadable files left out with ``on_error="skip"`` -> the reason.
    """

    paths: list[Path]
    embeddings: np.ndarray
    detected: np.ndarray
    cached: int = 0
    skipped: dict[Path, str] = field(default_factory=dict)

    @property
    def fallbacks(self) -> int:
        """Number of images where no face was detected and the fallback box was used."""
        return int((~self.detected).sum())

    @property
    def fallback_paths(self) -> list[Path]:
        """The images where the fallback box was used."""
        return [p for p, d in zip(self.paths, self.detected) if not d]

    def normalized(self) -> np.ndarray:
        """L2-normalised embeddings (N, D)."""
        norms = np.linalg.norm(self.embeddings, axis=1, keepdims=True)
        return self.embeddings / np.maximum(norms, 1e-12)


def embed_files(
    paths: list[str | Path],
    embedder: Embedder,
    aligner: FaceAligner,
    cache: EmbeddingCache | None = None,
    batch_size: int = 32,
    progress: bool = True,
    on_error: str = "fail",
) -> EmbeddingSet:
    """Embed image files (duplicates are computed once).

    Args:
        paths: image files (any format :func:`load_rgb` reads).
        embedder: the model; its ``alignment`` must equal ``aligner.spec``.
        aligner: detection + landmarks + warp settings.
        cache: optional :class:`EmbeddingCache`; entries are written after every batch.
        batch_size: chips per model call.
        progress: show a progress bar over the images to compute.
        on_error: ``"fail"``: a missing or unreadable image raises; ``"skip"``: it is left out of the
            result and listed in ``EmbeddingSet.skipped`` with the reason.

    Raises:
        FileNotFoundError / ImageReadError: an image is missing or unreadable (named in the message) and
            ``on_error`` is ``"fail"``.
        ValueError: the embedder and aligner disagree on the alignment.
    """
    if embedder.alignment != aligner.spec:
        raise ValueError(f"{embedder.name} expects alignment {embedder.alignment}, the aligner makes {aligner.spec}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if on_error not in ("fail", "skip"):
        raise ValueError(f"on_error must be 'fail' or 'skip', got {on_error!r}")
    paths = [Path(p) for p in paths]
    skipped: dict[Path, str] = {}
    for p in paths:
        if not p.is_file():
            if on_error == "fail":
                raise FileNotFoundError(f"image not found: {p}")
            skipped[p] = "file not found"
    paths = [p for p in paths if p not in skipped]
    settings = f"{embedder.cache_key()}|{aligner.key()}"
    keys = [entry_key(content_digest(p), settings) for p in paths]
    found = cache.get_many(list(dict.fromkeys(keys))) if cache is not None else {}
    n_cached = sum(k in found for k in keys)
    todo = list({k: p for k, p in zip(keys, paths) if k not in found}.items())
    with tqdm(total=len(todo), desc=f"embed ({embedder.name})", unit="img", disable=not progress or not todo) as bar:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            photos = []
            for key, path in batch:
                try:
                    photos.append((key, load_rgb(path)))
                except ImageReadError as err:
                    if on_error == "fail":
                        raise
                    skipped[path] = str(err)
            if photos:
                faces = [aligner.align(photo) for _, photo in photos]
                vecs = embedder.embed_raw(to_tensor([f.chip for f in faces])).numpy()
                entries = [(k, v, f.detected) for (k, _), v, f in zip(photos, vecs, faces)]
                found.update({k: (v, d) for k, v, d in entries})
                if cache is not None:
                    cache.put_many(entries)
            bar.update(len(batch))
    for path, key in zip(paths, keys):
        if key not in found:  # a copy, byte for byte, of a file skipped above
            skipped.setdefault(path, "unreadable image (same bytes as another skipped file)")
    kept = [i for i, k in enumerate(keys) if k in found]
    paths, keys = [paths[i] for i in kept], [keys[i] for i in kept]
    emb = np.stack([found[k][0] for k in keys]) if keys else np.zeros((0, embedder.dim), np.float32)
    detected = np.array([found[k][1] for k in keys], dtype=bool)
    return EmbeddingSet(paths, emb.astype(np.float32), detected, n_cached, skipped)
