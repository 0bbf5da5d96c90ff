"""Privacy budget of RDP and the allocation of the Laplace scales b_k (seed 004, Secs. IV-B and IV-C).

Notation: w (M_F, M_P) are the weights against the *ranked* coefficients, b (M_P,) the Laplace scales,
Delta (M_F,) the sensitivities, pi_k = P(K >= k) the probability that the k-th ranked coefficient is
noised. The PDF text of the seed garbles the formulas; they are reconstructed here from the derivations
around them.

* Noise scale of feature i, matching variances (proof of Theorem 1, Sec. IV-B):
  ``Var[zeta_i] = 2 sum_k (w_ik b_k)^2 pi_k`` equated with the variance ``2 (Delta_i / eps_i)^2`` of
  Laplace(0, Delta_i / eps_i) gives ``eps_i(b) = Delta_i / s_i(b)``, ``s_i = sqrt(sum_k (w_ik b_k)^2 pi_k)``,
  and the total budget ``eps(b) = sum_i eps_i(b)`` (Eq. 3).
* The seed writes ``pi_k = (1 - p)^k - (1 - p)^(M_P + 1)``: the sum of the pmf ``p (1 - p)^K`` over
  k <= K <= M_P, a geometric law on {0, 1, ...} with K = 0 and K > M_P dropped. faceveil samples
  K = min(G, M_P), G ~ Geo(p) on {1, 2, ...} (Definition 4: K >= 1, mean 1/p), whose exact inclusion
  probabilities are ``pi_k = (1 - p)^(k - 1)``: the seed's values times (1 - p), up to the negligible
  (1 - p)^M_P terms.
* Image cost (Definition 5, Eq. 4): ``f(b) = sum_k b_k^2 pi_k``, half the expected squared error of
  the noisy image (the Haar transform is orthonormal).
* eps(b) is homogeneous of degree -1: ``eps(c b) = eps(b) / c``. So any profile of scales meets the
  budget exactly after one rescaling, ``b <- b eps(b) / eps_0`` (:func:`meet_budget`); faceveil uses it
  for every allocation, which makes ``sum_i eps_i = eps_0`` hold to rounding error.

Allocations (all return b (M_P,) float64):

* :func:`uniform_scales` (RDP of Definition 4, Pixel-DP, DCT-DP): one scale b_W for all coefficients,
  ``b_W = sum_i Delta_i / sqrt(sum_k w_ik^2 pi_k) / eps_0``.
* :func:`na_scales` (RDP-NA, Sec. IV-C1): ``b_k = sum_i (Delta_i / |w_ik|) / (eps_0 sqrt(sum_k pi_k))``,
  from Eq. (5) with every weighted scale w_ik b_k replaced by one average. The closed form does not
  meet the budget (it assumes what it approximates), so it is followed by :func:`meet_budget`.
* :func:`lmgd_scales` (RDP-LMGD, Sec. IV-C2): iterative solution of the Lagrange conditions (Eq. 5).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from ..._checks import check_int, check_open_unit, check_positive


def inclusion_probabilities(p: float, n: int) -> torch.Tensor:
    """pi_k = P(K >= k) = (1 - p)^(k - 1), k = 1..n, for K = min(Geo(p), M_P) with n <= M_P (float64)."""
    check_open_unit(p, "p")
    return torch.exp(torch.arange(n, dtype=torch.float64) * math.log1p(-p))


def _check_problem(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float | None) -> None:
    check_open_unit(p, "p")
    if epsilon0 is not None:
        check_positive(epsilon0, "epsilon0")
    if weights.ndim != 2 or sensitivity.shape != (weights.shape[0],):
        raise ValueError(f"expected weights (M_F, M_P) and sensitivity (M_F,), got {tuple(weights.shape)} "
                         f"and {tuple(sensitivity.shape)}")
    if not (torch.isfinite(weights).all() and (sensitivity > 0).all() and torch.isfinite(sensitivity).all()):
        raise ValueError("weights must be finite and sensitivities finite and > 0")


def feature_noise_scales(weights: torch.Tensor, scales: torch.Tensor, p: float) -> torch.Tensor:
    """s_i = sqrt(sum_k (w_ik b_k)^2 pi_k) (M_F,): the scale of Laplace(0, s_i) that has the variance of
    zeta_i = sum_k w_ik xi_k (proof of Theorem 1)."""
    pi = inclusion_probabilities(p, weights.shape[1])
    return torch.sqrt(weights.double().pow(2) @ (scales.double().pow(2) * pi))


def feature_epsilons(weights: torch.Tensor, scales: torch.Tensor, sensitivity: torch.Tensor, p: float) -> torch.Tensor:
    """eps_i(b) = Delta_i / s_i(b) (M_F,), the per-feature budgets whose sum is Eq. (3)."""
    _check_problem(weights, sensitivity, p, None)
    return sensitivity.double() / feature_noise_scales(weights, scales, p)


def image_cost(scales: torch.Tensor, p: float) -> float:
    """f(b) = sum_k b_k^2 pi_k (Eq. 4): half the expected squared error the noise adds to the image."""
    return float((scales.double().pow(2) * inclusion_probabilities(p, scales.numel())).sum())


def meet_budget(weights: torch.Tensor, scales: torch.Tensor, sensitivity: torch.Tensor, p: float,
                epsilon0: float) -> torch.Tensor:
    """Rescale b so that eps(b) = eps_0 exactly (eps is homogeneous of degree -1 in b)."""
    total = float(feature_epsilons(weights, scales, sensitivity, p).sum())
    if not math.isfinite(total) or total <= 0:
        raise ValueError("these scales give no noise to some feature (a feature the noised coefficients "
                         "cannot move has an infinite budget)")
    return scales.double() * (total / epsilon0)


def uniform_scales(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float) -> torch.Tensor:
    """One scale b_W for every coefficient, chosen so that eps(b) = eps_0 (RDP, Pixel-DP, DCT-DP)."""
    _check_problem(weights, sensitivity, p, epsilon0)
    return meet_budget(weights, torch.ones(weights.shape[1], dtype=torch.float64), sensitivity, p, epsilon0)


def na_scales(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float,
              zero_weight: float = 1e-6) -> torch.Tensor:
    """RDP-NA (Sec. IV-C1): b_k proportional to ``sum_i Delta_i / |w_ik|``, then rescaled to eps_0.

    A weight below ``zero_weight`` times the largest |w| is treated as zero: that coefficient does not
    move feature i, so the term is left out (the closed form would give it an infinite scale); a
    coefficient that moves no feature gets b_k = 0.
    """
    _check_problem(weights, sensitivity, p, epsilon0)
    magnitude = weights.double().abs()
    moves = magnitude > zero_weight * magnitude.max()
    terms = torch.where(moves, sensitivity.double()[:, None] / magnitude.clamp_min(1e-300), 0.0)
    pi = inclusion_probabilities(p, weights.shape[1])
    closed_form = terms.sum(0) / (epsilon0 * math.sqrt(float(pi.sum())))
    return meet_budget(weights, closed_form, sensitivity, p, epsilon0)


@dataclass(frozen=True)
class LMGDReport:
    """How :func:`lmgd_scales` ended: ``iterations`` run, ``converged`` (F < tolerance), the final error
    ``F = F1 + F2`` with ``F1 = |eps(b) / eps_0 - 1|`` and ``F2`` the noise-weighted mean of the
    Lagrange residuals ``|lambda g_k / 2 - 1|`` (Eq. 5), and the image cost f(b) at the start and end."""

    iterations: int
    converged: bool
    error: float
    budget_residual: float
    lagrange_residual: float
    step: float
    tolerance: float
    initial_cost: float
    final_cost: float

    def to_dict(self) -> dict:
        return asdict(self)


def lmgd_scales(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float, step: float = 0.1,
                tolerance: float = 1e-3, max_iterations: int = 5000,
                initial: torch.Tensor | None = None) -> tuple[torch.Tensor, LMGDReport]:
    """RDP-LMGD (Sec. IV-C2): gradient descent on the Lagrange conditions of min f(b) s.t. eps(b) = eps_0.

    With u_k = b_k^2 pi_k the problem is ``min sum_k u_k`` s.t. ``sum_i Delta_i (sum_k w_ik^2 u_k)^(-1/2)
    = eps_0`` and Eq. (5) reads ``lambda g_k = 2`` for every noised k, ``g_k = sum_i Delta_i w_ik^2 / s_i^3``.
    Each iteration (the seed's Steps 1-3, reformulated so that one step size fits every image):

    1. lambda-update: lambda = 2 f(b) / eps(b), the exact minimiser of the noise-weighted residual
       (at a solution ``sum_k u_k g_k = eps``, so this is where the seed's gradient steps on lambda lead);
    2. b-update: a gradient step on the Lagrangian in log u (exponentiated gradient, which keeps b > 0):
       ``log u_k += step * (lambda g_k / 2 - 1)``, with the exponent clipped to [-1, 1];
    3. projection on the constraint with :func:`meet_budget` (the seed's F1 step, solved exactly).

    Stops when F = F1 + F2 < ``tolerance`` or after ``max_iterations``; starts from RDP-NA unless
    ``initial`` scales are given. Coefficients with b_k = 0 stay at 0.

    Args:
        step: the step size eta, in [0.01, 0.1] as in the seed's experiments.
    """
    _check_problem(weights, sensitivity, p, epsilon0)
    if not 0.01 <= step <= 0.1:
        raise ValueError(f"step must lie in [0.01, 0.1] (seed 004, Sec. VII-A), got {step!r}")
    check_positive(tolerance, "tolerance")
    check_int(max_iterations, "max_iterations", 1)
    pi = inclusion_probabilities(p, weights.shape[1])
    b = na_scales(weights, sensitivity, p, epsilon0) if initial is None else meet_budget(
        weights, initial.double(), sensitivity, p, epsilon0)
    # zero scales stay zero, and where pi underflows K never reaches: both drop out of the iteration
    live = (pi > 0) & (b > 0)
    squared = weights.double()[:, live].pow(2)
    delta = sensitivity.double()
    u = b[live].pow(2) * pi[live]
    initial_cost = float(u.sum())
    s = torch.sqrt(squared @ u)
    for iteration in range(1, max_iterations + 1):
        epsilon = float((delta / s).sum())
        g = (delta / s.pow(3)) @ squared
        lam = 2 * float(u.sum()) / epsilon
        residual = lam * g / 2 - 1
        budget_residual = abs(epsilon / epsilon0 - 1)
        lagrange_residual = float((u * residual.abs()).sum() / u.sum())
        error = budget_residual + lagrange_residual
        if error < tolerance or iteration == max_iterations:
            break
        u = u * torch.exp((step * residual).clamp(-1.0, 1.0))
        s = torch.sqrt(squared @ u)
        rescale = (float((delta / s).sum()) / epsilon0) ** 2  # eps is homogeneous of degree -1/2 in u
        u, s = u * rescale, s * math.sqrt(rescale)
    b = torch.zeros_like(b)
    b[live] = torch.sqrt(u / pi[live])
    report = LMGDReport(iteration, error < tolerance, error, budget_residual, lagrange_residual, step, tolerance,
                        initial_cost, float(u.sum()))
    return b, report
