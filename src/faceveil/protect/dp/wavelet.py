"""Orthonormal multi-level 2-D Haar wavelet transform (seed 004, Sec. IV-A: "HWT" and "MIWT"), batched.

Layout: the coefficients of an (N, C, H, W) batch form one tensor of the same shape, packed as
PyWavelets' ``coeffs_to_array(wavedec2(x, "haar", mode="periodization", level=L))`` packs them: the
approximation of the coarsest level in the top-left corner, and at every level the blocks
``[[LL, V], [H, D]]``, with, for a 2x2 block of pixels ``[[a, b], [c, d]]``,

    LL = (a + b + c + d) / 2,  H = (a + b - c - d) / 2,  V = (a - b + c - d) / 2,  D = (a - b - c + d) / 2

(H is PyWavelets' ``cH``, the difference between rows; V its ``cV``, between columns).

Each level is an orthonormal map, so the transform preserves energy (sum of squares) and its inverse is
its transpose (the property seed 004 uses in the proof of Definition 5: ``H^T H = I``).

Padding rule: the transform needs H and W to be multiples of ``2**levels``. Other sizes are padded at
the bottom and right by repeating the edge pixels (``"replicate"``), and :func:`inverse_haar2d` crops
back to the size it is given. Edge padding adds no artificial discontinuity, so the extra detail
coefficients stay near zero; the padded transform is orthonormal on the padded image, not on the
original one (cropping discards the part of the coefficients' energy that fell on the padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..._checks import check_images, check_int


def padded_size(height: int, width: int, levels: int) -> tuple[int, int]:
    """(H, W) rounded up to multiples of ``2**levels``: the size of the coefficient array."""
    block = 2**levels
    return (-(-height // block) * block, -(-width // block) * block)


def check_levels(levels: int, height: int, width: int) -> int:
    """Validate a number of levels for an image of (height, width): an integer with ``2**levels`` not
    larger than the image's smaller side. Returns it; raises ``ValueError`` otherwise."""
    check_int(levels, "levels", 1)
    if 2**levels > min(height, width):
        raise ValueError(f"levels={levels} needs images of at least {2**levels}x{2**levels} pixels, "
                         f"got {height}x{width}")
    return levels


