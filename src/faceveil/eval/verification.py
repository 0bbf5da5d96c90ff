"""Face verification: pair scores, ROC, AUC, EER, TAR@FAR, thresholds and the LFW 10-fold protocol.

Conventions used throughout:

- a *score* is a similarity: higher means "same person". Pairs are *genuine* (label 1, same person)
  or *impostor* (label 0).
- a pair is accepted as genuine when ``score >= threshold``.
- TPR (= TAR, true accept rate) is the fraction of genuine pairs accepted; FPR (= FAR, false accept
  rate) is the fraction of impostor pairs accepted; FNR = 1 - TPR.
- accuracy is the fraction of all pairs classified correctly (not balanced between the classes).

Inputs may be anything ``numpy.asarray`` accepts (lists, arrays, CPU tensors); work is done in float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

METRICS = ("cosine", "euclidean")
DEFAULT_FARS = (1e-3, 1e-2, 1e-1)


# ----------------------------------------------------------------------------------------------
# argument checks (numpy counterparts of faceveil._checks, shared with identification.py)


def as_embeddings(x, name: str = "embeddings") -> np.ndarray:
    """Validate embeddings and return them as a float64 array (N, D) with N, D >= 1."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty array of shape (N, D), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return arr


def unit_rows(x: np.ndarray, name: str = "embeddings") -> np.ndarray:
    """Rows of ``x`` (N, D) scaled to unit L2 norm; raises ``ValueError`` on an all-zero row."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{name} has an all-zero row (index {int(np.argmin(norms[:, 0]))}): cosine is undefined")
    return x / norms


def _as_scores(scores) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array (P,), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError("scores contain non-finite values (NaN or inf)")
    return arr


def _as_labels(labels, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"labels must be a 1-D array of the same length as scores ({n}), got shape {arr.shape}")
    if arr.dtype == bool:
        return arr
    if not np.issubdtype(arr.dtype, np.number) or not np.isin(arr, (0, 1)).all():
        bad = arr[~np.isin(arr, (0, 1))][:3] if np.issubdtype(arr.dtype, np.number) else arr[:3]
        raise ValueError(f"labels must be 0 (impostor) or 1 (genuine), got values such as {bad.tolist()}")
    return arr.astype(bool)


def _scores_and_labels(scores, labels, both_classes: bool = True) -> tuple[np.ndarray, np.ndarray]:
    s = _as_scores(scores)
    y = _as_labels(labels, s.shape[0])
    if both_classes and (y.all() or not y.any()):
        raise ValueError(
            f"need at least one genuine (1) and one impostor (0) pair, got {int(y.sum())} genuine "
            f"and {int((~y).sum())} impostor"
        )
    return s, y


def _check_threshold(threshold) -> float:
    t = float(threshold)
    if not np.isfinite(t):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    return t


# ----------------------------------------------------------------------------------------------
# scores


def pair_scores(emb_a, emb_b, metric: str = "cosine") -> np.ndarray:
    """Similarity of each pair of embeddings, higher meaning "same person".

    Args:
        emb_a, emb_b: embeddings (P, D) of the first and second image of each pair.
        metric: ``"cosine"`` (cosine similarity in [-1, 1]; rows need not be normalised) or
            ``"euclidean"`` (the *negated* L2 distance, in (-inf, 0], so that higher still means
            "same person"; thresholds on it are negative distances).

    Returns:
        scores (P,) float64.
    """
    a = as_embeddings(emb_a, "emb_a")
    b = as_embeddings(emb_b, "emb_b")
    if a.shape != b.shape:
        raise ValueError(f"emb_a and emb_b must have the same shape (P, D), got {a.shape} and {b.shape}")
    if metric == "cosine":
        return np.einsum("pd,pd->p", unit_rows(a, "emb_a"), unit_rows(b, "emb_b"))
    if metric == "euclidean":
        return -np.linalg.norm(a - b, axis=1)
    raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


# ----------------------------------------------------------------------------------------------
# threshold-free measures


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve over every distinct threshold.

    Args:
        scores: (P,) similarities; labels: (P,) 1 = genuine, 0 = impostor (both classes present).

    Returns:
        ``(fpr, tpr, thresholds)``, each (T + 1,) for T distinct scores. ``thresholds`` decreases from
        ``+inf`` (nothing accepted: the point (0, 0)) to the smallest score (everything accepted:
        (1, 1)); point ``i`` is the rates of the rule ``score >= thresholds[i]``. Tied scores are one
        threshold, so a tie between genuine and impostor pairs is one diagonal step, never split.
    """
    s, y = _scores_and_labels(scores, labels)
    order = np.argsort(-s, kind="stable")
    s_desc, y_desc = s[order], y[order]
    # the last position of each run of equal scores: all pairs of a tie enter together
    run_end = np.r_[s_desc[1:] != s_desc[:-1], True]
    tp = np.cumsum(y_desc)[run_end]
    fp = np.cumsum(~y_desc)[run_end]
    fpr = np.r_[0.0, fp / fp[-1]]
    tpr = np.r_[0.0, tp / tp[-1]]
    return fpr, tpr, np.r_[np.inf, s_desc[run_end]]


