"""The DP mechanisms of faceveil as targets of the privacy auditor (:mod:`.privacy_audit`), on face chips.

Each mechanism is audited under its own neighbourhood:

* seed 004's methods (``rdp``, ``rdp-na``, ``rdp-lmgd``, ``pixel``, ``dct``): Definition 1, "A shows the
  individual, B does not": the chips of two different people;
* ``dp-pix``: images that differ in at most m pixels: one chip with an m-pixel patch of its first block
  set to 0 (A) and to 255 (B), the largest change the definition allows.

A release is the 8-bit chip a recipient receives; its views are its pixels and its eigenface features.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..protect.dp.eigenfaces import Eigenfaces
from ..protect.dp.methods import METHODS, DPConfig, protect_dp
from ..protect.dp.noise import NoiseSource
from ..protect.dp.pixelization import PixelizationConfig, dp_pixelize
from ..protect.dp.sensitivity import Sensitivity
from .privacy_audit import AuditResult, Views, audit

AUDITED_METHODS = (*METHODS, "dp-pix")


def m_pixel_neighbours(chip: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Two m-pixel neighbours from one 8-bit chip (H, W, C): the first m pixels (row by row) of its
    top-left ceil(sqrt(m)) square set to 0 in A and to 255 in B."""
    side = math.isqrt(m - 1) + 1
    rows, cols = np.divmod(np.arange(m), side)
    a, b = chip.copy(), chip.copy()
    a[rows, cols] = 0
    b[rows, cols] = 255
    return a, b


def _views(pixels: np.ndarray, basis: Eigenfaces) -> Views:
    """Views of 8-bit chips (n, H, W, C): the pixels and the basis' features of the chips."""
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255
    return {"pixels": pixels, "features": basis.transform(x).double().numpy()}


def release_function(method: str, epsilon: float, inputs: dict[str, np.ndarray], basis: Eigenfaces,
                     sensitivity: Sensitivity, source: NoiseSource, *, p: float = 0.02, levels: int = 3,
                     block: int = 16, m: int = 16, batch: int = 500):
    """``release(which, n)`` -> views of n releases of ``inputs[which]`` (8-bit chips (H, W, C)) under a method."""
    def release(which: str, n: int) -> Views:
        chip = inputs[which]
        out = []
        for start in range(0, n, batch):
            k = min(batch, n - start)
            if method == "dp-pix":
                out.append(dp_pixelize(np.repeat(chip[None], k, 0), PixelizationConfig(epsilon, block, m), source))
            else:
                x = torch.from_numpy(chip).permute(2, 0, 1)[None].float().div(255).expand(k, -1, -1, -1)
                config = DPConfig(method, epsilon, p, levels)
                images = protect_dp(x, basis, sensitivity, config, generator=source.generator,
                                    secure=source.secure).images
                out.append((images * 255).round().byte().permute(0, 2, 3, 1).numpy())
        return _views(np.concatenate(out), basis)
    return release


def audit_chips(method: str, epsilon: float, chips: tuple[np.ndarray, np.ndarray], basis: Eigenfaces,
                sensitivity: Sensitivity, *, releases: int = 1000, delta: float = 1e-5, confidence: float = 0.95,
                seed: int | None = 0, p: float = 0.02, levels: int = 3, block: int = 16, m: int = 16) -> AuditResult:
    """Audit ``method`` at ``epsilon`` on two 8-bit chips (H, W, C) of the basis' shape.

    For ``dp-pix`` the two chips are replaced by the m-pixel neighbours of the first
    (:func:`m_pixel_neighbours`); for seed 004's methods they are the two people of Definition 1.
    ``seed`` makes the audit reproducible (None: noise from os.urandom).
    """
    if method not in AUDITED_METHODS:
        raise ValueError(f"method must be one of {', '.join(AUDITED_METHODS)}, got {method!r}")
    if method == "dp-pix":
        a, b = m_pixel_neighbours(chips[0], m)
        neighbours = f"one chip with {m} pixels set to 0 (A) or 255 (B)"
        claimed = PixelizationConfig(epsilon, block, m).effective_epsilon
    else:
        a, b = chips
        neighbours = "two people's chips (seed 004, Definition 1)"
        claimed = epsilon
    source = NoiseSource(seed=seed) if seed is not None else NoiseSource(secure=True)
    release = release_function(method, epsilon, {"A": a, "B": b}, basis, sensitivity, source, p=p, levels=levels,
                               block=block, m=m)
    return audit(release, (_views(a[None], basis), _views(b[None], basis)), mechanism=method,
                 claimed_epsilon=claimed, neighbours=neighbours, releases=releases, delta=delta,
                 confidence=confidence)
