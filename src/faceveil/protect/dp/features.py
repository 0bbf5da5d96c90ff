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
Definition 4 speaks of ranking "by the corresponding weights", offered as ``rank_by="weight"``
(a weight key).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
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


def rank_order(coefficients: torch.Tensor, weight_key: torch.Tensor | None = None,
               horizon: int | None = None) -> torch.Tensor:
    """The permutation C -> C* of each image: ``C*_k = C[order[k]]``, ``w*_ik = w[i, order[k]]``.

    Args:
        coefficients: (M_P,) one image's coefficients C, or (N, M_P) a batch's.
        weight_key: None ranks by |C_k| decreasing (Algorithm 1, line 3); a key (M_P,), the coefficients'
            total squared weights ``sum_i w_ik**2``, ranks by it, decreasing (a reading of Definition 4; one
            order for every image).
        horizon: R, how many top ranks to return (default all M_P).

    Returns:
        (R,) or (N, R) int64 indices. A full ranking breaks ties by the natural index (what a stable sort
        does), at float32 resolution of |C|: the magnitude's bits and the index are packed into one int64
        key and sorted as values, 10x faster than a stable argsort. A partial one (R < M_P) is a ``topk``
        in chunks of 4 M values (a 12-megapixel photo has 36 M coefficients).
    """
    single = coefficients.ndim == 1
    rows = coefficients[None] if single else coefficients
    if rows.ndim != 2 or (weight_key is not None and weight_key.shape != (rows.shape[1],)):
        raise ValueError(f"expected coefficients (M_P,) or (N, M_P) and a weight key (M_P,), got "
                         f"{tuple(coefficients.shape)} and {None if weight_key is None else tuple(weight_key.shape)}")
    horizon = rows.shape[1] if horizon is None else min(horizon, rows.shape[1])
    if weight_key is not None:
        order = torch.sort(weight_key, descending=True, stable=True).indices[:horizon]
        order = order[None, :].expand(rows.shape[0], -1)
    elif horizon < rows.shape[1]:
        order = _chunked_topk(rows, horizon)
    else:
        bits = rows.abs().float().numpy().view(np.uint32).astype(np.int64)  # order-preserving for floats >= 0
        index = np.arange(rows.shape[1], dtype=np.int64)
        keys = np.sort(((np.int64(0xFFFFFFFF) - bits) << 31) | index[None, :], axis=1)
        order = torch.from_numpy(keys & np.int64(2**31 - 1))
    return order[0] if single else order


def _chunked_topk(rows: torch.Tensor, k: int, chunk: int = 2**22) -> torch.Tensor:
    """Indices (N, k) of the k largest |C| of each row, sorted: each chunk's top k, then the top k of those."""
    out = []
    for row in rows:
        candidates, positions = [], []
        for start in range(0, row.numel(), chunk):
            part = row[start: start + chunk].abs()
            top = torch.topk(part, min(k, part.numel()), sorted=False)
            candidates.append(top.values)
            positions.append(top.indices + start)
        values, where = torch.cat(candidates), torch.cat(positions)
        out.append(where[torch.topk(values, k, sorted=True).indices])
    return torch.stack(out)
