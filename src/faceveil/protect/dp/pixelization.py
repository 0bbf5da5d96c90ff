"""Differentially private pixelization (DP-Pix; Fan 2018, "Image pixelization with differential privacy"):
a mechanism with a proof, beside seed 004's.

The image (8-bit, H x W x C) is cut into b x b blocks; each block's sum of pixel values per channel gets
discrete Laplace noise and the released block is filled with its noisy mean, rounded and clipped to
[0, 255]. **Neighbours** are any two images that differ in at most m pixels (each by any amount): such a
change moves the vector of block sums by at most ``D = 255 m C`` in L1 norm, whatever the images are
(the sensitivity comes from the pixel range, not from data). The noise is the two-sided geometric law
with P(z) proportional to exp(-|z| eps / D) (:func:`~faceveil.protect.dp.noise.discrete_laplace`, an
exact integer sampler), so each release is eps-DP for m-pixel neighbours (Ghosh et al. 2009); rounding
and clipping are post-processing. Fan's continuous Laplace on block means is the same mechanism up to
the lattice; on the integers there is no floating-point attack (Mironov 2012).

eps is represented as a rational s / PRECISION rounded *down*: the guarantee actually given,
``effective_epsilon``, is at most the requested eps and at most 1 / PRECISION below it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..._checks import check_int, check_positive
from .noise import NoiseSource, discrete_laplace

PRECISION = 10**6


@dataclass(frozen=True)
class PixelizationConfig:
    """DP-Pix settings: ``epsilon`` per release, ``block`` side b in pixels, ``m`` changed pixels that
    define neighbours (Fan 2018 uses b = 16, m = 16 on faces)."""

    epsilon: float
    block: int = 16
    m: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", check_positive(self.epsilon, "epsilon"))
        check_int(self.block, "block", 1)
        check_int(self.m, "m", 1)
        if math.floor(self.epsilon * PRECISION) < 1:
            raise ValueError(f"epsilon must be at least {1 / PRECISION:g} (its lattice step), got {self.epsilon!r}")

    @property
    def epsilon_numerator(self) -> int:
        return math.floor(self.epsilon * PRECISION)

    @property
    def effective_epsilon(self) -> float:
        """The eps the noise gives: ``floor(eps PRECISION) / PRECISION`` <= eps."""
        return self.epsilon_numerator / PRECISION

    def sensitivity(self, channels: int) -> int:
        """L1 sensitivity of the block sums for m-pixel neighbours of a C-channel 8-bit image."""
        return 255 * self.m * channels

    def account(self, channels: int) -> dict:
        """What the release guarantees, independent of the image (safe to publish with it)."""
        d = self.sensitivity(channels)
        return {"mechanism": "dp-pix", **asdict(self), "effective_epsilon": self.effective_epsilon, "delta": 0.0,
                "neighbours": f"images that differ in at most {self.m} pixels (any values)",
                "sensitivity_l1": d, "noise": "discrete Laplace on block sums, scale "
                f"{d / self.effective_epsilon:.6g} (exact integer sampler)"}


def block_sums(images: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-block channel sums (N, Hb, Wb, C) int64 of 8-bit images (N, H, W, C) and the pixel count of
    each block (Hb, Wb) (edge blocks may be smaller)."""
    n, h, w, c = images.shape
    hb, wb = -(-h // block), -(-w // block)
    padded = np.zeros((n, hb * block, wb * block, c), dtype=np.int64)
    padded[:, :h, :w] = images
    sums = padded.reshape(n, hb, block, wb, block, c).sum(axis=(2, 4))
    rows = np.minimum(block, h - block * np.arange(hb))
    cols = np.minimum(block, w - block * np.arange(wb))
    return sums, rows[:, None] * cols[None, :]


def dp_pixelize(images: np.ndarray, config: PixelizationConfig, source: NoiseSource) -> np.ndarray:
    """DP-Pix releases of 8-bit images (N, H, W, C) uint8 -> (N, H, W, C) uint8 (one fresh noise draw each).

    Raises:
        ValueError: images that are not a uint8 array (N, H, W, C).
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("DP-Pix takes 8-bit images (N, H, W, C) uint8: its sensitivity comes from the range 0..255")
    n, h, w, c = images.shape
    sums, counts = block_sums(images, config.block)
    d = config.sensitivity(c)
    # P(z) ~ exp(-|z| eps / D) = exp(-|z| s / t) with s / t = (eps PRECISION) / (D PRECISION)
    noise = discrete_laplace(sums.size, d * PRECISION, config.epsilon_numerator, source).reshape(sums.shape)
    means = np.clip(np.floor((sums + noise) / counts[None, :, :, None] + 0.5), 0, 255).astype(np.uint8)
    full = means.repeat(config.block, axis=1).repeat(config.block, axis=2)
    return np.ascontiguousarray(full[:, :h, :w])
