"""FID (Heusel et al. 2017; seed 002, Eq. 10)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from ..._checks import check_images, check_int
from ..verification import as_embeddings
from ._common import _existing_file

__all__ = ["load_inception", "inception_features", "fid", "fid_from_features"]

_INCEPTION_HELP = (
    "FID needs the TorchScript Inception-v3 feature extractor 'inception-2015-12-05.pt' (the TensorFlow FID "
    "network converted by NVIDIA for StyleGAN2-ADA and used by clean-fid), from "
    "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
)


def load_inception(path: str | Path) -> torch.jit.ScriptModule:
    """Load the TorchScript Inception feature extractor (``inception-2015-12-05.pt``) on the CPU, eval mode.

    Raises ``ValueError`` for ``None`` or an unreadable file and ``FileNotFoundError`` for a missing
    file; both messages say where the file comes from.
    """
    path = _existing_file(path, "fid", _INCEPTION_HELP)
    try:
        return torch.jit.load(str(path), map_location="cpu").eval()
    except Exception as err:  # torch raises several types for non-TorchScript files
        raise ValueError(f"fid: cannot load {path} as a TorchScript module ({err}). {_INCEPTION_HELP}") from err


@torch.no_grad()
def inception_features(images: torch.Tensor, model: torch.jit.ScriptModule, batch_size: int = 50) -> np.ndarray:
    """Pool features (N, D) (D = 2048 for Inception) of images (N, C, H, W) in [0, 1], as float64.

    Images go to the model (on their own device: move the model there) as float values in [0, 255] at
    their own size, grey repeated to RGB, as ``model(batch, return_features=True)``. The StyleGAN2-ADA
    network resizes them to 299 x 299 itself (bilinear), as StyleGAN2-ADA's metrics do; clean-fid's
    own resizing (PIL bicubic before the network) is not reproduced, so values may differ slightly
    from clean-fid's.
    """
    check_images(images, "images")
    check_int(batch_size, "batch_size", 1)
    lo, hi = float(images.min()), float(images.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"images values must lie in [0, 1], got [{lo:.4g}, {hi:.4g}]")
    chunks = []
    for start in range(0, images.shape[0], batch_size):
        batch = images[start : start + batch_size].expand(-1, 3, -1, -1).float() * 255.0
        features = model(batch, return_features=True)
        if not isinstance(features, torch.Tensor) or features.ndim != 2 or features.shape[0] != batch.shape[0]:
            got = tuple(features.shape) if isinstance(features, torch.Tensor) else type(features).__name__
            raise ValueError(f"the feature extractor must return a tensor (batch, D), got {got}")
        chunks.append(features.double().cpu().numpy())
    return np.concatenate(chunks)


def fid_from_features(features1, features2) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (seed 002, Eq. 10).

    ``||m1 - m2||^2 + Tr(C1 + C2 - 2 (C1 C2)^(1/2))`` with the sample means m and unbiased sample
    covariances C (``numpy.cov``), in float64, as pytorch-fid: the matrix square root is
    ``scipy.linalg.sqrtm``; when it is not finite (singular product) 1e-6 is added to both
    diagonals, and a numerically complex result keeps its real part.

    Args:
        features1: (N, D) features, N >= 2 (anything ``numpy.asarray`` accepts, tensors included).
        features2: (M, D) features, M >= 2.

    Returns:
        The distance (>= 0 up to rounding), a float.
    """
    f1 = as_embeddings(_as_numpy(features1), "features1")
    f2 = as_embeddings(_as_numpy(features2), "features2")
    if f1.shape[1] != f2.shape[1]:
        raise ValueError(f"features1 and features2 must have the same dimension D, got {f1.shape[1]} and {f2.shape[1]}")
    for name, f in (("features1", f1), ("features2", f2)):
        if f.shape[0] < 2:
            raise ValueError(f"{name} needs at least 2 rows to estimate a covariance, got {f.shape[0]}")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    cov1, cov2 = np.atleast_2d(np.cov(f1, rowvar=False)), np.atleast_2d(np.cov(f2, rowvar=False))
    covmean = scipy.linalg.sqrtm(cov1 @ cov2)
    if not np.isfinite(covmean).all():
        offset = np.eye(cov1.shape[0]) * 1e-6
        covmean = scipy.linalg.sqrtm((cov1 + offset) @ (cov2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            largest = np.abs(covmean.imag).max()
            raise ValueError(f"fid: the matrix square root has a large imaginary part ({largest:.3g})")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(covmean))


def _as_numpy(features):
    return features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else features


def fid(
    x: torch.Tensor, y: torch.Tensor, weights: str | Path | torch.jit.ScriptModule | None, batch_size: int = 50
) -> float:
    """Fréchet Inception distance between two image sets (seed 002, Eq. 10; Heusel et al. 2017).

    Args:
        x: (N, C, H, W) images in [0, 1], N >= 2; y: (M, C, H', W') images in [0, 1], M >= 2 (sets
            may differ in size and resolution).
        weights: path of ``inception-2015-12-05.pt`` (see :func:`load_inception`) or the loaded module.
        batch_size: images per forward pass.

    Returns:
        The distance between the sets, a float (meaningful with thousands of images; with fewer than
        2048 the covariances are singular and the value is biased upwards).
    """
    check_images(x, "x")
    check_images(y, "y")
    model = weights if isinstance(weights, torch.jit.ScriptModule) else load_inception(weights)
    return fid_from_features(inception_features(x, model, batch_size), inception_features(y, model, batch_size))
