"""PSNR (seed 002's PSNR equation)."""

from __future__ import annotations

import torch

from ._common import _check_pair, _check_reduction, _reduce

__all__ = ["psnr"]


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, reduction: str = "none") -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)`` (seed 002, PSNR equation).

    The MSE is taken over all channels and pixels of each image. Identical images have MSE 0 and a
    PSNR of ``+inf`` (so a ``"mean"`` over a batch containing one is ``+inf`` too).

    Args:
        x, y: (N, C, H, W) images in ``[0, data_range]``.
        data_range: the peak value (1 for the library's images, 255 for 8-bit values).
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.
    """
    data_range = _check_pair(x, y, data_range)
    _check_reduction(reduction)
    mse = (x - y).pow(2).flatten(1).mean(1)
    return _reduce(10 * torch.log10(data_range**2 / mse), reduction)
