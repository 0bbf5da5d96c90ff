"""One DP release of an 8-bit face photo, as ``faceveil protect dp`` makes it (and its benchmarks measure it)."""

from __future__ import annotations

import numpy as np

from ...data.images import to_grey, to_tensor, to_uint8
from .eigenfaces import Eigenfaces
from .methods import DPAccount, DPConfig, protect_dp
from .noise import NoiseSource
from .photo_features import PhotoFeatures
from .pixelization import PixelizationConfig, dp_pixelize
from .sensitivity import Sensitivity


def release_photo(pixels: np.ndarray, mechanism: DPConfig | PixelizationConfig, source: NoiseSource,
                  landmarks: np.ndarray | None = None, basis: Eigenfaces | None = None,
                  sensitivity: Sensitivity | None = None,
                  n_features: int | None = None) -> tuple[np.ndarray, DPAccount | None]:
    """Release a photo (H, W, C) uint8, C = 1 (grey) or 3 (RGB), once.

    Args:
        mechanism: a :class:`PixelizationConfig` (DP-Pix on the whole photo; no face needed) or a
            :class:`DPConfig` (seed 004's methods, F = ``basis`` on the chip cut at the face's 5 ``landmarks``
            (5, 2), calibrated with ``sensitivity``).
        source: the noise (reproducible only for experiments).

    Returns:
        The released photo (H, W, C) uint8 (a grey photo stays grey: with an RGB basis it is noised in
        colour and returned as its luma) and the per-image account (None for DP-Pix).
    """
    if isinstance(mechanism, PixelizationConfig):
        return dp_pixelize(np.ascontiguousarray(pixels)[None], mechanism, source)[0], None
    if basis is None or sensitivity is None or landmarks is None:
        raise ValueError("seed 004's methods need a basis, its sensitivity and the face's landmarks")
    image = to_tensor([pixels])
    if image.shape[1] == 1 and basis.image_shape[0] == 3:
        image = image.expand(-1, 3, -1, -1)
    result = protect_dp(image, PhotoFeatures(basis, landmarks, n_features), sensitivity, mechanism,
                        generator=source.generator, secure=source.secure)
    released = result.images if pixels.shape[2] == result.images.shape[1] else to_grey(result.images)
    return to_uint8(released)[0], result.accounts[0]
