"""Resampling of image batches: true (antialiased) bicubic, the degradation and up-sampling of seed 003.

Seed 003 (Sec. 4.1, 4.3) down-samples 112 x 96 faces by 4, 8 and 16 with bicubic interpolation and
up-samples low-resolution faces to the recogniser's input by bicubic interpolation. "Bicubic" here is PIL's
and MATLAB's ``imresize`` kernel (Keys, a = -0.5) that, when down-sampling by a factor s, is widened by s,
so that each low-resolution pixel averages the area it covers. A plain bicubic resize (``F.interpolate``
without ``antialias``) reads only 4 x 4 source pixels at any factor and aliases: it silently changes the
task (tests/test_resample.py shows both against PIL).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_images, check_positive


def _check_size(size) -> tuple[int, int]:
    size = (size, size) if isinstance(size, int) else tuple(size)
    if len(size) != 2 or not all(isinstance(n, int) and n >= 1 for n in size):
        raise ValueError(f"size must be (height, width) of integers >= 1, got {size!r}")
    return size


def bicubic_resize(images: torch.Tensor, size) -> torch.Tensor:
    """Images (N, C, h, w) in [0, 1] resampled to ``size`` (H, W) (or one int: square) by antialiased bicubic
    interpolation (PIL's ``Image.BICUBIC``, MATLAB's ``imresize``), clamped to [0, 1]; unchanged at that size.

    Differentiable; either direction (down-sampling widens the kernel, up-sampling is plain bicubic)."""
    check_images(images)
    size = _check_size(size)
    if tuple(images.shape[-2:]) == size or len(images) == 0:
        return images
    return F.interpolate(images, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def low_resolution_size(height: int, width: int, factor: float) -> tuple[int, int]:
    """(round(height / factor), round(width / factor)), each at least 1 pixel (halves round up):
    112 x 96 by 4, 8, 16 gives 28 x 24, 14 x 12, 7 x 6."""
    if check_positive(factor, "factor") < 1:
        raise ValueError(f"factor must be >= 1 (a down-sampling), got {factor!r}")
    return tuple(max(1, math.floor(n / factor + 0.5)) for n in (height, width))
