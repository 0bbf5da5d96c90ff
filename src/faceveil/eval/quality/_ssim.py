"""SSIM and MS-SSIM (Wang et al. 2004; Wang, Simoncelli, Bovik 2003)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..._checks import check_int, check_positive
from ._common import _check_min_size, _check_pair, _check_reduction, _reduce

__all__ = ["ssim", "ms_ssim", "ms_ssim_scales", "MSSSIMScales", "MS_SSIM_WEIGHTS"]

SSIM_K1, SSIM_K2 = 0.01, 0.03
#: the five MS-SSIM exponents of Wang et al. 2003, finest scale first (they sum to 1.0001 as published)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _check_win_size(win_size: int) -> None:
    check_int(win_size, "win_size", 3)
    if win_size % 2 == 0:
        raise ValueError(f"win_size must be odd (the window has a centre pixel), got {win_size}")


def _gaussian_window(win_size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """Normalised 1-D Gaussian (win_size,) centred on the middle tap, dtype/device of ``like``."""
    coords = torch.arange(win_size, dtype=like.dtype, device=like.device) - win_size // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _gaussian_filter_valid(images: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable per-channel Gaussian filter without padding: (N, C, H, W) -> (N, C, H-k+1, W-k+1)."""
    c, k = images.shape[1], window.numel()
    out = F.conv2d(images, window.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(out, window.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def _ssim_and_cs(
    x: torch.Tensor, y: torch.Tensor, data_range: float, window: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per image and channel, both (N, C).

    Local statistics use the Gaussian ``window`` with 'valid' filtering (no border padding), as in
    Wang et al. 2004 and pytorch-msssim; (co)variances are the biased (population) ones.
    """
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = _gaussian_filter_valid(x, window), _gaussian_filter_valid(y, window)
    var_x = _gaussian_filter_valid(x * x, window) - mu_x**2
    var_y = _gaussian_filter_valid(y * y, window) - mu_y**2
    cov_xy = _gaussian_filter_valid(x * y, window) - mu_x * mu_y
    cs_map = (2 * cov_xy + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs_map
    return ssim_map.flatten(2).mean(-1), cs_map.flatten(2).mean(-1)


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    reduction: str = "none",
) -> torch.Tensor:
    """Structural similarity index (Wang et al. 2004), computed per channel and averaged over channels.

    Gaussian window ``win_size`` x ``win_size`` with standard deviation ``sigma`` (11, 1.5 as in the
    paper), K1 = 0.01, K2 = 0.03, 'valid' filtering: the SSIM map covers only the positions where the
    whole window lies inside the image, (H - win_size + 1) x (W - win_size + 1). This equals
    pytorch-msssim's ``ssim`` and scikit-image's ``structural_similarity(gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False)``, which pads but then crops (win_size - 1) / 2 pixels
    from each border before averaging.

    Args:
        x, y: (N, C, H, W) images in ``[0, data_range]``, H and W >= ``win_size``.
        data_range: the peak value (sets C1 = (K1 data_range)^2, C2 = (K2 data_range)^2).
        win_size: odd window size >= 3.
        sigma: Gaussian standard deviation in pixels.
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.

    Returns:
        SSIM in [-1, 1]; 1 for identical images.
    """
    data_range = _check_pair(x, y, data_range)
    _check_win_size(win_size)
    sigma = check_positive(sigma, "sigma")
    _check_reduction(reduction)
    _check_min_size(*x.shape[-2:], win_size, "ssim", "win_size")
    ssim_per_channel, _ = _ssim_and_cs(x, y, data_range, _gaussian_window(win_size, sigma, x))
    return _reduce(ssim_per_channel.mean(1), reduction)


@dataclass(frozen=True)
class MSSSIMScales:
    """The scales an MS-SSIM computation uses for a given image size.

    Attributes:
        sizes: (height, width) at each scale used, finest (the input) first; each is the previous
            one halved and rounded up.
        weights: the exponent of each scale used. The given weights unchanged when all of them fit;
            otherwise the first ``len(sizes)`` of them rescaled to sum to 1.
        truncated: True when the image was too small for all the scales of the weight vector.
    """

    sizes: tuple[tuple[int, int], ...]
    weights: tuple[float, ...]
    truncated: bool


def _check_weights(weights) -> tuple[float, ...]:
    try:
        w = tuple(float(v) for v in weights)
    except (TypeError, ValueError):
        w = ()
    if not w or not all(math.isfinite(v) and v > 0 for v in w):
        raise ValueError(f"MS-SSIM weights must be a non-empty sequence of finite numbers > 0, got {weights!r}")
    return w


def ms_ssim_scales(height: int, width: int, weights=None, win_size: int = 11) -> MSSSIMScales:
    """The scales and exponents :func:`ms_ssim` uses for ``height`` x ``width`` images.

    Standard MS-SSIM has 5 scales (4 halvings) and so needs a short side > 16 (win_size - 1) = 160
    pixels; face crops are often 112-150 pixels. faceveil therefore keeps every scale whose short
    side is still >= ``win_size`` (the first scale always, else ``ValueError``), up to
    ``len(weights)`` scales, and rescales the truncated exponents to sum to 1. For a 112x112 crop
    this gives 4 scales, 112, 56, 28, 14, with exponents (0.0448, 0.2856, 0.3001, 0.2363) / 0.8668.

    Args:
        height, width: image size in pixels.
        weights: exponents per scale, finest first (default :data:`MS_SSIM_WEIGHTS`).
        win_size: the SSIM window size (odd, >= 3).
    """
    check_int(height, "height", 1)
    check_int(width, "width", 1)
    _check_win_size(win_size)
    exponents = _check_weights(MS_SSIM_WEIGHTS if weights is None else weights)
    _check_min_size(height, width, win_size, "ms_ssim", "win_size")
    sizes = [(height, width)]
    while len(sizes) < len(exponents):
        h, w = ((s + 1) // 2 for s in sizes[-1])
        if min(h, w) < win_size:
            break
        sizes.append((h, w))
    if len(sizes) == len(exponents):
        return MSSSIMScales(tuple(sizes), exponents, truncated=False)
    kept = exponents[: len(sizes)]
    return MSSSIMScales(tuple(sizes), tuple(v / sum(kept) for v in kept), truncated=True)


def ms_ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    weights=None,
    win_size: int = 11,
    sigma: float = 1.5,
    reduction: str = "none",
) -> torch.Tensor:
    """Multi-scale SSIM (Wang, Simoncelli, Bovik 2003; seed 002, Eq. 1), per channel then averaged.

    ``prod_j cs_j^w_j`` over the finer scales times ``ssim_M^w_M`` at the coarsest scale, with
    negative terms clipped to 0 before the powers, and downsampling by 2x2 average pooling with zero
    padding on odd sizes, exactly as pytorch-msssim. When the images are too small for all scales
    (short side <= 160 pixels for the default 5 weights and 11-pixel window), only the scales that fit
    are used and their weights are renormalised: call :func:`ms_ssim_scales` to see which.

    Args:
        x, y: (N, C, H, W) images in ``[0, data_range]``, H and W >= ``win_size``.
        data_range: the peak value.
        weights: exponents per scale, finest first (default :data:`MS_SSIM_WEIGHTS`).
        win_size, sigma: the SSIM Gaussian window (see :func:`ssim`).
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.

    Returns:
        MS-SSIM in [0, 1]; 1 for identical images.
    """
    data_range = _check_pair(x, y, data_range)
    _check_win_size(win_size)
    sigma = check_positive(sigma, "sigma")
    _check_reduction(reduction)
    scales = ms_ssim_scales(x.shape[-2], x.shape[-1], weights, win_size)
    window = _gaussian_window(win_size, sigma, x)
    factors = []
    for level in range(len(scales.sizes)):
        ssim_per_channel, cs = _ssim_and_cs(x, y, data_range, window)
        if level == len(scales.sizes) - 1:
            factors.append(torch.relu(ssim_per_channel))
        else:
            factors.append(torch.relu(cs))
            padding = [s % 2 for s in x.shape[-2:]]
            x, y = F.avg_pool2d(x, 2, padding=padding), F.avg_pool2d(y, 2, padding=padding)
    exponents = torch.tensor(scales.weights, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    per_channel = torch.prod(torch.stack(factors) ** exponents, dim=0)
    return _reduce(per_channel.mean(1), reduction)
