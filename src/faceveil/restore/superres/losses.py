"""Seed 003's losses: the image-content loss (Eq. 1) and the identity-preserved loss (Eqs. 2-3) through a
frozen, differentiable face recogniser F (Eq. 4: L = L_image + lambda L_id)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...data.chips import check_chip_judge, judge_view
from ...recognition.base import Embedder


def differentiable_judge(name: str, device: str = "cpu") -> Embedder:
    """The frozen recogniser F of the identity loss: an embedder with ``forward_with_grad`` that sees dlib's
    chip (padding 0.25), e.g. ``"dlib-torch"`` (the default F) or ``"judge2"``.

    Raises:
        ValueError: the model is not differentiable here, or aligns faces otherwise than the chips.
    """
    from ...recognition.registry import make_embedder

    judge = make_embedder(name, device=device)
    if not hasattr(judge, "forward_with_grad"):
        raise ValueError(f"identity judge {name!r} is not differentiable in faceveil (no forward_with_grad); "
                         "use dlib-torch or an npm model such as judge2")
    check_chip_judge(judge, f"identity judge {name!r}")
    judge.module.eval().requires_grad_(False)
    return judge


def image_loss(sr: torch.Tensor, mr: torch.Tensor) -> torch.Tensor:
    """Eq. 1, L1 between the super-resolved faces ``sr`` and the targets ``mr`` (both (N, C, H, W) in
    [0, 1]), averaged over pixels as in EDSR and the seed's code (the paper writes a per-image sum)."""
    if sr.shape != mr.shape:
        raise ValueError(f"sr {tuple(sr.shape)} and its target {tuple(mr.shape)} differ in shape")
    return (sr - mr).abs().mean()


def identity_features(judge: Embedder, images: torch.Tensor) -> torch.Tensor:
    """F's raw features (N, D) of chips (N, 3, h, w) in [0, 1] of any size, up-sampled to F's input by
    bilinear interpolation (seed 003 Sec. 3: bilinear in training); differentiable."""
    return judge.forward_with_grad(judge_view(images, judge.alignment.size))


def identity_loss(judge: Embedder, sr: torch.Tensor, hr_features: torch.Tensor) -> torch.Tensor:
    """Eqs. 2-3: the mean cosine distance 1 - cos(F(up(SR)), F(HR)); ``hr_features`` (N, D) are F's
    features of the high-resolution faces (computed without gradients)."""
    return (1 - F.cosine_similarity(identity_features(judge, sr), hr_features, dim=1)).mean()