def auc(fpr, tpr) -> float:
    """Area under a ROC curve by the trapezoid rule.

    Args:
        fpr, tpr: (T,) with T >= 2 and ``fpr`` non-decreasing (as :func:`roc_curve` returns). A curve
            that does not span FPR from 0 to 1 is integrated over the range it covers.
    """
    x = np.asarray(fpr, dtype=np.float64)
    y = np.asarray(tpr, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"fpr and tpr must be 1-D of the same length >= 2, got shapes {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("fpr and tpr must be finite")
    if (np.diff(x) < 0).any():
        raise ValueError("fpr must be non-decreasing (sort the curve by FPR first)")
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))


def eer(scores, labels) -> tuple[float, float]:
    """Equal error rate: where FPR = FNR on the ROC curve, interpolated linearly between ROC points.

    Returns:
        ``(eer, threshold)``. When FPR = FNR falls between two ROC points, both the rate and the
        threshold are interpolated linearly between them; the ``+inf`` threshold of the (0, 0) point is
        not interpolated, the first finite threshold is returned instead.
    """
    fpr, tpr, thresholds = roc_curve(scores, labels)
    gap = fpr - (1.0 - tpr)  # non-decreasing from -1 at (0, 0) to +1 at (1, 1)
    i = int(np.argmax(gap >= 0))
    if gap[i] == 0:
        return float(fpr[i]), float(thresholds[i])
    w = -gap[i - 1] / (gap[i] - gap[i - 1])
    rate = fpr[i - 1] + w * (fpr[i] - fpr[i - 1])
    if np.isinf(thresholds[i - 1]):
        return float(rate), float(thresholds[i])
    return float(rate), float(thresholds[i - 1] + w * (thresholds[i] - thresholds[i - 1]))


def tar_at_far(scores, labels, fars=DEFAULT_FARS) -> dict[float, float]:
    """True accept rate at given false accept rates.

    For each ``far``, the largest TPR among the ROC operating points whose FPR <= ``far`` (no
    interpolation: only thresholds that can actually be set count). The resolution is limited by the
    number of impostor pairs: with 3000 of them (LFW View 2) FAR = 1e-3 rests on 3 impostor pairs, and
    any ``far`` below 1/3000 reads the TPR at FPR = 0.

    Returns:
        ``{far: tar}`` in the order of ``fars``.
    """
    levels = [float(far) for far in fars]
    for far in levels:
        if not 0.0 < far <= 1.0:
            raise ValueError(f"each FAR must be in (0, 1], got {far!r}")
    fpr, tpr, _ = roc_curve(scores, labels)
    return {far: float(tpr[fpr <= far].max()) for far in levels}


# ----------------------------------------------------------------------------------------------
# thresholds and the 10-fold protocol


def accuracy_at(scores, labels, threshold: float) -> float:
    """Fraction of pairs classified correctly by the rule ``score >= threshold`` (P,) -> float."""
    s, y = _scores_and_labels(scores, labels, both_classes=False)
    return float(np.mean((s >= _check_threshold(threshold)) == y))


def best_threshold(scores, labels) -> float:
    """Threshold that maximises accuracy on these pairs.

    Accuracy is constant between two neighbouring distinct scores, so the threshold returned is the
    midpoint of the best gap (not a score of the data), ``min(scores)`` when accepting everything is
    best, and the next float above ``max(scores)`` when rejecting everything is best. When several gaps
    give the same best accuracy the lowest threshold is taken.
    """
    s, y = _scores_and_labels(scores, labels)
    values, inverse = np.unique(s, return_inverse=True)  # ascending
    genuine = np.bincount(inverse, weights=y, minlength=values.size)
    impostor = np.bincount(inverse, weights=~y, minlength=values.size)
    # candidate k accepts values[k:]; k == values.size accepts nothing
    genuine_accepted = np.r_[np.cumsum(genuine[::-1])[::-1], 0.0]
    impostor_rejected = np.r_[0.0, np.cumsum(impostor)]
    k = int(np.argmax(genuine_accepted + impostor_rejected))  # integer counts: exact ties, first wins
    if k == 0:
        return float(values[0])
    if k == values.size:
        return float(np.nextafter(values[-1], np.inf))
    return float((values[k - 1] + values[k]) / 2.0)