def _split(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One analysis level: (..., 2h, 2w) -> LL, H, V, D, each (..., h, w)."""
    a, b = x[..., 0::2, 0::2], x[..., 0::2, 1::2]
    c, d = x[..., 1::2, 0::2], x[..., 1::2, 1::2]
    return (a + b + c + d) / 2, (a + b - c - d) / 2, (a - b + c - d) / 2, (a - b - c + d) / 2


def _merge(ll: torch.Tensor, h: torch.Tensor, v: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """One synthesis level, the transpose of :func:`_split`: four (..., h, w) -> (..., 2h, 2w)."""
    a, b = (ll + h + v + d) / 2, (ll + h - v - d) / 2
    c, e = (ll - h + v - d) / 2, (ll - h - v + d) / 2
    top = torch.stack((a, b), dim=-1).flatten(-2)  # interleave columns
    bottom = torch.stack((c, e), dim=-1).flatten(-2)
    return torch.stack((top, bottom), dim=-2).flatten(-3, -2)  # interleave rows


def _analysis(x: torch.Tensor, levels: int) -> torch.Tensor:
    ll, h, v, d = _split(x)
    if levels > 1:
        ll = _analysis(ll, levels - 1)
    # the four blocks written into one array (differentiable slice copies; no half-size concatenations)
    out = x.new_empty(x.shape)
    hh, ww = ll.shape[-2:]
    out[..., :hh, :ww], out[..., :hh, ww:], out[..., hh:, :ww], out[..., hh:, ww:] = ll, v, h, d
    return out


def _synthesis(c: torch.Tensor, levels: int) -> torch.Tensor:
    hh, ww = c.shape[-2] // 2, c.shape[-1] // 2
    ll, v = c[..., :hh, :ww], c[..., :hh, ww:]
    h, d = c[..., hh:, :ww], c[..., hh:, ww:]
    if levels > 1:
        ll = _synthesis(ll, levels - 1)
    return _merge(ll, h, v, d)


def haar2d(images: torch.Tensor, levels: int) -> torch.Tensor:
    """Multi-level orthonormal 2-D Haar transform of a batch (differentiable, no in-place operations).

    Args:
        images: (N, C, H, W) float tensor (any range; images of the library are in [0, 1]).
        levels: number of decomposition levels, >= 1, with ``2**levels <= min(H, W)``.

    Returns:
        Coefficients (N, C, H', W') in the layout of the module docstring, where (H', W') =
        :func:`padded_size` (H, W, levels): edge-padded when H or W is not a multiple of ``2**levels``.
    """
    check_images(images)
    return haar2d_unchecked(images, levels)


def haar2d_unchecked(images: torch.Tensor, levels: int) -> torch.Tensor:
    """:func:`haar2d` without the finiteness check of the pixels (for callers that checked them once:
    on a 12-megapixel batch of gradients the check costs as much as the transform)."""
    height, width = images.shape[-2:]
    check_levels(levels, height, width)
    ph, pw = padded_size(height, width, levels)
    if (ph, pw) != (height, width):
        images = F.pad(images, (0, pw - width, 0, ph - height), mode="replicate")
    return _analysis(images, levels)


def inverse_haar2d(coefficients: torch.Tensor, levels: int, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Inverse of :func:`haar2d`: coefficients (N, C, H', W') -> images (N, C, H, W).

    Args:
        coefficients: (N, C, H', W') with H', W' multiples of ``2**levels``.
        levels: the number of levels used by the forward transform.
        size: (H, W) of the original images, to crop the padding away; ``None`` keeps (H', W').
    """
    if not isinstance(coefficients, torch.Tensor) or coefficients.ndim != 4 or not coefficients.is_floating_point():
        raise ValueError("coefficients must be a floating tensor of shape (N, C, H', W'), got "
                         f"{type(coefficients).__name__} {tuple(getattr(coefficients, 'shape', ()))}")
    ph, pw = coefficients.shape[-2:]
    check_levels(levels, ph, pw)
    if (ph, pw) != padded_size(ph, pw, levels):
        raise ValueError(f"coefficient arrays must have sides that are multiples of 2**levels = {2**levels}, "
                         f"got {ph}x{pw}")
    height, width = (ph, pw) if size is None else size
    if padded_size(height, width, levels) != (ph, pw):
        raise ValueError(f"size {size} does not pad to the coefficient size {ph}x{pw} with levels={levels}")
    return _synthesis(coefficients, levels)[..., :height, :width]


def window_positions(levels: int, top: int, left: int, window: tuple[int, int], padded: tuple[int, int]) -> torch.Tensor:
    """Where the Haar coefficients of an image window lie in the coefficients of the whole image.

    For a window of ``window`` = (h, w) pixels whose corner (``top``, ``left``) and sides are multiples of
    ``2**levels``, every basis function of :func:`haar2d` lies inside one aligned ``2**levels`` block, so
    the window's coefficients are coefficients of the whole (padded, (H', W')) image, moved. Returns the
    flat positions (h * w,) int64 in the whole image's (H', W') array of the window's coefficients, in
    the window's own layout (``levels = 0``: pixels).
    """
    block = 2**levels
    (h, w), (ph, pw) = window, padded
    if top % block or left % block or h % block or w % block or top + h > ph or left + w > pw:
        raise ValueError(f"a window {h}x{w} at ({top}, {left}) must be aligned to {block} px blocks inside {ph}x{pw}")
    i = torch.arange(h)[:, None].expand(h, w)
    j = torch.arange(w)[None, :].expand(h, w)
    rows, cols = i + top, j + left  # levels = 0, and the coarse approximation below
    for level in range(1, levels + 1):
        hl, wl, Hl, Wl = h >> level, w >> level, ph >> level, pw >> level
        band = ((i < 2 * hl) & (j < 2 * wl)) & ((i >= hl) | (j >= wl))  # a detail of this level
        low_i, low_j = i >= hl, j >= wl  # H and D rows, V and D columns
        r = i - hl * low_i + (top >> level) + Hl * low_i
        c = j - wl * low_j + (left >> level) + Wl * low_j
        rows, cols = torch.where(band, r, rows), torch.where(band, c, cols)
    coarse = (i < h >> levels) & (j < w >> levels)
    rows = torch.where(coarse, i + (top >> levels), rows)
    cols = torch.where(coarse, j + (left >> levels), cols)
    return (rows * pw + cols).flatten()
