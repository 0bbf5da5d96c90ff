"""dlib's ResNet face embedder (``dlib_face_recognition_resnet_model_v1``), the reference judge.

A 29-layer ResNet trained by Davis King with a metric loss; 150x150 chips from ``get_face_chip`` with
padding 0.25; 128-D embeddings whose Euclidean distance is below 0.6 for the same person. dlib's
descriptor code is single-threaded, so ``workers > 1`` splits a batch over processes that each hold a
copy of the model (about 30 MB each).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
import multiprocessing

import numpy as np
import torch

from .. import workers
from ..data.images import to_uint8
from ..model_files import dlib_model_path, require_dlib
from .base import AlignmentSpec, Embedder
from .cache import content_digest

_WORKER_MODEL = None

#: cosine threshold of the dlib ResNet (native and torch port): the mean of the ten fold thresholds of
#: LFW View 2 with the default settings (docs/benchmarks.md)
DLIB_COSINE_THRESHOLD = 0.911


def _load_model():
    return require_dlib().face_recognition_model_v1(str(dlib_model_path("resnet")))


def _init_worker() -> None:
    global _WORKER_MODEL
    workers.worker_init()
    _WORKER_MODEL = _load_model()


def _describe(model, chips: np.ndarray, jitter: int) -> np.ndarray:
    descriptors = model.compute_face_descriptor(list(chips), jitter)
    return np.array([np.asarray(d) for d in descriptors], dtype=np.float32).reshape(len(chips), 128)


def _worker_describe(chips: np.ndarray, jitter: int) -> np.ndarray:
    return _describe(_WORKER_MODEL, chips, jitter)


class DlibEmbedder(Embedder):
    """The native dlib ResNet judge.

    Args:
        flip: average the raw descriptors of the chip and its mirror image.
        jitter: dlib's ``num_jitters``: 0 embeds the chip once; k > 0 averages the descriptors of k
            randomly jittered copies (dlib's own generator, deterministic for a given call sequence).
        workers: processes used to compute descriptors (1: in this process).
    """

    name = "dlib"
    dim = 128
    alignment = AlignmentSpec((150, 150), "dlib-chip", 0.25)
    verification_threshold = DLIB_COSINE_THRESHOLD

    def __init__(self, flip: bool = False, jitter: int = 0, workers: int = 1) -> None:
        super().__init__(flip)
        if not isinstance(jitter, int) or jitter < 0:
            raise ValueError(f"jitter must be an integer >= 0, got {jitter!r}")
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
        self.jitter, self.workers = jitter, workers
        self._weights_digest = content_digest(dlib_model_path("resnet"))
        self._model = _load_model()
        self._pool: ProcessPoolExecutor | None = None

    def model_key(self) -> str:
        return f"dlib-resnet-v1:{self._weights_digest[:12]}|jitter={self.jitter}"

    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        arrays = to_uint8(chips)
        if self.workers == 1 or len(arrays) < 2 * self.workers:
            return torch.from_numpy(_describe(self._model, arrays, self.jitter))
        if self._pool is None:
            ctx = multiprocessing.get_context("fork")  # children only run dlib: no torch threads to inherit
            self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker)
            workers.register_pool(self._pool)
        parts = np.array_split(arrays, self.workers)
        results = self._pool.map(_worker_describe, parts, [self.jitter] * len(parts))
        return torch.from_numpy(np.concatenate(list(results)))

    def close(self) -> None:
        """Stop the worker processes, if any."""
        pool = getattr(self, "_pool", None)  # absent when __init__ refused its arguments
        if pool is not None:
            pool.shutdown()
            self._pool = None

    def __del__(self) -> None:
        self.close()