@dataclass(frozen=True)
class KFoldResult:
    """Result of :func:`kfold_accuracy`.

    Attributes:
        folds: (K,) the fold ids, ascending.
        accuracies: (K,) accuracy on each held-out fold.
        thresholds: (K,) the threshold used on each held-out fold (chosen on the other folds).
        mean: mean of ``accuracies``.
        std: sample standard deviation of ``accuracies`` (ddof = 1), LFW's sigma-hat.
        standard_error: ``std / sqrt(K)``, LFW's S_E (the "±" of the LFW results page).
    """

    folds: np.ndarray
    accuracies: np.ndarray
    thresholds: np.ndarray
    mean: float
    std: float
    standard_error: float


def kfold_accuracy(scores, labels, folds) -> KFoldResult:
    """LFW View 2 protocol: accuracy on each fold with a threshold chosen on all the other folds.

    For each fold, :func:`best_threshold` is computed on the pairs of the other folds only, then the
    accuracy of that threshold is measured on the held-out fold (Huang et al., LFW technical report
    07-49, Sec. 2c and the View 2 reporting: mean accuracy and S_E = sigma-hat / sqrt(10)).

    Args:
        scores: (P,) similarities; labels: (P,) 1 = genuine, 0 = impostor.
        folds: (P,) integer fold id of each pair (LFW's ``Pair.fold``), at least 2 distinct ids.
    """
    s, y = _scores_and_labels(scores, labels)
    f = np.asarray(folds)
    if f.ndim != 1 or f.shape[0] != s.shape[0]:
        raise ValueError(f"folds must be a 1-D array of the same length as scores ({s.shape[0]}), got shape {f.shape}")
    if not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"folds must hold integer fold ids, got dtype {f.dtype}")
    ids = np.unique(f)
    if ids.size < 2:
        raise ValueError(f"need at least 2 folds, got {ids.size} distinct fold id(s) {ids.tolist()}")
    accuracies, thresholds = [], []
    for fold in ids:
        train, test = f != fold, f == fold
        if y[train].all() or not y[train].any():
            raise ValueError(f"the folds other than fold {fold} hold only one class: cannot choose a threshold")
        t = best_threshold(s[train], y[train])
        thresholds.append(t)
        accuracies.append(accuracy_at(s[test], y[test], t))
    acc = np.asarray(accuracies)
    std = float(np.std(acc, ddof=1))
    return KFoldResult(ids, acc, np.asarray(thresholds), float(acc.mean()), std, std / np.sqrt(acc.size))


def fixed_threshold_rates(scores, labels, threshold: float) -> dict[str, float]:
    """ACC, TPR and FPR of one fixed threshold, the form of seed 002 (Sec. 4.4, Tables 6-8).

    Returns:
        ``{"threshold", "acc", "tpr", "fpr"}``: accuracy over all pairs, the fraction of genuine
        pairs accepted and the fraction of impostor pairs accepted by ``score >= threshold``.
    """
    s, y = _scores_and_labels(scores, labels)
    t = _check_threshold(threshold)
    accepted = s >= t
    return {
        "threshold": t,
        "acc": float(np.mean(accepted == y)),
        "tpr": float(accepted[y].mean()),
        "fpr": float(accepted[~y].mean()),
    }


# ----------------------------------------------------------------------------------------------
# score distributions


@dataclass(frozen=True)
class ScoreDistributions:
    """Genuine and impostor score histograms (seed 002, Fig. 7) and their summary statistics.

    Attributes:
        edges: (B + 1,) bin edges shared by both histograms.
        genuine, impostor: (B,) probability densities (each integrates to 1 over ``edges``).
        genuine_mean, genuine_std, impostor_mean, impostor_std: moments of the scores (std with
            ddof = 0).
        d_prime: Daugman's decidability |mu_g - mu_i| / sqrt((sigma_g^2 + sigma_i^2) / 2) (J. Daugman,
            "How iris recognition works", IEEE TCSVT 2004); inf when both stds are 0 and means differ.
    """

    edges: np.ndarray
    genuine: np.ndarray
    impostor: np.ndarray
    genuine_mean: float
    genuine_std: float
    impostor_mean: float
    impostor_std: float
    d_prime: float


