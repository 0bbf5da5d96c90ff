"""Similarity that a shift cannot fool: normalised correlation at the best shift, metrics after alignment.

A pixel-aligned metric (PSNR, SSIM, seed 000's Eq. 3) calls a translated copy of a face "different",
although nothing of the face is lost. Here the two images are compared at every relative shift that
keeps at least ``min_overlap`` of their area overlapping, each time by the Pearson correlation over the
overlap (the masked normalised cross-correlation of Padfield, IEEE TIP 2012, computed with six FFTs);
the largest absolute value is the similarity (a negative correlation, the complementary image, hides
nothing either). :func:`aligned_quality` then undoes the best shift and the best gain and offset (least
squares over the overlap) before PSNR and SSIM.
"""

from __future__ import annotations

import torch

from ..._checks import check_images, check_same_shape
from ._common import _check_pair
from ._psnr import psnr
from ._ssim import ssim

#: the default least fraction of the image area two shifted images must share
MIN_OVERLAP = 0.5
#: image pairs per shift search in :func:`aligned_quality` (bounds its memory)
CHUNK = 128


def _correlate(u: torch.Tensor, v: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """sum_x u(x) v(x + s) for every shift s, channels summed: (N, C, H, W) x2 -> (N, 2H, 2W), float64."""
    spectrum = torch.fft.rfft2(u.double(), s=size).conj() * torch.fft.rfft2(v.double(), s=size)
    return torch.fft.irfft2(spectrum, s=size).sum(1)


def shift_correlation(x: torch.Tensor, y: torch.Tensor, min_overlap: float = MIN_OVERLAP,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest |Pearson correlation| between ``x`` and ``y`` over relative shifts, and that shift.

    Args:
        x, y: (N, C, H, W) images, same shape (any range; the correlation ignores gain and offset).
        min_overlap: least fraction of the H x W area the shifted images must share, in (0, 1].

    Returns:
        ``(similarity (N,) float64 in [0, 1], shift (N, 2) long)``: ``y`` shifted by ``shift`` = (dy, dx)
        pixels, i.e. ``y[h + dy, w + dx]`` against ``x[h, w]``, matches ``x`` best. Differentiable in both
        images (through the chosen shift). A constant image correlates with nothing: 0.
    """
    check_images(x, "x")
    check_images(y, "y")
    check_same_shape(x, y)
    if not 0 < float(min_overlap) <= 1:
        raise ValueError(f"min_overlap must be in (0, 1], got {min_overlap!r}")
    n, c, h, w = x.shape
    size = (2 * h, 2 * w)
    ones = torch.ones_like(x[:1, :1]).expand(1, c, h, w)
    count = _correlate(ones, ones, size)
    sum_x, sum_y = _correlate(x, ones.expand_as(y), size), _correlate(ones.expand_as(x), y, size)
    sum_xx, sum_yy = _correlate(x * x, ones.expand_as(y), size), _correlate(ones.expand_as(x), y * y, size)
    sum_xy = _correlate(x, y, size)
    valid = count > min_overlap * c * h * w - 0.5
    count = count.clamp(min=1)
    covariance = sum_xy - sum_x * sum_y / count
    variance = ((sum_xx - sum_x**2 / count).clamp(min=0) * (sum_yy - sum_y**2 / count).clamp(min=0))
    scale = (sum_xx.detach().amax((1, 2), keepdim=True) * sum_yy.detach().amax((1, 2), keepdim=True)).clamp(min=1e-30)
    flat = variance > 1e-10 * scale  # a (nearly) constant overlap carries no correlation
    correlation = torch.where(valid & flat, covariance / variance.clamp(min=1e-300).sqrt(), torch.zeros_like(covariance))
    best, index = correlation.abs().flatten(1).max(1)
    dy, dx = index // size[1], index % size[1]
    dy = torch.where(dy >= h, dy - size[0], dy)
    dx = torch.where(dx >= w, dx - size[1], dx)
    return best.clamp(max=1.0), torch.stack([dy, dx], 1)


def _overlap(image: torch.Tensor, dy: int, dx: int, h: int, w: int, of_shifted: bool) -> torch.Tensor:
    """The part of a (C, H, W) image inside the overlap of x and y shifted by (dy, dx)."""
    if of_shifted:
        return image[:, max(dy, 0): h + min(dy, 0), max(dx, 0): w + min(dx, 0)]
    return image[:, max(-dy, 0): h - max(dy, 0), max(-dx, 0): w - max(dx, 0)]


@torch.no_grad()
def aligned_quality(images: torch.Tensor, originals: torch.Tensor, min_overlap: float = MIN_OVERLAP) -> dict:
    """PSNR (dB) and SSIM of ``images`` against ``originals`` after the best shift and the best gain and offset.

    For each pair: the shift of :func:`shift_correlation`; on the overlap, ``g * image + o`` with (g, o)
    minimising the squared error to the original (a negative g undoes a complementary image), clamped to
    [0, 1]; PSNR and SSIM over the overlap (SSIM needs an overlap of at least 11 x 11 pixels: NaN otherwise).

    Args:
        images, originals: (N, C, H, W) in [0, 1].

    Returns:
        ``{"psnr": (N,), "ssim": (N,), "similarity": (N,), "shift": (N, 2)}``, float tensors except
        ``shift`` (long).
    """
    _check_pair(images, originals)
    # in chunks: six float64 spectra of the whole batch would need ~3 GB per 1,000 RGB 80 x 80 images
    found = [shift_correlation(o, i, min_overlap) for o, i in zip(originals.split(CHUNK), images.split(CHUNK))]
    similarity, shifts = torch.cat([f[0] for f in found]), torch.cat([f[1] for f in found])
    h, w = images.shape[-2:]
    out_psnr, out_ssim = torch.empty(len(images)), torch.empty(len(images))
    for i, (dy, dx) in enumerate(shifts.tolist()):
        moved = _overlap(images[i], dy, dx, h, w, True).double()
        target = _overlap(originals[i], dy, dx, h, w, False).double()
        a = torch.stack([moved.flatten(), torch.ones(moved.numel(), dtype=torch.float64)], 1)
        gain, offset = torch.linalg.lstsq(a, target.flatten()[:, None]).solution[:, 0].tolist()
        fitted = (gain * moved + offset).clamp(0, 1).float()[None]
        reference = target.float()[None]
        out_psnr[i] = psnr(fitted, reference)[0]
        out_ssim[i] = ssim(fitted, reference)[0] if min(fitted.shape[-2:]) >= 11 else float("nan")
    return {"psnr": out_psnr, "ssim": out_ssim, "similarity": similarity.float(), "shift": shifts}
