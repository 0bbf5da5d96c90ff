"""PCC, Jaccard index (seed 001) and cosine similarity (seed 000)."""

from __future__ import annotations

import torch

from ._common import _check_pair, _check_reduction, _reduce

__all__ = ["pcc", "jaccard", "cosine_similarity_images"]


def pcc(x: torch.Tensor, y: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Pearson correlation coefficient between the pixels of each image pair (seed 001).

    All channels and pixels of an image form one vector. Undefined (NaN) when either image is
    constant, as ``numpy.corrcoef``.

    Args:
        x, y: (N, C, H, W) images in [0, 1].
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.
    """
    _check_pair(x, y)
    _check_reduction(reduction)
    a, b = x.flatten(1), y.flatten(1)
    a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
    r = (a * b).sum(1) / torch.sqrt(a.pow(2).sum(1) * b.pow(2).sum(1))
    # decided on the pixels, not on the variance: rounding in the mean leaves a constant image with
    # tiny non-zero deviations
    constant = (x.flatten(1).amax(1) == x.flatten(1).amin(1)) | (y.flatten(1).amax(1) == y.flatten(1).amin(1))
    return _reduce(torch.where(constant, torch.full_like(r, float("nan")), r), reduction)


def jaccard(x: torch.Tensor, y: torch.Tensor, threshold: float = 0.5, reduction: str = "none") -> torch.Tensor:
    """Jaccard index |A and B| / |A or B| of the binarised images A = x > threshold, B = y > threshold (seed 001).

    All channels and pixels of an image count. Two empty images (no pixel above the threshold in
    either) are identical: their index is defined as 1.

    Args:
        x, y: (N, C, H, W) images in [0, 1].
        threshold: in [0, 1); a pixel strictly above it is foreground.
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.
    """
    _check_pair(x, y)
    _check_reduction(reduction)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold!r}")
    a, b = (x > threshold).flatten(1), (y > threshold).flatten(1)
    intersection = (a & b).sum(1).to(x.dtype)
    union = (a | b).sum(1).to(x.dtype)
    return _reduce(torch.where(union == 0, torch.ones_like(union), intersection / union), reduction)


def cosine_similarity_images(x: torch.Tensor, y: torch.Tensor, reduction: str = "none") -> torch.Tensor:
    """Cosine similarity ``<x, y> / (||x|| ||y||)`` between flattened images (seed 000, Eq. 3).

    Seed 000's privacy loss is the larger of this similarity between the original and the captured
    image and between the original and the complementary image, i.e. ``max(cos(x, y), cos(x, 1 - y))``.
    Images are non-negative, so the value is in [0, 1]; it is NaN when either image is all zero.

    Args:
        x, y: (N, C, H, W) images in [0, 1].
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.
    """
    _check_pair(x, y)
    _check_reduction(reduction)
    a, b = x.flatten(1), y.flatten(1)
    return _reduce((a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)), reduction)
