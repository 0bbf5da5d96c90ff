"""Verification of a list of image pairs with an embedder: the job behind ``faceveil eval lfw``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.lfw import Pair
from ..faces.align import FaceAligner
from ..recognition.base import Embedder
from ..recognition.cache import EmbeddingCache
from ..recognition.pipeline import EmbeddingSet, embed_files
from .verification import pair_scores, verification_report


@dataclass
class PairsEvaluation:
    """Scores (P,), labels (P,) bool, folds (P,) int, the embeddings used and the verification report."""

    scores: np.ndarray
    labels: np.ndarray
    folds: np.ndarray
    embeddings: EmbeddingSet
    report: dict

    @property
    def fallback_pairs(self) -> int:
        """Pairs where at least one image used the fallback box."""
        return int(self.report["fallback_pairs"])


def evaluate_pairs(
    pairs: list[Pair],
    embedder: Embedder,
    aligner: FaceAligner,
    metric: str = "cosine",
    cache: EmbeddingCache | None = None,
    threshold: float | None = None,
    batch_size: int = 32,
    progress: bool = True,
) -> PairsEvaluation:
    """Embed every image of ``pairs`` once, score the pairs and run the verification protocol.

    With several folds among the pairs the accuracy is the k-fold protocol (LFW View 2), otherwise
    the best threshold on all pairs. ``metric``: ``"cosine"`` on L2-normalised embeddings, or
    ``"euclidean"`` on raw embeddings (negated distance, dlib's native comparison).
    """
    if not pairs:
        raise ValueError("no pairs to evaluate")
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    emb = embed_files(paths, embedder, aligner, cache=cache, batch_size=batch_size, progress=progress)
    index = {p: i for i, p in enumerate(emb.paths)}
    ia = np.array([index[p.path_a] for p in pairs])
    ib = np.array([index[p.path_b] for p in pairs])
    vectors = emb.embeddings if metric == "euclidean" else emb.normalized()
    scores = pair_scores(vectors[ia], vectors[ib], metric=metric)
    labels = np.array([p.same for p in pairs], dtype=bool)
    folds = np.array([p.fold for p in pairs], dtype=int)
    report = verification_report(scores, labels, folds if len(set(folds)) > 1 else None, threshold=threshold)
    report["metric"] = metric
    report["fallbacks"] = emb.fallbacks
    report["fallback_pairs"] = int((~emb.detected[ia] | ~emb.detected[ib]).sum())
    report["n_images"] = len(paths)
    return PairsEvaluation(scores, labels, folds, emb, report)
