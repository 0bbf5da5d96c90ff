"""The weights w_ik = dF_i / dC*_k of seed 004 (Sec. IV-A, Eq. 2 and Theorem 1) and the ranking C -> C*.

Seed 004 linearises the feature vector F of the noisy image around the clean one (first-order Taylor
expansion, Eq. 2): ``F'_i = F_i + sum_k w_ik xi_k`` where ``xi_k`` is the noise added to the k-th ranked
coefficient. Two ways to get w (natural coefficient order, (M_F, M_P) per image):

* :func:`coefficient_jacobian`: any differentiable feature callable F (N, C, H, W) -> (N, M_F) (a face
  recognition network, a fixed warp followed by eigenfaces, ...) by ``torch.autograd`` through the
  domain's inverse transform: the Jacobian of ``C -> F(inverse(C))`` at the image's coefficients.
* :func:`eigenface_weights`: the closed form for eigenfaces, which are linear: w = the eigenfaces mapped
  into the coefficient domain (``Domain.pullback``), the same for every image; the per-image part is
  only the ranking.

:func:`rank_order` gives the ranking: Algorithm 1 (line 3) sorts the coefficients by magnitude;
Definition 4 speaks of ranking "by the corresponding weights", offered as ``rank_by="weight"``.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..._checks import check_images
from .domains import Domain
from .eigenfaces import Eigenfaces

RANKINGS = ("magnitude", "weight")

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


def coefficient_jacobian(images: torch.Tensor, features: FeatureFn, domain: Domain) -> torch.Tensor:
    """w = dF/dC for each image by autograd: (N, M_F, M_P), coefficients in the domain's natural order.

    ``features`` must treat the images of a batch independently (e.g. a network in eval mode): the
    Jacobian of each image is read from one vectorised backward pass over the batch
    (``is_grads_batched``, M_F gradient rows at once).

    Args:
        images: (N, C, H, W) in [0, 1].
        features: callable (N, C, H, W) -> (N, M_F), differentiable.
        domain: where the coefficients live (:mod:`faceveil.protect.dp.domains`).
    """
    check_images(images)
    shape = tuple(images.shape[1:])
    coefficients = domain.forward(images).detach().requires_grad_(True)
    out = features(domain.inverse(coefficients, shape))
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != images.shape[0]:
        raise ValueError(f"features must map (N, C, H, W) to (N, M_F), got {tuple(getattr(out, 'shape', ()))} "
                         f"for N = {images.shape[0]}")
    if not out.requires_grad:
        raise ValueError("features must be differentiable with respect to the image (its output has no gradient)")
    n_features = out.shape[1]
    rows = torch.eye(n_features, dtype=out.dtype)[:, None, :].expand(n_features, *out.shape)
    (grad,) = torch.autograd.grad(out, coefficients, grad_outputs=rows, is_grads_batched=True)
    return grad.transpose(0, 1).detach()


def eigenface_weights(eigenfaces: Eigenfaces, domain: Domain, n_features: int | None = None) -> torch.Tensor:
    """Closed form w = dF/dC (M_F, M_P) for eigenface features of images of the fitted shape.

    F(P) = U^T (P - mean) and P = crop(T^T C), so dF/dC = T(pad0(U)): the first M_F eigenfaces
    (as images) through the domain's forward transform after zero padding, in one batched call.
    """
    return domain.pullback(eigenfaces.pixel_weights(n_features))


def rank_order(coefficients: torch.Tensor, weights: torch.Tensor, rank_by: str = "magnitude") -> torch.Tensor:
    """The permutation C -> C* (M_P,) for one image: ``C*_k = C[order[k]]``, ``w*_ik = w[i, order[k]]``.

    Args:
        coefficients: (M_P,) the image's coefficients C.
        weights: (M_F, M_P) w in natural order.
        rank_by: ``"magnitude"`` (|C_k| decreasing, Algorithm 1 line 3) or ``"weight"`` (the
            coefficient's total squared weight ``sum_i w_ik**2`` decreasing, a reading of Definition 4).
            Ties keep the natural order (stable sort).
    """
    if rank_by not in RANKINGS:
        raise ValueError(f"rank_by must be one of {RANKINGS}, got {rank_by!r}")
    if coefficients.ndim != 1 or weights.ndim != 2 or weights.shape[1] != coefficients.shape[0]:
        raise ValueError(f"expected coefficients (M_P,) and weights (M_F, M_P), got {tuple(coefficients.shape)} "
                         f"and {tuple(weights.shape)}")
    key = coefficients.abs() if rank_by == "magnitude" else weights.pow(2).sum(0)
    return torch.sort(key, descending=True, stable=True).indices
