"""Empirical checks of seed 004's Theorem 1: is the feature noise zeta_i Laplace(0, Delta_i / eps_i)?

Theorem 1 claims ``zeta_i = sum_{k <= K} w_ik xi_k`` (xi_k ~ Laplace(0, b_k), K ~ Geo(p)) is exactly
Laplace, and the budget eps_i(b) = Delta_i / s_i(b) is derived by matching its variance (see
:mod:`faceveil.protect.dp.budget`), so the claimed law is Laplace(0, s_i(b)). It is exact when every
w_ik b_k (k = 1, 2, ...) is the same and K is not truncated: a geometric sum of i.i.d. Laplace variables
is Laplace (characteristic function ``p / (p + b^2 t^2)``, Toda 2011, the "geometric superposition"
the seed cites). Otherwise zeta_i is a mixture of sums of Laplace variables with different scales,
which is not Laplace; only its variance matches. :func:`theorem1_ks` measures how far it is.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
from scipy import stats

from ..._checks import check_int
from .budget import feature_noise_scales
from .noise import NoiseSource, geometric_counts, laplace_noise


def sample_feature_noise(weights: torch.Tensor, scales: torch.Tensor, p: float, n_samples: int,
                         source: NoiseSource) -> torch.Tensor:
    """``n_samples`` draws of zeta = (sum_{k <= K} w_ik xi_k)_i, the linearised feature noise of RDP.

    Args:
        weights: (M_F, M_P) against the ranked coefficients; scales: (M_P,) the b_k.

    Returns:
        (n_samples, M_F) float64.
    """
    check_int(n_samples, "n_samples", 1)
    counts = torch.from_numpy(geometric_counts(p, weights.shape[1], n_samples, source))
    top = int(counts.max())
    xi = laplace_noise(scales.double()[:top].expand(n_samples, top).contiguous(), source)
    xi = xi * (torch.arange(top)[None, :] < counts[:, None])
    return xi @ weights.double()[:, :top].T


class KSResult(NamedTuple):
    """Kolmogorov-Smirnov statistics (M_F,) of zeta_i against Laplace(0, Delta_i / eps_i), their
    p-values (M_F,) and the Laplace scales tested (M_F,)."""

    statistics: torch.Tensor
    pvalues: torch.Tensor
    laplace_scales: torch.Tensor


def laplace_cdf(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """CDF of Laplace(0, scale), elementwise (broadcasting)."""
    return torch.where(x < 0, 0.5 * torch.exp(x / scale), 1 - 0.5 * torch.exp(-x / scale))


def theorem1_ks(weights: torch.Tensor, scales: torch.Tensor, p: float, n_samples: int = 10000,
                seed: int = 0) -> KSResult:
    """One-sample KS test of each zeta_i against Theorem 1's Laplace(0, Delta_i / eps_i(b)) = Laplace(0, s_i(b)).

    Args:
        weights: (M_F, M_P) against the ranked coefficients; scales: (M_P,) the b_k; p: as in the mechanism.
        n_samples: draws of zeta; seed: for the draws.
    """
    zeta = sample_feature_noise(weights, scales, p, n_samples, NoiseSource(seed=seed))
    s = feature_noise_scales(weights, scales, p)
    ordered = zeta.sort(0).values
    cdf = laplace_cdf(ordered, s[None, :])
    ranks = torch.arange(1, n_samples + 1, dtype=torch.float64)[:, None]
    statistic = torch.maximum(ranks / n_samples - cdf, cdf - (ranks - 1) / n_samples).max(0).values
    pvalues = torch.from_numpy(np.asarray(stats.kstwo.sf(statistic.numpy(), n_samples), dtype=np.float64))
    return KSResult(statistic, pvalues, s)