def score_distributions(scores, labels, bins=50) -> ScoreDistributions:
    """Histograms of genuine and impostor scores on common bins, with mean, std and d-prime.

    Args:
        scores: (P,); labels: (P,) 1 = genuine, 0 = impostor.
        bins: number of equal bins over the range of all scores (int >= 1), or increasing edges
            (B + 1,); scores outside explicit edges are left out of the histograms.
    """
    s, y = _scores_and_labels(scores, labels)
    if np.ndim(bins) == 0:
        if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
            raise ValueError(f"bins must be an integer >= 1 or an array of increasing edges, got {bins!r}")
        edges = np.histogram_bin_edges(s, bins=int(bins))
    else:
        edges = np.asarray(bins, dtype=np.float64)
        if edges.ndim != 1 or edges.size < 2 or not (np.diff(edges) > 0).all():
            raise ValueError(f"bin edges must be 1-D, strictly increasing, with >= 2 values, got {edges!r}")
    gen, imp = s[y], s[~y]
    for kind, values in (("genuine", gen), ("impostor", imp)):
        if not ((values >= edges[0]) & (values <= edges[-1])).any():
            raise ValueError(f"no {kind} score lies within the bin edges [{edges[0]:g}, {edges[-1]:g}]")
    gen_hist, _ = np.histogram(gen, bins=edges, density=True)
    imp_hist, _ = np.histogram(imp, bins=edges, density=True)
    spread = np.sqrt((gen.var() + imp.var()) / 2.0)
    gap = abs(gen.mean() - imp.mean())
    d_prime = gap / spread if spread > 0 else (np.inf if gap > 0 else 0.0)
    return ScoreDistributions(
        edges, gen_hist, imp_hist, float(gen.mean()), float(gen.std()), float(imp.mean()), float(imp.std()),
        float(d_prime),
    )


# ----------------------------------------------------------------------------------------------
# report


def far_key(far: float) -> str:
    """The string key of a FAR in reports: ``1e-3 -> "1e-03"``."""
    return f"{far:.0e}"


def verification_report(scores, labels, folds=None, threshold: float | None = None, fars=DEFAULT_FARS) -> dict:
    """All verification numbers of one experiment as a plain, JSON-serialisable dict.

    Args:
        scores: (P,); labels: (P,) 1 = genuine, 0 = impostor.
        folds: (P,) fold ids for :func:`kfold_accuracy`. Without folds the accuracy is that of
            :func:`best_threshold` chosen on all pairs, an optimistic figure (the test pairs choose
            their own threshold); ``accuracy_protocol`` says which was used, std/sem are None, the
            fold lists are empty and ``best_threshold`` holds the threshold.
        threshold: if given, ``fixed_threshold`` holds :func:`fixed_threshold_rates` at it.
        fars: FARs for ``tar_at_far`` (keys formatted by :func:`far_key`).

    Returns:
        keys ``n_pairs, n_genuine, n_impostor, accuracy_protocol, accuracy_mean, accuracy_std
        (ddof 1), accuracy_sem (std / sqrt(K)), fold_accuracies, fold_thresholds, auc, eer,
        eer_threshold, tar_at_far`` and, with ``threshold``, ``fixed_threshold``.
    """
    s, y = _scores_and_labels(scores, labels)
    report: dict = {"n_pairs": int(s.size), "n_genuine": int(y.sum()), "n_impostor": int((~y).sum())}
    if folds is None:
        t = best_threshold(s, y)
        report |= {
            "accuracy_protocol": "best threshold on all pairs (optimistic)",
            "accuracy_mean": accuracy_at(s, y, t),
            "accuracy_std": None,
            "accuracy_sem": None,
            "fold_accuracies": [],
            "fold_thresholds": [],
            "best_threshold": t,
        }
    else:
        k = kfold_accuracy(s, y, folds)
        report |= {
            "accuracy_protocol": f"{k.folds.size}-fold (threshold chosen on the other folds)",
            "accuracy_mean": k.mean,
            "accuracy_std": k.std,
            "accuracy_sem": k.standard_error,
            "fold_accuracies": k.accuracies.tolist(),
            "fold_thresholds": k.thresholds.tolist(),
        }
    fpr, tpr, _ = roc_curve(s, y)
    rate, at = eer(s, y)
    report |= {
        "auc": auc(fpr, tpr),
        "eer": rate,
        "eer_threshold": at,
        "tar_at_far": {far_key(f): tar for f, tar in tar_at_far(s, y, fars).items()},
    }
    if threshold is not None:
        report["fixed_threshold"] = fixed_threshold_rates(s, y, threshold)
    return report


