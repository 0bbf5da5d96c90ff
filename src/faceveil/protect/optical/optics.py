"""The optical layer of MEM-FR and LOEN: a binary amplitude mask, its dilated PSF and the convolution.

Seed 000 models the encoder as a linear shift-invariant system (Eq. 1, reconstructed from the garbled
"g(x; y) = f(x; y) * h(x; y) + n(x; y)"):

    g = f * h + n

with f the scene's intensity, h the PSF and n the sensor noise (:mod:`.sensor`). The PSF of MEM-FR is
the mask's k x k binary pattern with its taps spread ``dilation`` steps apart by the microlenses (a
dilated convolution: 5 x 5 taps, dilation 8, a 33 x 33 support); LOEN's mask casts its pattern
directly (dilation 1). Incoherent light makes every PSF non-negative: during training the mask is
relaxed to values in (0, 1) (a sigmoid of free parameters) and, for deployment, binarised with a
straight-through estimator. Optionally each lenslet's spot is blurred by its Fraunhofer diffraction
pattern (:func:`lenslet_blur`).

The library's images are in [0, 1]; the PSF is normalised to sum 1, i.e. the exposure is set so that a
uniform white scene gives an irradiance of 1 on the sensor, so g stays in [0, 1].
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._checks import check_images, check_int
from .physics import OpticalSetup


def dilate_kernel(kernel: torch.Tensor, dilation: int) -> torch.Tensor:
    """Spread the taps of a (k, k) kernel ``dilation`` pixels apart, zeros between them.

    Returns a (dilation (k - 1) + 1,)-square tensor: 33 x 33 for a 5 x 5 kernel at dilation 8. Differentiable.
    """
    if not isinstance(kernel, torch.Tensor) or kernel.ndim != 2:
        raise ValueError(f"kernel must be a 2-D tensor (k, k), got {getattr(kernel, 'shape', type(kernel).__name__)}")
    check_int(dilation, "dilation", 1)
    kh, kw = kernel.shape
    out = kernel.new_zeros(dilation * (kh - 1) + 1, dilation * (kw - 1) + 1)
    out[::dilation, ::dilation] = kernel
    return out


def binarize_ste(weights: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``weights >= threshold`` as 0/1 in the forward pass; the identity in the backward pass
    (straight-through estimator), so training can go on through a deployable binary mask."""
    hard = (weights >= threshold).to(weights.dtype)
    return weights + (hard - weights).detach()


def lenslet_blur(setup: OpticalSetup, dilation: int, oversample: int = 8) -> torch.Tensor:
    """Each lenslet's diffraction spot on the simulation grid: a square (2r + 1)-pixel kernel, sum 1.

    A square lenslet of side D and focal length f spreads a focused spot as sinc^2(x D / (lambda f))
    sinc^2(y D / (lambda f)) (Fraunhofer). One simulated pixel is the lenslet pitch divided by
    ``dilation`` (the lenslet pitch spans ``dilation`` pixels); the pattern is averaged over each pixel
    from ``oversample`` x ``oversample`` points and cut after its second zero.

    Raises ``ValueError`` for a set-up without lenslets (LOEN).
    """
    first_zero = setup.lenslet_diffraction_m
    if first_zero is None:
        raise ValueError(f"the {setup.name} set-up has no lenslets: no lenslet diffraction blur")
    check_int(dilation, "dilation", 1)
    check_int(oversample, "oversample", 1)
    pixel = setup.mask_feature_m / dilation
    radius = math.ceil(2 * first_zero / pixel)
    offsets = (np.arange(oversample) + 0.5) / oversample - 0.5
    x = (np.arange(-radius, radius + 1)[:, None] + offsets[None, :]) * pixel / first_zero
    profile = (np.sinc(x) ** 2).mean(1)
    blur = np.outer(profile, profile)
    return torch.from_numpy(blur / blur.sum()).float()


def point_spread_function(kernel: torch.Tensor, dilation: int, blur: torch.Tensor | None = None) -> torch.Tensor:
    """The encoder's PSF h: the dilated mask, optionally blurred, normalised to sum 1.

    Args:
        kernel: (k, k) mask transmissions, >= 0 (relaxed in (0, 1) or binary).
        dilation: tap spacing in pixels.
        blur: optional (b, b) lenslet blur (:func:`lenslet_blur`); the support grows by b - 1.

    Returns:
        (s, s) float tensor, s = dilation (k - 1) + 1 (+ b - 1), non-negative, sum 1; differentiable.

    Raises ``ValueError`` if the kernel is negative somewhere or blocks all light.
    """
    if float(kernel.detach().min()) < 0:
        raise ValueError("an amplitude mask transmits between 0 and 1: the kernel has negative values")
    psf = dilate_kernel(kernel, dilation)
    if blur is not None:
        pad = blur.shape[-1] - 1
        psf = F.conv2d(F.pad(psf, (pad, pad, pad, pad))[None, None], blur.flip(-1, -2)[None, None].to(psf))[0, 0]
    total = psf.sum()
    if float(total.detach()) <= 0:
        raise ValueError("the mask blocks all light (every element closed): no image reaches the sensor")
    return psf / total


def optical_convolution(scene: torch.Tensor, psf: torch.Tensor) -> torch.Tensor:
    """g = f * h (seed 000, Eq. 1 without noise): the sensor image of a scene, same size as the scene.

    A true (flipped-kernel) linear convolution with a black world around the scene, computed with FFTs:
    a point source at pixel (y, x) produces the PSF centred on (y, x). The PSF is the same for every
    colour channel (an amplitude mask is achromatic).

    Args:
        scene: (N, C, H, W) intensities in [0, 1].
        psf: (s, s) non-negative, s odd (normalised to sum 1 by :func:`point_spread_function`).

    Returns:
        (N, C, H, W); in [0, 1] when the PSF sums to 1 (up to float rounding). Differentiable in both.
    """
    check_images(scene, "scene")
    if psf.ndim != 2 or psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        raise ValueError(f"psf must be a 2-D tensor of odd sides, got shape {tuple(psf.shape)}")
    h, w = scene.shape[-2:]
    ph, pw = psf.shape
    size = (h + ph - 1, w + pw - 1)
    full = torch.fft.irfft2(torch.fft.rfft2(scene, s=size) * torch.fft.rfft2(psf.to(scene), s=size), s=size)
    return full[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]


class AmplitudeMask(nn.Module):
    """A k x k amplitude mask: transmissions sigmoid(theta) in (0, 1), or binary for deployment.

    Args:
        kernel_size: k (5 in seed 000).
        seed: initialisation of theta ~ N(0, 1) (transmissions spread over (0.1, 0.9)).
    """

    def __init__(self, kernel_size: int = 5, seed: int = 0) -> None:
        super().__init__()
        check_int(kernel_size, "kernel_size", 1)
        generator = torch.Generator().manual_seed(seed)
        self.theta = nn.Parameter(torch.randn(kernel_size, kernel_size, generator=generator))

    def relaxed(self) -> torch.Tensor:
        """Transmissions (k, k) in (0, 1), differentiable."""
        return torch.sigmoid(self.theta)

    def binary(self) -> torch.Tensor:
        """Open (1) where the relaxed transmission is >= 0.5, else closed (0); straight-through gradients."""
        return binarize_ste(self.relaxed())

    def forward(self, binary: bool) -> torch.Tensor:
        """The transmissions the optics use: :meth:`binary` if ``binary`` else :meth:`relaxed`."""
        return self.binary() if binary else self.relaxed()

