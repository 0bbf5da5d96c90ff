"""One evaluation of transformed faces: how much identity survives a degradation, a protection or a restoration.

A :class:`Transform` is a named operation on a batch of aligned face chips, float32 (N, C, H, W) in [0, 1]
-> (N, C', H', W') in [0, 1]: a degradation (:class:`Downscale`; noise or occlusion through
:class:`FunctionTransform`), a protection (DP noise, an optical encoder) or a degradation followed by a
restoration (:func:`compose`). :func:`evaluate_transformed` measures every transform the same way, with a
judge (any :class:`~faceveil.recognition.base.Embedder`), against the clean faces:

- verification of the pairs, gallery = image a (clean by default), probe = image b (transformed): the 10-fold
  accuracy, AUC, EER, TAR@FAR (:func:`~faceveil.eval.verification.verification_report`), and ACC / TPR /
  FPR at one threshold fixed on the clean pairs (seed 002, Sec. 4.4, Tables 6-8);
- the genuine and impostor score distributions (seed 002, Fig. 7);
- rank-1 identification with a clean gallery and transformed probes (seed 003, Sec. 4.4);
- image metrics of each transformed probe against its original: PSNR, SSIM, and the judge's cosine
  between the two (an identity metric that needs no LPIPS weights).

The protections' benchmarks score through the same functions: :func:`verification_summary` (one set of
pair scores) and :func:`embed_chips` (the judge's view of images of any size).
"""

from __future__ import annotations

import abc
import json
import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .._checks import check_images, check_int, check_positive
from ..data.chips import judge_view
from ..data.resample import bicubic_resize, low_resolution_size
from ..recognition.base import Embedder
from .identification import identification_protocol, identify
from .quality import psnr, ssim
from .verification import best_threshold, far_key, pair_scores, roc_curve, score_distributions, verification_report

#: the name of the untransformed condition, always evaluated (a transform may not take it)
CLEAN = "clean"
#: ``gallery_transform`` value: each condition's transform is applied to the gallery images too
SAME = "same"
#: the identification ranks reported (those not above the gallery size)
RANKS = (1, 5, 10)


# ----------------------------------------------------------------------------------------------
# images


def _check_unit_images(x, name: str) -> torch.Tensor:
    """check_images plus values in [0, 1]."""
    check_images(x, name)
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} must have values in [0, 1], got range [{float(x.min()):g}, {float(x.max()):g}]")
    return x


def _rgb(images: torch.Tensor) -> torch.Tensor:
    """(N, 1 or 3, H, W) -> (N, 3, H, W), grey repeated."""
    return images if images.shape[1] == 3 else images.expand(-1, 3, -1, -1)


def _embed_batch(embedder: Embedder, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return embedder.embed(judge_view(_rgb(images), embedder.alignment.size)).float().cpu()


def embed_chips(embedder: Embedder, chips: torch.Tensor, batch_size: int = 64, progress: bool = False,
                desc: str = "embedding") -> torch.Tensor:
    """The judge's embeddings of chips of any size.

    Args:
        embedder: the judge.
        chips: (N, C, h, w) float in [0, 1], C = 1 (repeated to RGB) or 3; each is resampled to the
            embedder's alignment size with antialiased bilinear interpolation (unchanged at that size).
        batch_size: chips per call of the embedder; progress: show a progress bar labelled ``desc``.

    Returns:
        L2-normalised embeddings (N, D) float32 on the CPU.
    """
    if not isinstance(embedder, Embedder):
        raise ValueError(f"embedder must be a faceveil Embedder, got {type(embedder).__name__}")
    _check_unit_images(chips, "chips")
    check_int(batch_size, "batch_size", 1)
    if len(chips) == 0:
        return torch.zeros(0, embedder.dim)
    batches = tqdm(chips.split(batch_size), desc=desc, disable=not progress)
    return torch.cat([_embed_batch(embedder, batch) for batch in batches])


# ----------------------------------------------------------------------------------------------
# transforms


def _check_name(name, what: str = "transform name") -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    return name


class Transform(abc.ABC):
    """A named operation on aligned face chips: (N, C, H, W) float in [0, 1] -> (N, C', H', W') float in [0, 1].

    Subclasses set :attr:`name` and implement :meth:`_apply` and :meth:`settings`. Calling a transform
    checks its input and its output (a floating tensor of N images, 1 or 3 channels, values in [0, 1]).
    """

    #: short name, used in records and as the default condition name
    name: str = "transform"

    @abc.abstractmethod
    def _apply(self, chips: torch.Tensor) -> torch.Tensor:
        """The operation on a checked batch (N, C, H, W)."""

    @abc.abstractmethod
    def settings(self) -> dict:
        """The settings that define the transform, JSON-serialisable."""

    def record(self) -> dict:
        """``{"name", "type", **settings}``: what a result file stores about the transform."""
        return {"name": self.name, "type": type(self).__name__, **self.settings()}

    def __call__(self, chips: torch.Tensor) -> torch.Tensor:
        _check_unit_images(chips, "chips")
        out = self._apply(chips)
        _check_unit_images(out, f"output of transform {self.name!r}")
        if out.shape[0] != chips.shape[0]:
            raise ValueError(f"transform {self.name!r} returned {out.shape[0]} images for {chips.shape[0]} chips")
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings()})"


