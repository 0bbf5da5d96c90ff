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


def check_open_unit(value: float, name: str) -> float:
    """Return ``value`` as float if it lies strictly between 0 and 1, else raise ``ValueError``."""
    v = float(value)
    if not 0 < v < 1:
        raise ValueError(f"{name} must lie in the open interval (0, 1), got {value!r}")
    return v


def check_int(value, name: str, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` if it is an integer (not a bool) in [minimum, maximum], else raise ``ValueError``."""
    too_big = maximum is not None and isinstance(value, int) and value > maximum
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or too_big:
        bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
    return value


def stack_images(images, name: str = "images") -> torch.Tensor:
    """One batch (N, C, H, W) from a batch tensor or a sequence of (C, H, W) / (1, C, H, W) images.

    Raises ``ValueError`` on an empty sequence, on images of different sizes or channel counts (naming
    the first one that differs) and on anything :func:`check_images` rejects.
    """
    if isinstance(images, torch.Tensor):
        return check_images(images, name)
    items = [x[None] if isinstance(x, torch.Tensor) and x.ndim == 3 else x for x in images]
    if not items:
        raise ValueError(f"{name} is empty")
    for i, x in enumerate(items):
        check_images(x, f"{name}[{i}]")
        if x.shape[0] != 1:
            raise ValueError(f"{name}[{i}] must be one image (C, H, W) or (1, C, H, W), got shape {tuple(x.shape)}")
        if x.shape[1:] != items[0].shape[1:]:
            raise ValueError(f"all {name} in one batch must have the same size: {name}[0] is "
                             f"{tuple(items[0].shape[1:])}, {name}[{i}] is {tuple(x.shape[1:])}")
    return torch.cat(items)


def check_choice(value, name: str, choices) -> str:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    if value not in tuple(choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_unit_interval(value: float, name: str) -> float:
    """Return ``value`` as float if it lies in the closed interval [0, 1], else raise ``ValueError``."""
    v = float(value)
    if not 0 <= v <= 1:
        raise ValueError(f"{name} must lie in [0, 1], got {value!r}")
    return v


def check_device(device) -> torch.device:
    """A torch device that works here (ValueError naming it otherwise, e.g. CUDA on a CPU-only build)."""
    try:
        usable = torch.device(device)
        torch.empty(0, device=usable)
    except (RuntimeError, TypeError, AssertionError) as err:  # torch raises AssertionError for missing CUDA
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ValueError(f"torch device {device!r} is not usable here: {reason}") from None
    return usable
