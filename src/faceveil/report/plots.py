"""PNG plots of verification results: ROC curves and genuine/impostor score histograms.

Figures are drawn with matplotlib's object API on an Agg canvas (no pyplot, no window, no change to
the global backend), so they work on headless machines and inside other programs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..eval.verification import score_distributions


def _output_path(path, overwrite: bool) -> Path:
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"plot path must end in .png, got {str(path)!r}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder for the plot does not exist: {out.parent}")
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} exists; pass overwrite=True to replace it")
    return out


def _save(fig: Figure, out: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(out, format="png", dpi=120)
    return out


def plot_roc(curves: dict, path, log_fpr: bool = True, title: str = "ROC", overwrite: bool = False) -> Path:
    """Draw ROC curves (TPR against FPR) into one PNG.

    Args:
        curves: ``{name: (fpr, tpr)}`` with 1-D arrays of equal length in [0, 1], e.g. from
            :func:`faceveil.eval.verification.roc_curve` or
            :func:`faceveil.report.published_roc.read_published_roc`.
        path: output ``.png`` file; its folder must exist.
        log_fpr: logarithmic FPR axis (the low-FAR region that matters for security). Its left end is
            the decade below the smallest positive FPR of all curves; points at FPR = 0 are drawn there.
        title: figure title.
        overwrite: replace an existing file (otherwise ``FileExistsError``).

    Returns:
        the path written.
    """
    if not isinstance(curves, dict) or not curves:
        raise ValueError("curves must be a non-empty dict {name: (fpr, tpr)}")
    checked = {}
    for name, curve in curves.items():
        if len(curve) != 2:
            raise ValueError(f"curve {name!r} must be a pair (fpr, tpr), got {len(curve)} items")
        fpr, tpr = (np.asarray(c, dtype=np.float64) for c in curve)
        if fpr.ndim != 1 or fpr.shape != tpr.shape or fpr.size < 2:
            raise ValueError(
                f"curve {name!r}: fpr and tpr must be 1-D of equal length >= 2, got {fpr.shape}, {tpr.shape}"
            )
        rates = np.concatenate([fpr, tpr])
        if not (np.isfinite(rates).all() and rates.min() >= 0 and rates.max() <= 1):
            raise ValueError(f"curve {name!r}: rates must be finite and in [0, 1]")
        checked[name] = (fpr, tpr)
    out = _output_path(path, overwrite)

    fig = Figure(figsize=(6.4, 5.2))
    ax = fig.add_subplot()
    left = 0.0
    if log_fpr:
        positive = [f[f > 0].min() for f, _ in checked.values() if (f > 0).any()]
        left = 10.0 ** np.floor(np.log10(min(positive))) if positive else 1e-4
        ax.set_xscale("log")
    for name, (fpr, tpr) in checked.items():
        ax.plot(np.maximum(fpr, left), tpr, label=str(name), linewidth=1.4)
    ax.set_xlim(left if log_fpr else 0.0, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel("false positive rate (FAR)" + (", log scale" if log_fpr else ""))
    ax.set_ylabel("true positive rate (TAR)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    return _save(fig, out)


def plot_score_histogram(
    scores, labels, path, threshold: float | None = None, bins=50, title: str = "score distributions",
    overwrite: bool = False,
) -> Path:
    """Draw the genuine and impostor score densities (seed 002, Fig. 7) into one PNG.

    Args:
        scores: (P,) similarities; labels: (P,) 1 = genuine, 0 = impostor.
        path: output ``.png`` file; its folder must exist.
        threshold: if given, drawn as a vertical line.
        bins: as in :func:`faceveil.eval.verification.score_distributions`.
        title: figure title (d-prime is appended).
        overwrite: replace an existing file (otherwise ``FileExistsError``).

    Returns:
        the path written.
    """
    dist = score_distributions(scores, labels, bins)
    if threshold is not None and not np.isfinite(float(threshold)):
        raise ValueError(f"threshold must be a finite number, got {threshold!r}")
    out = _output_path(path, overwrite)

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    ax.stairs(dist.genuine, dist.edges, fill=True, alpha=0.45, color="tab:green",
              label=f"genuine (mean {dist.genuine_mean:.3f}, std {dist.genuine_std:.3f})")
    ax.stairs(dist.impostor, dist.edges, fill=True, alpha=0.45, color="tab:red",
              label=f"impostor (mean {dist.impostor_mean:.3f}, std {dist.impostor_std:.3f})")
    if threshold is not None:
        t = float(threshold)
        ax.axvline(t, color="black", linestyle="--", linewidth=1.2, label=f"threshold {t:.3f}")
    ax.set_xlabel("score (higher = same person)")
    ax.set_ylabel("density")
    ax.set_ylim(0.0, 1.4 * max(dist.genuine.max(), dist.impostor.max()))  # headroom for the legend
    ax.set_title(f"{title} (d' = {dist.d_prime:.2f})")
    ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    return _save(fig, out)


def plot_condition_scores(
    conditions: dict, path, bins=50, title: str = "score distributions by condition", overwrite: bool = False,
) -> Path:
    """Draw the genuine and impostor score densities of several conditions (e.g. clean / degraded /
    restored, seed 002 Fig. 7) together in one PNG: one colour per condition, genuine solid, impostor dashed.

    Args:
        conditions: ``{name: (scores, labels)}``, each (P,) similarities and (P,) 1 = genuine, 0 = impostor.
        path: output ``.png`` file; its folder must exist.
        bins: number of equal bins over the range of all conditions' scores (shared by every curve), or
            increasing edges (B + 1,), as in :func:`faceveil.eval.verification.score_distributions`.
        title: figure title.
        overwrite: replace an existing file (otherwise ``FileExistsError``).

    Returns:
        the path written.
    """
    if not isinstance(conditions, dict) or not conditions:
        raise ValueError("conditions must be a non-empty dict {name: (scores, labels)}")
    for name, pair in conditions.items():
        if len(pair) != 2:
            raise ValueError(f"condition {name!r} must be a pair (scores, labels), got {len(pair)} items")
        try:
            score_distributions(*pair, bins=1)
        except ValueError as error:
            raise ValueError(f"condition {name!r}: {error}") from None
    pooled = [np.concatenate([np.asarray(pair[k]).ravel() for pair in conditions.values()]) for k in (0, 1)]
    edges = score_distributions(*pooled, bins).edges  # common bins over all the conditions' scores
    dists = {name: score_distributions(scores, labels, edges) for name, (scores, labels) in conditions.items()}
    out = _output_path(path, overwrite)

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for i, (name, dist) in enumerate(dists.items()):
        color = f"C{i % 10}"
        ax.stairs(dist.genuine, dist.edges, color=color, linestyle="-", linewidth=1.4,
                  label=f"{name} genuine (d' = {dist.d_prime:.2f})")
        ax.stairs(dist.impostor, dist.edges, color=color, linestyle="--", linewidth=1.4, label=f"{name} impostor")
    ax.set_xlabel("score (higher = same person)")
    ax.set_ylabel("density")
    ax.set_ylim(0.0, 1.4 * max(max(d.genuine.max(), d.impostor.max()) for d in dists.values()))
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize="x-small")
    fig.tight_layout()
    return _save(fig, out)


def plot_transformed(evaluation, folder, overwrite: bool = False) -> list[Path]:
    """The figures of a :class:`faceveil.eval.transformed.TransformedEvaluation`: ``conditions_roc.png``
    (:func:`plot_roc` of every condition, log FPR) and ``conditions_scores.png``
    (:func:`plot_condition_scores`) in ``folder`` (which must exist). Neither file is replaced unless
    ``overwrite``: both are checked before either is written."""
    folder = Path(folder)
    paths = [folder / "conditions_roc.png", folder / "conditions_scores.png"]
    for p in paths:
        _output_path(p, overwrite)
    scores = {name: (c.scores, evaluation.labels) for name, c in evaluation.conditions.items()}
    return [plot_roc(evaluation.roc_curves(), paths[0], title="ROC by condition", overwrite=overwrite),
            plot_condition_scores(scores, paths[1], overwrite=overwrite)]


def plot_image_grid(grid, labels: list[str], side: int, path, rows: int, rotation: int = 60) -> Path:
    """A grid of image tiles (H, W, 3) in [0, 1], one column of ``side`` pixels per label (written above,
    turned by ``rotation``), ``rows`` rows; saved as ``path`` (PNG)."""
    fig = Figure(figsize=(1.15 * len(labels), 1.15 * rows + 0.9))
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.imshow(grid)
    ax.set_xticks([side * (k + 0.5) for k in range(len(labels))], labels, rotation=rotation, fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(Path(path), dpi=110)
    return Path(path)


def _line_plot(curves: dict, path, xlabel: str, ylabel: str, title: str, key: str, scale: float = 1.0,
               references: dict | None = None, log_x: bool = False, grid: bool = False) -> Path:
    """One line per ``{label: {x: y}}`` curve (y times ``scale``), dotted horizontal ``references``; a PNG."""
    if not curves or any(not points for points in curves.values()):
        raise ValueError(f"curves must map each label to a non-empty {{{key}: value}}")
    fig = Figure(figsize=(6.4, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (label, points) in enumerate(curves.items()):
        xs = sorted(points)
        ax.plot(xs, [scale * points[x] for x in xs], marker="o", color=f"C{i % 10}", label=label)
    for j, (label, value) in enumerate((references or {}).items()):
        ax.axhline(scale * value, linestyle=":", color=f"C{(len(curves) + j) % 10}", label=label)
    if log_x:
        ax.set_xscale("log")
    if grid:
        ax.grid(alpha=0.3)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    fig.savefig(Path(path), dpi=110)
    return Path(path)


def plot_attack_curve(curves: dict, path, references: dict | None = None,
                      title: str = "identity recovered against the attacker's data") -> Path:
    """Verification accuracy against the attacker's pairs N (log axis): one line per curve.

    Args:
        curves: ``{label: {N: accuracy}}``, accuracies in [0, 1] (e.g. the judge on the U-Net's
            reconstructions of each system's encrypted images).
        path: output PNG (replaced if it exists).
        references: ``{label: accuracy}`` drawn as dotted horizontal lines (the judge on the originals,
            on the encrypted images, after Wiener, chance).
    """
    return _line_plot(curves, path, "attacker's (encrypted, original) pairs N (half train the U-Net)",
                      "judge's verification accuracy (%)", title, "N", 100.0, references, log_x=True)


def plot_training_curves(curves: dict, path, ylabel: str = "value", title: str = "training") -> Path:
    """Measures against the epoch, one line per curve (whether a training has plateaued).

    Args:
        curves: ``{label: {epoch: value}}`` (e.g. a run's training accuracy and validation AUC, in [0, 1]
            or any unit; each curve's epochs need not be the same).
        path: output PNG (replaced if it exists).
    """
    return _line_plot(curves, path, "epoch", ylabel, title, "epoch", grid=True)