class FunctionTransform(Transform):
    """Any callable as a transform.

    Args:
        name: short name.
        fn: ``fn(chips) -> images``, (N, C, H, W) in [0, 1] -> (N, C', H', W') in [0, 1]. A random ``fn``
            should own its seed or ``torch.Generator`` (it is called once per batch).
        settings: JSON-serialisable description of what ``fn`` does (for :meth:`record`).
    """

    def __init__(self, name: str, fn, settings: dict | None = None) -> None:
        self.name = _check_name(name)
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self._settings = dict(settings or {})
        try:
            json.dumps(self._settings)
        except TypeError as error:
            raise ValueError(f"settings of transform {name!r} must be JSON-serialisable: {error}") from None

    def _apply(self, chips: torch.Tensor) -> torch.Tensor:
        return self.fn(chips)

    def settings(self) -> dict:
        return dict(self._settings)


class Downscale(Transform):
    """Low resolution: antialiased bicubic down-sampling, then (``back_to_size``) bicubic up-sampling back.

    Seed 003 (Sec. 4.3) down-samples the 112 x 96 queries by 4, 8 and 16 (28 x 24, 14 x 12, 7 x 6 pixels)
    with true antialiased bicubic interpolation and up-samples them to the recogniser's input by bicubic
    interpolation. Both resamplings here use PIL's / MATLAB's bicubic kernel (a = -0.5); down-sampling widens
    it by the factor, so each low-resolution pixel averages the area it covers. A plain bicubic resize
    (``F.interpolate`` without ``antialias``) reads only 4 x 4 source pixels at any factor and aliases: it
    silently changes the task.

    Args:
        factor: down-sampling factor >= 1; the low-resolution size is (round(H / factor), round(W / factor)),
            at least 1 pixel.
        back_to_size: up-sample back to the input size (H, W); otherwise return the low-resolution images.
        size: instead of ``factor``, the low-resolution (height, width), e.g. (18, 16) or (16, 14) of seed
            003's identification; give exactly one of the two.
    """

    def __init__(self, factor: float | None = None, back_to_size: bool = True, size: tuple[int, int] | None = None):
        if (factor is None) == (size is None):
            raise ValueError(f"give exactly one of factor and size, got factor={factor!r}, size={size!r}")
        if factor is not None and check_positive(factor, "factor") < 1:
            raise ValueError(f"factor must be >= 1 (a down-sampling), got {factor!r}")
        if size is not None:
            if len(size) != 2:
                raise ValueError(f"size must be (height, width), got {size!r}")
            size = (check_int(size[0], "size[0]", 1), check_int(size[1], "size[1]", 1))
        self.factor = None if factor is None else float(factor)
        self.size = size
        self.back_to_size = bool(back_to_size)
        self.name = f"downscale-x{self.factor:g}" if size is None else f"downscale-{size[0]}x{size[1]}"

    def low_size(self, height: int, width: int) -> tuple[int, int]:
        """The low-resolution (height, width) of chips of size (height, width)."""
        if self.size is not None:
            if self.size[0] > height or self.size[1] > width:
                raise ValueError(f"size {self.size} is larger than the chips ({height}, {width}): not a down-sampling")
            return self.size
        return low_resolution_size(height, width, self.factor)

    def _apply(self, chips: torch.Tensor) -> torch.Tensor:
        height, width = chips.shape[-2:]
        low = bicubic_resize(chips, self.low_size(height, width))
        return bicubic_resize(low, (height, width)) if self.back_to_size else low

    def settings(self) -> dict:
        return {"factor": self.factor, "size": None if self.size is None else list(self.size),
                "back_to_size": self.back_to_size, "kernel": "bicubic a=-0.5, antialiased (PIL, MATLAB)"}


