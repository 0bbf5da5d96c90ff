"""Orthonormal 2-D DCT-II and its inverse in torch, batched and differentiable.

Equal to ``scipy.fft.dctn(x, type=2, norm="ortho", axes=(-2, -1))``: ``X = D_H x D_W^T`` with the
orthonormal DCT matrix ``D[k, m] = sqrt(2/n) c_k cos(pi (2m + 1) k / (2n))``, ``c_0 = 1/sqrt(2)``,
``c_k = 1`` otherwise. Matrix products cost O(HW(H + W)), fine for face images (a few hundred pixels).
"""

from __future__ import annotations

import math

import torch

from ..._checks import check_images


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The orthonormal DCT-II matrix (n, n): rows are the cosine basis vectors."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    m = torch.arange(n, dtype=torch.float64)[None, :]
    d = math.sqrt(2.0 / n) * torch.cos(math.pi * (2 * m + 1) * k / (2 * n))
    d[0] /= math.sqrt(2.0)
    return d.to(dtype)


def dct2d(images: torch.Tensor) -> torch.Tensor:
    """Orthonormal 2-D DCT-II over the last two axes: (N, C, H, W) -> (N, C, H, W), energy preserved."""
    check_images(images)
    dh, dw = dct_matrix(images.shape[-2], images.dtype), dct_matrix(images.shape[-1], images.dtype)
    return dh @ images @ dw.T


def inverse_dct2d(coefficients: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`dct2d` (its transpose): (N, C, H, W) -> (N, C, H, W)."""
    if not isinstance(coefficients, torch.Tensor) or coefficients.ndim != 4 or not coefficients.is_floating_point():
        raise ValueError("coefficients must be a floating tensor of shape (N, C, H, W), got "
                         f"{type(coefficients).__name__} {tuple(getattr(coefficients, 'shape', ()))}")
    dh = dct_matrix(coefficients.shape[-2], coefficients.dtype)
    dw = dct_matrix(coefficients.shape[-1], coefficients.dtype)
    return dh.T @ coefficients @ dw
