"""Closed-set face identification: the gallery/probe protocol of seed 003 (Sec. 4.4) and CMC curves.

Protocol (seed 003, Sec. 4.4, after its ref. [16]): keep the subjects with at least ``min_images``
(4) images; in each of ``runs`` (10) runs pick one image per subject at random as its gallery image,
the remaining images of those subjects are the probes; report the rank-1 (and rank-k) identification
rate averaged over the runs. Subjects with fewer images take no part (they are not distractors).

A probe is matched against the gallery by cosine similarity. Its *rank* is one plus the number of
other gallery subjects whose similarity is greater than **or equal to** that of its own subject, so a
tie never favours the correct identity (it counts as a miss at rank 1).
"""

from __future__ import annotations

import numpy as np

from .verification import as_embeddings, unit_rows

DEFAULT_RANKS = (1, 5, 10)


def _as_labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array (N,) of subject ids, got shape {arr.shape}")
    return arr


def identification_protocol(
    labels, min_images: int = 4, runs: int = 10, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Random gallery/probe splits of seed 003's identification protocol.

    Args:
        labels: (N,) subject id of each image (ints or strings).
        min_images: subjects with fewer images are left out (>= 2, so each subject keeps a probe).
        runs: number of independent random splits (>= 1).
        seed: seed of the generator that draws all runs; the same seed gives the same splits.

    Returns:
        ``runs`` pairs ``(gallery_idx, probe_idx)`` of sorted int64 index arrays into ``labels``:
        one gallery image per kept subject, and all their other images as probes.
    """
    y = _as_labels(labels)
    if isinstance(min_images, bool) or not isinstance(min_images, (int, np.integer)) or min_images < 2:
        raise ValueError(
            f"min_images must be an integer >= 2 (one gallery image and at least one probe), got {min_images!r}"
        )
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 1:
        raise ValueError(f"runs must be an integer >= 1, got {runs!r}")
    subjects, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    kept = np.flatnonzero(counts >= min_images)
    if kept.size < 2:
        raise ValueError(
            f"identification needs at least 2 subjects with >= {min_images} images, found {kept.size} "
            f"(among {subjects.size} subjects, largest has {counts.max()} images)"
        )
    images_of = [np.flatnonzero(inverse == k) for k in kept]
    eligible = np.sort(np.concatenate(images_of))
    rng = np.random.default_rng(seed)
    splits = []
    for _ in range(runs):
        gallery = np.sort(np.array([rng.choice(images) for images in images_of], dtype=np.int64))
        splits.append((gallery, np.setdiff1d(eligible, gallery).astype(np.int64)))
    return splits


def _ranks_of_split(gallery_emb, gallery_labels, probe_emb, probe_labels) -> np.ndarray:
    """Rank (1-based, ties pessimistic) of the true subject for each probe; shapes (G, D), (G,), (Q, D), (Q,)."""
    order = np.argsort(gallery_labels, kind="stable")
    sorted_labels = gallery_labels[order]
    position = np.searchsorted(sorted_labels, probe_labels)
    position = np.minimum(position, sorted_labels.size - 1)
    if not (sorted_labels[position] == probe_labels).all():
        missing = probe_labels[sorted_labels[position] != probe_labels][0]
        raise ValueError(f"probe subject {missing.tolist()!r} has no gallery image in this split")
    true_column = order[position]
    similarity = probe_emb @ gallery_emb.T  # (Q, G)
    true_similarity = similarity[np.arange(similarity.shape[0]), true_column]
    # the true subject itself is counted by ">=", which makes the rank 1-based
    return np.sum(similarity >= true_similarity[:, None], axis=1)


def identify(embeddings, labels, splits, ranks=DEFAULT_RANKS, probe_embeddings=None) -> dict:
    """Rank-k identification rates and CMC curve over the splits of :func:`identification_protocol`.

    Args:
        embeddings: (N, D) embeddings of all images, used for the gallery (and the probes unless
            ``probe_embeddings`` is given); rows are L2-normalised here, similarity is cosine.
        labels: (N,) subject ids.
        splits: list of ``(gallery_idx, probe_idx)``; each gallery holds one image per subject and
            covers every probe's subject; all galleries have the same size G.
        ranks: the k of the rank-k rates to report, each in [1, G].
        probe_embeddings: optional (N, D) embeddings used for the probes instead of ``embeddings``,
            e.g. of low-resolution or restored queries against a high-resolution gallery (seed 003).

    Returns:
        ``{"ranks": {k: {"mean", "std", "per_run"}}, "cmc_mean": (G,), "cmc_std": (G,), "n_runs",
        "n_gallery", "n_probes" (per run)}``. Rates are fractions in [0, 1]; ``cmc_mean[r - 1]`` is the
        fraction of probes whose true subject is within the first r; std is over runs with ddof = 1
        (NaN for a single run).
    """
    gallery_source = as_embeddings(embeddings, "embeddings")
    n = gallery_source.shape[0]
    y = _as_labels(labels)
    if y.shape[0] != n:
        raise ValueError(f"labels must have one entry per embedding ({n}), got {y.shape[0]}")
    probe_source = gallery_source if probe_embeddings is None else as_embeddings(probe_embeddings, "probe_embeddings")
    if probe_source.shape != gallery_source.shape:
        raise ValueError(
            f"probe_embeddings must have the shape of embeddings {gallery_source.shape}, got {probe_source.shape}"
        )
    gallery_source = unit_rows(gallery_source, "embeddings")
    probe_source = unit_rows(probe_source, "probe_embeddings")
    if len(splits) == 0:
        raise ValueError("splits is empty: expected a list of (gallery_idx, probe_idx) from identification_protocol")
    cmcs = []
    for i, (gallery_idx, probe_idx) in enumerate(splits):
        g, q = np.asarray(gallery_idx), np.asarray(probe_idx)
        for name, idx in (("gallery", g), ("probe", q)):
            if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
                raise ValueError(f"split {i}: {name} indices must be a non-empty 1-D integer array, got {idx!r}")
            if idx.min() < 0 or idx.max() >= n:
                raise ValueError(
                    f"split {i}: {name} indices must be in [0, {n}), got range [{idx.min()}, {idx.max()}]"
                )
        if np.unique(y[g]).size != g.size:
            raise ValueError(f"split {i}: the gallery must hold exactly one image per subject")
        if cmcs and g.size != cmcs[0].size:
            raise ValueError(f"split {i}: gallery size {g.size} differs from split 0's {cmcs[0].size}")
        probe_ranks = _ranks_of_split(gallery_source[g], y[g], probe_source[q], y[q])
        cmcs.append(np.cumsum(np.bincount(probe_ranks, minlength=g.size + 1)[1:]) / q.size)
    cmc = np.stack(cmcs)  # (runs, G)
    n_gallery = cmc.shape[1]
    for k in ranks:
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n_gallery:
            raise ValueError(f"each rank must be an integer in [1, {n_gallery}] (the gallery size), got {k!r}")
    wanted = [int(k) for k in ranks]
    std = np.std(cmc, axis=0, ddof=1) if cmc.shape[0] > 1 else np.full(n_gallery, np.nan)
    return {
        "ranks": {
            k: {"mean": float(cmc[:, k - 1].mean()), "std": float(std[k - 1]), "per_run": cmc[:, k - 1].tolist()}
            for k in wanted
        },
        "cmc_mean": cmc.mean(axis=0),
        "cmc_std": std,
        "n_runs": int(cmc.shape[0]),
        "n_gallery": int(n_gallery),
        "n_probes": [int(np.asarray(probe_idx).size) for _, probe_idx in splits],
    }