class IndexedTransform(Transform):
    """A transform whose result depends on which chips it is given, not only on their pixels: a damage
    with one fixed mask per chip (the same mask for every method compared), or one model per group of
    chips (:class:`CrossFitted`). :func:`evaluate_transformed` applies it through :meth:`apply_rows`;
    calling it on bare images is refused."""

    indexed = True

    @abc.abstractmethod
    def apply_rows(self, chips: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """The transform of ``chips`` (n, C, H, W) in [0, 1], the chips at indices ``rows`` (n,)."""

    def _apply(self, chips: torch.Tensor) -> torch.Tensor:
        raise ValueError(f"transform {self.name!r} depends on which chips it gets: evaluate_transformed applies it "
                         "through apply_rows")


def apply_transform(transform: Transform, chips: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    """``transform`` on ``chips`` (n, C, H, W), the chips at indices ``rows`` (n,): through
    :meth:`IndexedTransform.apply_rows` where the transform needs them, else a plain call; the output is
    checked as a plain call checks it."""
    if not getattr(transform, "indexed", False):
        return transform(chips)
    _check_unit_images(chips, "chips")
    out = transform.apply_rows(chips, np.asarray(rows))
    _check_unit_images(out, f"output of transform {transform.name!r}")
    if out.shape[0] != chips.shape[0]:
        raise ValueError(f"transform {transform.name!r} returned {out.shape[0]} images for {chips.shape[0]} chips")
    return out


class Composition(Transform):
    """Transforms applied one after the other, the first one first (:func:`compose`); indexed when any
    step is."""

    def __init__(self, *transforms: Transform) -> None:
        if not transforms:
            raise ValueError("compose needs at least one transform")
        for i, t in enumerate(transforms):
            if not isinstance(t, Transform):
                raise ValueError(f"transform {i} of compose must be a Transform, got {type(t).__name__}")
        self.transforms = tuple(transforms)
        self.name = "->".join(t.name for t in self.transforms)
        self.indexed = any(getattr(t, "indexed", False) for t in self.transforms)

    def _apply(self, chips: torch.Tensor) -> torch.Tensor:
        if self.indexed:
            raise ValueError(f"transform {self.name!r} has a step that depends on which chips it gets: "
                             "evaluate_transformed applies it through apply_rows")
        for t in self.transforms:
            chips = t(chips)
        return chips

    def apply_rows(self, chips: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """Each step on ``chips``, the chips at indices ``rows``."""
        for t in self.transforms:
            chips = apply_transform(t, chips, rows)
        return chips

    def settings(self) -> dict:
        return {"steps": [t.record() for t in self.transforms]}


def compose(*transforms: Transform) -> Composition:
    """``compose(a, b)(x) == b(a(x))``: e.g. ``compose(Downscale(8), restorer)``, a degradation then a
    restoration; its name is ``"a->b"`` and its record lists the steps in order."""
    return Composition(*transforms)


class CrossFitted(IndexedTransform):
    """One transform per group of chips: the trained restorations of a cross-fitted protocol. Under
    ``view2-2fold`` the model trained on the people of folds 1-5 restores the chips of folds 6-10 and the
    other model those of folds 1-5, so that no face is restored by a model that saw its person, while every
    pair (and one pooled identification gallery) is scored by one judge on one scale.

    Args:
        name: the condition name.
        transforms: ``{group: Transform}``.
        groups: (N,) the group of every chip given to :func:`evaluate_transformed` (which applies the
            transform by chip index: calling it on bare images is refused).
    """

    def __init__(self, name: str, transforms: dict, groups) -> None:
        self.name = _check_name(name)
        if not isinstance(transforms, dict) or not transforms:
            raise ValueError("transforms must be a non-empty dict {group: Transform}")
        for group, transform in transforms.items():
            if not isinstance(transform, Transform) or isinstance(transform, CrossFitted):
                raise ValueError(f"the transform of group {group!r} must be a Transform other than CrossFitted, got "
                                 f"{type(transform).__name__}")
        self.transforms = dict(transforms)
        self.groups = np.asarray(groups)
        if self.groups.ndim != 1:
            raise ValueError(f"groups must be 1-D (one group per chip), got shape {self.groups.shape}")

    def apply_rows(self, chips: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
        """The transform of each chip's group on ``chips`` (n, C, H, W), the chips at indices ``rows`` (n,)."""
        groups = self.groups[rows]
        missing = sorted(set(groups.tolist()) - set(self.transforms))
        if missing:
            raise ValueError(f"transform {self.name!r} has no transform for group(s) {missing}")
        out = None
        for group, transform in self.transforms.items():
            chosen = torch.from_numpy(groups == group)
            if chosen.any():
                images = apply_transform(transform, chips[chosen], rows[chosen.numpy()])
                if out is None:
                    out = images.new_empty((len(chips), *images.shape[1:]))
                out[chosen] = images
        return out

    def settings(self) -> dict:
        return {"groups": {str(group): t.record() for group, t in self.transforms.items()},
                "chips_per_group": {str(g): int((self.groups == g).sum()) for g in self.transforms}}


# ----------------------------------------------------------------------------------------------
# scoring


def verification_summary(scores, labels, folds=None, threshold: float | None = None, bins=50) -> dict:
    """:func:`~faceveil.eval.verification.verification_report` of one set of pair scores, plus their
    genuine and impostor distributions under ``"score_distributions"`` (``edges``, ``genuine``,
    ``impostor`` densities, ``genuine_mean``, ``genuine_std``, ``impostor_mean``, ``impostor_std``,
    ``d_prime``; see :func:`~faceveil.eval.verification.score_distributions`).

    Args:
        scores: (P,) similarities; labels: (P,) 1 = genuine, 0 = impostor; folds: (P,) fold ids or None.
        threshold: fixed threshold for ``fixed_threshold`` (ACC, TPR, FPR), or None.
        bins: as in :func:`~faceveil.eval.verification.score_distributions`.
    """
    report = verification_report(scores, labels, folds, threshold)
    dist = score_distributions(scores, labels, bins)
    report["score_distributions"] = {
        "edges": dist.edges.tolist(), "genuine": dist.genuine.tolist(), "impostor": dist.impostor.tolist(),
        "genuine_mean": dist.genuine_mean, "genuine_std": dist.genuine_std,
        "impostor_mean": dist.impostor_mean, "impostor_std": dist.impostor_std, "d_prime": dist.d_prime,
    }
    return report


@dataclass(frozen=True)
class ConditionResult:
    """The measures of one condition (clean, or one transform) of :func:`evaluate_transformed`.

    Attributes:
        name: the condition name.
        settings: the transform's :meth:`Transform.record` (``{"name": "clean"}`` for the clean condition).
        scores: (P,) float64 cosine of each pair (gallery image a, probe image b).
        verification: :func:`verification_summary` with ``fixed_threshold`` at the clean threshold.
        identification: rank-k rates (see :func:`evaluate_transformed`), None without identities.
        image_metrics: transformed probes against their originals, None for the clean condition.
    """

    name: str
    settings: dict
    scores: np.ndarray
    verification: dict
    identification: dict | None
    image_metrics: dict | None

    def report(self) -> dict:
        """JSON-serialisable dict: ``settings``, ``verification``, ``identification``, ``image_metrics``."""
        return {"settings": self.settings, "verification": self.verification,
                "identification": self.identification, "image_metrics": self.image_metrics}


@dataclass(frozen=True)
class TransformedEvaluation:
    """Result of :func:`evaluate_transformed`.

    Attributes:
        conditions: ``{name: ConditionResult}``, ``"clean"`` first, then the transforms in the given order.
        labels: (P,) bool, True = genuine; folds: (P,) fold ids or None.
        threshold: ``{"value", "source"}``: the threshold of every condition's ``fixed_threshold``, and
            whether it is the best threshold on the clean pairs or was given.
        settings: judge, gallery, data sizes, identification settings, seed.
    """

    conditions: dict
    labels: np.ndarray
    folds: np.ndarray | None
    threshold: dict
    settings: dict

    def report(self) -> dict:
        """Everything as one JSON-serialisable dict (for a result.json)."""
        return {"settings": self.settings, "fixed_threshold": self.threshold,
                "conditions": {name: c.report() for name, c in self.conditions.items()}}

    def roc_curves(self) -> dict:
        """``{name: (fpr, tpr)}`` of every condition, for :func:`faceveil.report.plots.plot_roc`."""
        return {name: roc_curve(c.scores, self.labels)[:2] for name, c in self.conditions.items()}

    def format_table(self) -> str:
        """One line per condition: accuracy, AUC, EER, TAR@FAR=1e-3, ACC/TPR/FPR at the clean threshold,
        rank-1, PSNR, SSIM and judge cosine to the original (rates in percent)."""
        pct = lambda v: "-" if v is None else f"{100 * v:.2f}"  # noqa: E731
        num = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        head = ["condition", "acc", "AUC", "EER", "TAR@1e-3", "ACC@t", "TPR@t", "FPR@t", "rank-1", "PSNR", "SSIM",
                "cos"]
        rows = []
        for name, c in self.conditions.items():
            v, fixed, metrics = c.verification, c.verification["fixed_threshold"], c.image_metrics or {}
            rank1 = c.identification["ranks"]["1"]["mean"] if c.identification else None
            rows.append([name, pct(v["accuracy_mean"]), num(v["auc"], ".4f"), pct(v["eer"]),
                         pct(v["tar_at_far"][far_key(1e-3)]), pct(fixed["acc"]), pct(fixed["tpr"]), pct(fixed["fpr"]),
                         pct(rank1), num(metrics.get("psnr"), ".2f"), num(metrics.get("ssim"), ".3f"),
                         num(metrics.get("judge_cosine"), ".3f")])
        width = max(len(r[0]) for r in [head, *rows]) + 2
        lines = [f"{v['accuracy_protocol']}; fixed threshold {self.threshold['value']:.4f} "
                 f"({self.threshold['source']})"]
        lines += [r[0].ljust(width) + "".join(cell.rjust(9) for cell in r[1:]) for r in [head, *rows]]
        return "\n".join(lines)


def _index_array(values, name: str, n: int) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a non-empty 1-D array of integer chip indices, got {values!r:.80}")
    if arr.min() < 0 or arr.max() >= n:
        raise ValueError(f"{name} must index the {n} chips, got range [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


def _check_length(values, name: str, n: int, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array with one entry per {what} ({n}), got shape {arr.shape}")
    return arr


def _check_transforms(probe_transforms, gallery_transform) -> None:
    if not isinstance(probe_transforms, dict):
        raise ValueError(f"probe_transforms must be a dict {{name: Transform}}, got {type(probe_transforms).__name__}")
    for name, transform in probe_transforms.items():
        _check_name(name, "condition name")
        if name == CLEAN:
            raise ValueError(f"condition name {CLEAN!r} is reserved for the untransformed faces; rename the transform")
        if not isinstance(transform, Transform):
            raise ValueError(f"probe transform {name!r} must be a Transform, got {type(transform).__name__}")
    if not (gallery_transform is None or gallery_transform == SAME or isinstance(gallery_transform, Transform)):
        raise ValueError(f"gallery_transform must be None (clean gallery), {SAME!r} or a Transform, "
                         f"got {gallery_transform!r}")


class _Pass:
    """One transform over some chips: their judge embeddings and, on request, per-image PSNR and SSIM
    against the originals (the transformed images resampled to the chip size when it differs)."""

    def __init__(self, chips, rows, transform, judge, batch_size, progress, desc, metrics: bool) -> None:
        embeddings, psnrs, ssims, shapes = [], [], [], set()
        for batch in tqdm(np.array_split(rows, max(1, math.ceil(len(rows) / batch_size))), desc=desc,
                          disable=not progress):
            original = chips[torch.from_numpy(batch)]
            images = original if transform is None else apply_transform(transform, original, batch)
            embeddings.append(_embed_batch(judge, images))
            if metrics:
                shapes.add(tuple(images.shape[1:]))
                compared = bicubic_resize(images, original.shape[-2:])
                if compared.shape[1] != original.shape[1]:
                    compared, original = _rgb(compared), _rgb(original)
                psnrs.append(psnr(compared, original))
                ssims.append(ssim(compared, original))
        self.embeddings = torch.cat(embeddings)
        self.psnr = torch.cat(psnrs).double().numpy() if metrics else None
        self.ssim = torch.cat(ssims).double().numpy() if metrics else None
        self.shapes = sorted(shapes)


def _image_metrics(run: _Pass, clean: torch.Tensor, chip_shape) -> dict:
    """Means over the transformed images of one condition; ``clean`` (n, D) their clean embeddings."""
    finite = np.isfinite(run.psnr)
    return {
        "n_images": int(run.psnr.size),
        "psnr": float(run.psnr[finite].mean()) if finite.any() else None,
        "identical_images": int((~finite).sum()),
        "ssim": float(run.ssim.mean()),
        "judge_cosine": float((run.embeddings * clean).sum(1).double().mean()),
        "output_shapes": [list(s) for s in run.shapes],
        "resized_for_metrics": any(s[1:] != tuple(chip_shape[1:]) for s in run.shapes),
    }


def _identification(gallery: np.ndarray, probe: np.ndarray, identities: np.ndarray, splits) -> dict:
    """identify() of the splits (local indices) as a JSON-serialisable dict."""
    n_gallery = splits[0][0].size
    result = identify(gallery, identities, splits, [k for k in RANKS if k <= n_gallery], probe_embeddings=probe)
    none_if_nan = lambda v: None if math.isnan(v) else v  # noqa: E731
    return {
        "n_subjects": result["n_gallery"], "n_probes": result["n_probes"][0], "n_runs": result["n_runs"],
        "chance_rank1": 1.0 / result["n_gallery"],
        "ranks": {str(k): {"mean": r["mean"], "std": none_if_nan(r["std"]), "per_run": r["per_run"]}
                  for k, r in result["ranks"].items()},
        "cmc_mean": result["cmc_mean"].tolist(),
    }


def evaluate_transformed(
    chips: torch.Tensor,
    pairs_a,
    pairs_b,
    labels,
    folds,
    judge: Embedder,
    probe_transforms: dict,
    gallery_transform=None,
    identities=None,
    clean_threshold: float | None = None,
    min_images: int = 2,
    runs: int = 10,
    batch_size: int = 64,
    progress: bool = True,
    seed: int = 0,
) -> TransformedEvaluation:
    """Recognition and image quality of transformed probes against clean galleries, one condition per transform.

    Every image is embedded once per condition by ``judge`` (resampled to its alignment size, antialiased
    bilinear: :func:`embed_chips`); scores are cosine similarities.

    Args:
        chips: (N, C, H, W) float in [0, 1], the aligned clean faces of every image used.
        pairs_a, pairs_b: (P,) indices into ``chips`` of the two images of each pair; image a is the gallery,
            image b the probe (seed 003, Sec. 4.3: the first image high-resolution, the second degraded).
        labels: (P,) 1 / True = genuine, 0 / False = impostor.
        folds: (P,) fold ids for the k-fold accuracy (LFW View 2: 10 folds), or None for the best threshold
            on all pairs (optimistic, flagged in ``accuracy_protocol``).
        judge: the embedder that recognises the faces.
        probe_transforms: ``{condition name: Transform}`` applied to the probes; ``"clean"`` is reserved.
        gallery_transform: the gallery of the transformed conditions: None (clean images, seeds 002 and
            003), a Transform applied to every gallery image, or ``"same"``: each condition's own transform
            on both images (seed 000: the judge verifying pairs of encrypted images). The clean condition
            is always clean on both sides.
        identities: (N,) subject id of each chip for the identification, or None to skip it.
        clean_threshold: the threshold of every condition's ``fixed_threshold`` (ACC / TPR / FPR, seed
            002); None takes :func:`~faceveil.eval.verification.best_threshold` of the clean pairs.
        min_images, runs, seed: identification (:func:`~faceveil.eval.identification.identification_protocol`):
            subjects with >= ``min_images`` chips take part (seed 003 uses 4 on LFW), one gallery image each
            drawn with ``seed``, all their other chips are probes, over ``runs`` draws.
        batch_size: chips per transform and judge call; progress: progress bars.

    Returns:
        a :class:`TransformedEvaluation`. Per condition: ``verification`` (:func:`verification_summary`:
        ``accuracy_mean`` (k-fold), ``auc``, ``eer``, ``tar_at_far``, ``fixed_threshold`` {threshold, acc,
        tpr, fpr}, ``score_distributions``), ``identification`` (``ranks`` {"1", "5", "10" up to the gallery
        size}: {mean, std, per_run}, ``cmc_mean``, ``n_subjects``, ``n_probes`` per run, ``chance_rank1``)
        and, for transforms, ``image_metrics`` over the images it transformed (``psnr`` mean in dB over the
        changed images, ``identical_images``, ``ssim`` mean, ``judge_cosine`` mean judge cosine to the
        original; transformed images of another size are resampled to the chip size by bicubic
        interpolation for PSNR and SSIM, flagged ``resized_for_metrics``).
    """
    _check_unit_images(chips, "chips")
    if not isinstance(judge, Embedder):
        raise ValueError(f"judge must be a faceveil Embedder, got {type(judge).__name__}")
    _check_transforms(probe_transforms, gallery_transform)
    n = chips.shape[0]
    a, b = _index_array(pairs_a, "pairs_a", n), _index_array(pairs_b, "pairs_b", n)
    p = a.size
    _check_length(b, "pairs_b", p, "pair of pairs_a")
    y = _check_length(labels, "labels", p, "pair of pairs_a")
    f = None if folds is None else _check_length(folds, "folds", p, "pair of pairs_a")
    check_int(batch_size, "batch_size", 1)
    splits, ids = [], None
    if identities is not None:
        ids = _check_length(identities, "identities", n, "chip")
        splits = identification_protocol(ids, min_images, runs, seed)
    eligible = np.union1d(splits[0][0], splits[0][1]) if splits else np.zeros(0, np.int64)
    probe_rows, gallery_rows = np.union1d(b, eligible), np.union1d(a, eligible)
    rows = np.union1d(probe_rows, gallery_rows)  # every chip used; embeddings below are indexed by position in rows
    at = lambda idx: np.searchsorted(rows, idx)  # noqa: E731

    clean = _Pass(chips, rows, None, judge, batch_size, progress, CLEAN, metrics=False).embeddings
    gallery_clean = clean.double().numpy()
    gallery_fixed = None
    if isinstance(gallery_transform, Transform):
        fixed = _Pass(chips, gallery_rows, gallery_transform, judge, batch_size, progress,
                      f"gallery {gallery_transform.name}", metrics=False).embeddings
        gallery_fixed = np.full_like(gallery_clean, np.nan)
        gallery_fixed[at(gallery_rows)] = fixed.double().numpy()
    local_splits = [(np.searchsorted(eligible, g), np.searchsorted(eligible, q)) for g, q in splits]

    scored = {}  # name -> (settings, gallery (R, D), probe (R, D), image metrics)
    scored[CLEAN] = ({"name": CLEAN}, gallery_clean, gallery_clean, None)
    for name, transform in probe_transforms.items():
        transformed_rows = rows if gallery_transform == SAME else probe_rows
        run = _Pass(chips, transformed_rows, transform, judge, batch_size, progress, name, metrics=True)
        probe = np.full_like(gallery_clean, np.nan)
        probe[at(transformed_rows)] = run.embeddings.double().numpy()
        gallery = probe if gallery_transform == SAME else gallery_clean if gallery_fixed is None else gallery_fixed
        metrics = _image_metrics(run, clean[torch.from_numpy(at(transformed_rows))], chips.shape[1:])
        scored[name] = (transform.record(), gallery, probe, metrics)

    scores = {name: pair_scores(g[at(a)], q[at(b)]) for name, (_, g, q, _) in scored.items()}
    if clean_threshold is None:
        threshold = {"value": best_threshold(scores[CLEAN], y), "source": "best threshold on the clean pairs"}
    else:
        threshold = {"value": float(clean_threshold), "source": "given"}
    conditions = {}
    for name, (settings, gallery, probe, metrics) in scored.items():
        identification = (_identification(gallery[at(eligible)], probe[at(eligible)], ids[eligible], local_splits)
                          if splits else None)
        conditions[name] = ConditionResult(name, settings, scores[name],
                                           verification_summary(scores[name], y, f, threshold["value"]),
                                           identification, metrics)
    gallery_setting = (CLEAN if gallery_transform is None else SAME if gallery_transform == SAME
                       else gallery_transform.record())
    settings = {
        "judge": {"name": judge.name, "key": judge.cache_key(), "input_size": list(judge.alignment.size),
                  "view": "chips resampled to the judge's input size, antialiased bilinear"},
        "score": "cosine", "gallery": gallery_setting, "probe": "image b of each pair",
        "n_chips": int(n), "chip_shape": list(chips.shape[1:]), "n_pairs": int(p), "images_embedded": int(rows.size),
        "identification": None if not splits else {"min_images": min_images, "runs": runs, "seed": seed,
                                                   "protocol": "seed 003 Sec. 4.4: one random gallery image per "
                                                               "subject, the rest probes"},
        "batch_size": batch_size,
    }
    return TransformedEvaluation(conditions, np.asarray(y, dtype=bool), f, threshold, settings)