def cross_fitted_report(scores, labels, folds, groups: list) -> dict:
    """Verification of pairs scored by several models, each on its own folds (cross-fitting, e.g. the
    ``view2-2fold`` protocol: one model scores folds 6-10, another folds 1-5).

    Scores of different models are not on one scale, so each fold's threshold is chosen on the other
    folds *of its own group* only; the fold accuracies of all groups are then pooled (mean, std with
    ddof 1, standard error over all folds), and AUC / EER are the means of the groups' own.

    Args:
        scores: (P,); labels: (P,) 1 = genuine; folds: (P,) fold ids.
        groups: the fold ids each model scored (disjoint collections), every fold of ``folds`` in one.

    Returns:
        ``accuracy_protocol, accuracy_mean, accuracy_std, accuracy_sem, fold_accuracies, auc, eer,
        n_pairs`` and ``groups``: the :func:`verification_report` of each group.
    """
    s, y = _scores_and_labels(scores, labels)
    f = np.asarray(folds)
    groups = [sorted(set(g)) for g in groups]
    flat = [k for g in groups for k in g]
    if len(flat) != len(set(flat)) or set(flat) != set(f.tolist()):
        raise ValueError(f"groups must split the folds {sorted(set(f.tolist()))} without overlap, got {groups}")
    reports = [verification_report(s[np.isin(f, g)], y[np.isin(f, g)], f[np.isin(f, g)]) for g in groups]
    accuracies = np.array([a for r in reports for a in r["fold_accuracies"]])
    std = float(accuracies.std(ddof=1)) if accuracies.size > 1 else None
    return {"accuracy_protocol": f"{accuracies.size} folds, each threshold chosen on the other folds of the same "
                                 f"model ({len(groups)} cross-fitted models)",
            "accuracy_mean": float(accuracies.mean()), "accuracy_std": std,
            "accuracy_sem": None if std is None else std / np.sqrt(accuracies.size),
            "fold_accuracies": accuracies.tolist(), "n_pairs": int(s.size),
            "auc": float(np.mean([r["auc"] for r in reports])), "eer": float(np.mean([r["eer"] for r in reports])),
            "groups": [{"folds": g, **r} for g, r in zip(groups, reports)]}


_REQUIRED_KEYS = ("n_pairs", "n_genuine", "n_impostor", "accuracy_protocol", "accuracy_mean", "accuracy_std",
                  "accuracy_sem", "auc", "eer", "eer_threshold", "tar_at_far")


def format_report_table(report: dict) -> str:
    """A readable text table of a :func:`verification_report` dict (rates in percent)."""
    missing = [key for key in _REQUIRED_KEYS if key not in report]
    if missing:
        raise ValueError(f"report lacks key(s) {missing}: expected a dict from verification_report")
    n_imp = report["n_impostor"]
    rows = [
        f"verification: {report['n_pairs']} pairs ({report['n_genuine']} genuine, {n_imp} impostor)",
        f"  accuracy      {100 * report['accuracy_mean']:.2f} %   [{report['accuracy_protocol']}]",
    ]
    if report["accuracy_std"] is not None:
        rows.append(f"  std / S_E     {100 * report['accuracy_std']:.2f} % / {100 * report['accuracy_sem']:.2f} %")
    rows += [
        f"  AUC           {report['auc']:.4f}",
        f"  EER           {100 * report['eer']:.2f} %   (threshold {report['eer_threshold']:.4f})",
    ]
    for key, tar in report["tar_at_far"].items():
        accepted = float(key) * n_imp
        note = (f"at most {accepted:g} of {n_imp} impostor pairs accepted" if accepted >= 1
                else f"below one of {n_imp} impostor pairs: the TPR at FPR = 0")
        rows.append(f"  TAR@FAR={key} {100 * tar:.2f} %   ({note})")
    if "fixed_threshold" in report:
        fixed = report["fixed_threshold"]
        rows.append(
            f"  at {fixed['threshold']:.4f}: ACC {100 * fixed['acc']:.2f} %  TPR {100 * fixed['tpr']:.2f} %  "
            f"FPR {100 * fixed['fpr']:.2f} %"
        )
    return "\n".join(rows)
