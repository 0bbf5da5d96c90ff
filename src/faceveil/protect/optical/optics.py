"""The optical layer of MEM-FR and LOEN: a binary amplitude mask, the PSF its optics make, the convolution.

Seed 000 models the encoder as a linear shift-invariant system (Eq. 1, reconstructed from the garbled
"g(x; y) = f(x; y) * h(x; y) + n(x; y)"):

    g = f * h + n

with f the scene's intensity, h the PSF and n the sensor noise (:mod:`.sensor`). The PSF is derived from
the configured optics (:mod:`.physics`), not set by hand: mask element (i, j) contributes one *tap*,
centred (i - c, j - c) element pitches from the centre (p (l1 + l2) / l2 on the scene, Eq. 2's similar
triangles), as wide as that element's image of a point (a diffraction-limited spot behind a lenslet, the
element's whole shadow without one), and as bright as the solid angle the element passes
(:func:`element_footprints`). So

    h = sum_ij t_ij F_ij,    sum(F_ij) = element solid angle / reference solid angle,

with t_ij the transmissions: closing an element removes its light, and a white scene's irradiance is
proportional to the open area (the sensor's exposure is one setting shared by every system). Incoherent
light makes every PSF non-negative: during training the mask is relaxed to values in (0, 1) (a sigmoid of
free parameters) and, for deployment, binarised with a straight-through estimator.

Units: the library's scenes are in [0, 1]; the irradiance f * h is in units of a white scene seen through
the reference solid angle (:data:`~faceveil.protect.optical.physics.REFERENCE_SOLID_ANGLE_SR`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..._checks import check_images, check_int
from .physics import REFERENCE_SOLID_ANGLE_SR, OpticalSetup

#: sub-samples per pixel of a tap's continuous profile
OVERSAMPLE = 64


def tap_profile(positions: np.ndarray, centre: float, width: float, blur_zero: float | None = None) -> np.ndarray:
    """Weights on integer pixel ``positions`` of one tap centred at ``centre`` (pixels), sum 1.

    The tap's continuous profile is a box of ``width`` pixels (0: a point), optionally convolved with a
    lens's diffraction pattern sinc^2(x / blur_zero) (first zero ``blur_zero`` pixels). A pixelated scene
    (each pixel a uniform square) imaged onto pixel-integrating sensor cells turns a point at x into the
    triangle weights max(0, 1 - |n - x|) (box * box), so each pixel's weight is the profile integrated
    against that triangle (exactly for a point; by sampling at 1/64 pixel otherwise).
    """
    width = float(width)
    if width < 0:
        raise ValueError(f"width must be >= 0, got {width}")
    half = width / 2 + (3 * blur_zero if blur_zero else 0.0)
    n = math.ceil(half * OVERSAMPLE)
    offsets = np.arange(-n, n + 1) / OVERSAMPLE
    weight = (np.abs(offsets) <= width / 2).astype(float) if width > 0 else (offsets == 0).astype(float)
    if blur_zero:
        weight = np.convolve(weight, np.sinc(offsets / blur_zero) ** 2, mode="same")
    x = centre + offsets
    triangle = np.clip(1 - np.abs(positions[:, None] - x[None, :]), 0, None)
    profile = triangle @ weight
    return profile / profile.sum()


def _tap_geometry(setup: OpticalSetup, image_size: int, pitch_px: float | None,
                  diffraction: bool) -> tuple[float, float, float | None]:
    """(pitch, tap width, diffraction first zero or None), in scene pixels, of :func:`element_footprints`."""
    pitch = setup.element_pitch_px(image_size) if pitch_px is None else float(pitch_px)
    if not pitch > 0:
        raise ValueError(f"pitch_px must be > 0, got {pitch_px!r}")
    width = 0.0 if setup.lenslet_focal_m is not None else pitch
    blur_zero = None
    if diffraction:
        if setup.lenslet_diffraction_m is None:
            raise ValueError(f"the {setup.name} set-up has no lenslets: no lenslet diffraction blur")
        blur_zero = (setup.lenslet_diffraction_m * setup.scene_to_mask_m / setup.mask_to_sensor_m
                     / setup.scene_pixel_m(image_size))
    return pitch, width, blur_zero


def footprint_radius(setup: OpticalSetup, image_size: int, kernel_size: int, pitch_px: float | None = None,
                     diffraction: bool = False) -> int:
    """r: the footprints of :func:`element_footprints` (same arguments) are 2 r + 1 pixels wide, just enough
    for the outermost tap (its centre c pitches out, half its width, three diffraction zeros, and the
    one pixel a sub-pixel position spreads over)."""
    check_int(kernel_size, "kernel_size", 1)
    pitch, width, blur_zero = _tap_geometry(setup, image_size, pitch_px, diffraction)
    reach = (kernel_size - 1) / 2 * pitch + width / 2 + (3 * blur_zero if blur_zero else 0.0) + 1
    return math.ceil(reach - 1e-9)


def element_footprints(setup: OpticalSetup, image_size: int, kernel_size: int, pitch_px: float | None = None,
                       diffraction: bool = False) -> torch.Tensor:
    """F_ij: the PSF of each mask element alone on a scene of ``image_size`` pixels, (k, k, s, s) float.

    Args:
        setup: the optics (:data:`~faceveil.protect.optical.physics.MEM_FR` or ``LOEN``).
        image_size: side of the simulated scene in pixels (the scene spans ``setup.scene_size_m``).
        kernel_size: k, elements per side of the mask.
        pitch_px: element pitch on the scene grid in pixels (Fig. 2's "dilation"); None: the optics'
            :meth:`~faceveil.protect.optical.physics.OpticalSetup.element_pitch_px`. A lensless tap stays
            as wide as the pitch.
        diffraction: blur lenslet taps by the lenslet's diffraction pattern (first zero lambda f / D on the
            sensor, l1 / l2 times that on the scene); ``ValueError`` for a set-up without lenslets.

    Returns:
        (k, k, s, s), s = 2 :func:`footprint_radius` + 1; F_ij >= 0 sums to
        ``setup.element_solid_angle_sr / REFERENCE_SOLID_ANGLE_SR``; element (c, c), c = (k - 1) / 2, is
        centred on the middle pixel and (i, j) lies (i - c, j - c) pitches away (rows, columns).
    """
    radius = footprint_radius(setup, image_size, kernel_size, pitch_px, diffraction)
    pitch, width, blur_zero = _tap_geometry(setup, image_size, pitch_px, diffraction)
    c = (kernel_size - 1) / 2
    positions = np.arange(-radius, radius + 1, dtype=float)
    profiles = [tap_profile(positions, (i - c) * pitch, width, blur_zero) for i in range(kernel_size)]
    light = setup.element_solid_angle_sr / REFERENCE_SOLID_ANGLE_SR
    footprints = np.einsum("iy,jx->ijyx", np.stack(profiles), np.stack(profiles)) * light
    return torch.from_numpy(footprints).float()


def binarize_ste(weights: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``weights >= threshold`` as 0/1 in the forward pass; the identity in the backward pass
    (straight-through estimator), so training can go on through a deployable binary mask."""
    hard = (weights >= threshold).to(weights.dtype)
    return weights + (hard - weights).detach()


def point_spread_function(transmissions: torch.Tensor, footprints: torch.Tensor) -> torch.Tensor:
    """h = sum_ij t_ij F_ij: the PSF of a mask (:func:`element_footprints`), differentiable in ``transmissions``.

    Args:
        transmissions: (k, k) in [0, 1] (relaxed or binary).
        footprints: (k, k, s, s) from :func:`element_footprints`.

    Returns:
        (s, s) >= 0; its sum is the mask's light relative to the reference solid angle (0 when every
        element is closed: the sensor then records only its noise).

    Raises ``ValueError`` for negative transmissions or shapes that do not match.
    """
    if transmissions.ndim != 2 or footprints.ndim != 4 or transmissions.shape != footprints.shape[:2]:
        raise ValueError(f"transmissions (k, k) and footprints (k, k, s, s) do not match: "
                         f"{tuple(transmissions.shape)} and {tuple(footprints.shape)}")
    if float(transmissions.detach().min()) < 0:
        raise ValueError("an amplitude mask transmits between 0 and 1: the kernel has negative values")
    return torch.einsum("ij,ijyx->yx", transmissions, footprints.to(transmissions))


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

