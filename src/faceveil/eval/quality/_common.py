"""Shared by the image-quality metrics: argument checks, reductions and weights-file checks."""

from __future__ import annotations

from pathlib import Path

import torch

from ..._checks import check_images, check_positive, check_same_shape

REDUCTIONS = ("none", "mean")


def _check_pair(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> float:
    """Validate two image batches for a full-reference metric; return ``data_range`` as a float.

    Both must pass :func:`faceveil._checks.check_images`, have the same shape and lie in
    ``[0, data_range]`` (values outside mean the wrong ``data_range`` or unclamped network outputs).
    """
    data_range = check_positive(data_range, "data_range")
    check_images(x, "x")
    check_images(y, "y")
    check_same_shape(x, y)
    if x.numel() == 0:
        raise ValueError(f"x and y must hold at least one pixel, got shape {tuple(x.shape)}")
    for name, t in (("x", x), ("y", y)):
        lo, hi = float(t.min()), float(t.max())
        if lo < 0 or hi > data_range:
            raise ValueError(
                f"{name} values must lie in [0, data_range] = [0, {data_range:g}], got [{lo:.4g}, {hi:.4g}]"
                " (pass the right data_range, or clamp network outputs first)"
            )
    return data_range


def _check_min_size(height: int, width: int, min_size: int, metric: str, why: str) -> None:
    if min(height, width) < min_size:
        raise ValueError(
            f"{metric} needs images of at least {min_size}x{min_size} pixels ({why}), got {height}x{width}"
        )


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """(N,) values -> themselves (``"none"``) or their mean, a 0-d tensor (``"mean"``)."""
    return values if reduction == "none" else values.mean()


def _existing_file(path, what: str, help_text: str) -> Path:
    if path is None:
        raise ValueError(f"{what}: no weights path given (None). {help_text}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: weights file not found: {path}. {help_text}")
    return path
