"""Argument checks shared by the whole package: each raises ``ValueError`` naming the bad value."""

from __future__ import annotations

import torch


def check_images(x: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Validate a batch of images: a floating tensor of shape (N, C, H, W) with C in {1, 3}.

    Returns the tensor unchanged. Raises ``ValueError`` on a wrong type, rank, channel count or on
    non-finite values.
    """
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{name} must have shape (N, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] not in (1, 3):
        raise ValueError(f"{name} must have 1 (grey) or 3 (RGB) channels, got {x.shape[1]}")
    if not torch.is_floating_point(x):
        raise ValueError(f"{name} must be a floating tensor with values in [0, 1], got dtype {x.dtype}")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, names: tuple[str, str] = ("x", "y")) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        raise ValueError(f"{names[0]} and {names[1]} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise ``ValueError``."""
    v = float(value)
    if not (v > 0 and v < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v
