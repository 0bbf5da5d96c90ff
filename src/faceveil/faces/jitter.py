"""dlib's test-time jitter of face chips, in torch: random small similarity warps and mirror flips.

Same distribution as ``dlib::jitter_image`` (dlib/image_transforms/interpolation.h), which dlib's
``compute_face_descriptor(..., num_jitters)`` averages over: the chip rectangle shrunk by 3 px on each
side is moved by up to +-2 % of its size (rounded to whole pixels), its side is divided by a factor in
[0.97, 0.99999], it is rotated by up to +-3 degrees, resampled (bilinear) to the chip size, and
mirrored with probability 1/2. Random numbers come from a ``torch.Generator``, not dlib's generator, so
individual jitters differ from dlib's while their distribution is the same.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._checks import check_images

MAX_ROTATION_DEGREES = 3.0
SCALE_RANGE = (0.97, 0.99999)
TRANSLATE_FRACTION = 0.02
SHRINK = 3


def jitter_chips(chips: torch.Tensor, copies: int, generator: torch.Generator) -> torch.Tensor:
    """``copies`` jittered versions of each square chip.

    Args:
        chips: (N, C, S, S) in [0, 1].
        copies: jitters per chip (>= 1).
        generator: source of the random warps.

    Returns:
        (N, copies, C, S, S) jittered chips, in [0, 1].
    """
    check_images(chips, "chips")
    n, c, h, w = chips.shape
    if h != w:
        raise ValueError(f"jitter needs square chips, got {h}x{w}")
    if not isinstance(copies, int) or copies < 1:
        raise ValueError(f"copies must be an integer >= 1, got {copies!r}")
    m = n * copies
    rect = h - 2 * SHRINK  # side of dlib's shrunk rectangle, in pixels

    def uniform(lo: float, hi: float, size: tuple[int, ...]) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(size, generator=generator, dtype=torch.float64)

    shift = torch.round(uniform(-TRANSLATE_FRACTION, TRANSLATE_FRACTION, (m, 2)) * rect)
    box = torch.floor(rect / uniform(*SCALE_RANGE, (m,)))
    angle = uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES, (m,)) * math.pi / 180
    flip = torch.rand(m, generator=generator) > 0.5
    # affine_grid maps output coordinates in [-1, 1] to input coordinates in [-1, 1] (align_corners=False)
    scale = box / h
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([
        torch.stack([cos, -sin, 2 * shift[:, 0] / h], 1),
        torch.stack([sin, cos, 2 * shift[:, 1] / h], 1),
    ], 1).to(chips.dtype)
    src = chips.repeat_interleave(copies, 0)
    grid = F.affine_grid(theta, (m, c, h, w), align_corners=False)
    out = F.grid_sample(src, grid.to(chips.device), mode="bilinear", padding_mode="zeros", align_corners=False)
    out = torch.where(flip.view(m, 1, 1, 1).to(chips.device), out.flip(-1), out)
    return out.view(n, copies, c, h, w)
