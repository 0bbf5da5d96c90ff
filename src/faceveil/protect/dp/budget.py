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
  budget exactly after one rescaling, ``b <- b eps(b) / eps_0``; faceveil uses it for every allocation
  (:func:`uniform_allocation`, :func:`profile_allocation`; LMGD's projection step), which makes
  ``sum_i eps_i = eps_0`` hold to rounding error.

The release (:func:`~faceveil.protect.dp.methods.release`) works in *natural* coefficient order for a
whole batch: P (N, M) holds each coefficient's pi of its rank in each image, and every sum over ranks
becomes a matrix product with P (:func:`uniform_allocation`, :func:`profile_allocation`,
:func:`allocation_epsilons`; LMGD needs no ranking at all, :func:`lmgd_solve`). The ranked forms below are
the same functions with P = pi.

Allocations (all return b (M_P,) float64):

* :func:`uniform_scales` (RDP of Definition 4, Pixel-DP, DCT-DP): one scale b_W for all coefficients,
  ``b_W = sum_i Delta_i / sqrt(sum_k w_ik^2 pi_k) / eps_0``.
* :func:`na_scales` (RDP-NA, Sec. IV-C1): ``b_k = sum_i (Delta_i / |w_ik|) / (eps_0 sqrt(sum_k pi_k))``,
  from Eq. (5) with every weighted scale w_ik b_k replaced by one average. The closed form does not
  meet the budget (it assumes what it approximates), so it is rescaled as above.
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


def rank_horizon(p: float) -> int:
    """The number of ranks k with pi_k > 0 in float64 (about 745 / -ln(1 - p): 36,900 for p = 0.02).

    Beyond it pi_k is exactly 0.0, so the ranks of a larger coefficient vector past the horizon change
    no sum of the accounting and never receive noise (K ~ Geo(p) sampled from 53-bit uniforms stays below
    54 ln 2 / -ln(1 - p)); only the top ranks have to be found."""
    check_open_unit(p, "p")
    return int(math.floor(-1074 * math.log(2) / math.log1p(-p))) + 1


def _check_problem(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float | None) -> None:
    check_open_unit(p, "p")
    if epsilon0 is not None:
        check_positive(epsilon0, "epsilon0")
    if weights.ndim != 2 or sensitivity.shape != (weights.shape[0],):
        raise ValueError(f"expected weights (M_F, M_P) and sensitivity (M_F,), got {tuple(weights.shape)} "
                         f"and {tuple(sensitivity.shape)}")
    if not (torch.isfinite(weights).all() and (sensitivity > 0).all() and torch.isfinite(sensitivity).all()):
        raise ValueError("weights must be finite and sensitivities finite and > 0")


def _as_rows(inclusion: torch.Tensor) -> torch.Tensor:
    return inclusion.double().reshape(-1, inclusion.shape[-1])


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


def _budget_factor(total: torch.Tensor, epsilon0: float) -> torch.Tensor:
    """total / eps_0, refusing budgets that are not finite and > 0 or factors that overflow."""
    if not (torch.isfinite(total).all() and (total > 0).all()):
        raise ValueError("these scales give no noise to some feature (a feature the noised coefficients "
                         "cannot move has an infinite budget)")
    factor = total / epsilon0
    if not torch.isfinite(factor).all():
        raise ValueError(f"epsilon0 = {epsilon0!r} is so small that the Laplace scales overflow float64")
    return factor


def na_profile(squared_weights: torch.Tensor, sensitivity: torch.Tensor, zero_weight: float = 1e-6) -> torch.Tensor:
    """RDP-NA's shape a_c = sum_i Delta_i / |w_ic| (M,) in natural coefficient order (Sec. IV-C1).

    A weight below ``zero_weight`` times the largest |w| is treated as zero: that coefficient does not
    move feature i, so the term is left out (the closed form would give it an infinite scale); a
    coefficient that moves no feature gets a_c = 0. It depends on the coefficient, not on its rank."""
    squared = squared_weights.double()
    moves = squared > zero_weight**2 * squared.max()
    return sensitivity.double() @ torch.where(moves, torch.rsqrt(squared.clamp_min(1e-300)), 0.0)


def uniform_allocation(squared_weights: torch.Tensor, sensitivity: torch.Tensor, inclusion: torch.Tensor,
                       epsilon0: float) -> torch.Tensor:
    """RDP's one scale b_W per image (N,), ``b_W = sum_i Delta_i / sqrt(sum_c w_ic^2 P_c) / eps_0``.

    Args:
        squared_weights: w^2 (M_F, M) in natural coefficient order; inclusion: P (N, M), the probability
            that each coefficient is noised (pi of its rank) in each image.
    """
    s = torch.sqrt(_as_rows(inclusion) @ squared_weights.double().T)
    return _budget_factor((sensitivity.double() / s).sum(1), epsilon0)


def profile_allocation(profile: torch.Tensor, squared_weights: torch.Tensor, sensitivity: torch.Tensor,
                       inclusion: torch.Tensor, epsilon0: float) -> torch.Tensor:
    """Scales b = a t_n (N, M) proportional to a per-coefficient ``profile`` a (M,), rescaled per image so
    that eps(b) = eps_0 (RDP-NA with :func:`na_profile`)."""
    a2 = profile.double().pow(2)
    s = torch.sqrt((_as_rows(inclusion) * a2) @ squared_weights.double().T)
    t = _budget_factor((sensitivity.double() / s).sum(1), epsilon0)
    return profile.double()[None, :] * t[:, None]


def allocation_epsilons(squared_weights: torch.Tensor, noise_variance: torch.Tensor,
                        sensitivity: torch.Tensor) -> torch.Tensor:
    """eps_i = Delta_i / sqrt(sum_c w_ic^2 u_c) (N, M_F) for u = b^2 P (N, M), natural order (Eq. 3's terms)."""
    return sensitivity.double() / torch.sqrt(_as_rows(noise_variance) @ squared_weights.double().T)


def uniform_scales(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float) -> torch.Tensor:
    """One scale b_W for every coefficient, chosen so that eps(b) = eps_0 (RDP, Pixel-DP, DCT-DP);
    weights against the ranked coefficients (M_F, M_P), scales (M_P,)."""
    _check_problem(weights, sensitivity, p, epsilon0)
    pi = inclusion_probabilities(p, weights.shape[1])
    return uniform_allocation(weights.double().pow(2), sensitivity, pi, epsilon0).expand(weights.shape[1]).clone()


def na_scales(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float,
              zero_weight: float = 1e-6) -> torch.Tensor:
    """RDP-NA (Sec. IV-C1) against the ranked coefficients: b_k proportional to ``sum_i Delta_i / |w_ik|``
    (:func:`na_profile`), then rescaled to eps_0 (the closed form's constant does not meet the budget,
    it assumes what it approximates)."""
    _check_problem(weights, sensitivity, p, epsilon0)
    squared = weights.double().pow(2)
    pi = inclusion_probabilities(p, weights.shape[1])
    return profile_allocation(na_profile(squared, sensitivity, zero_weight), squared, sensitivity, pi, epsilon0)[0]


@dataclass(frozen=True)
class LMGDReport:
    """How :func:`lmgd_solve` ended: ``iterations`` run, ``converged`` (F < tolerance), the final error
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

    def rescaled(self, factor: float) -> LMGDReport:
        """The report of the same solution with every noise variance u times ``factor`` (another eps_0)."""
        return LMGDReport(self.iterations, self.converged, self.error, self.budget_residual, self.lagrange_residual,
                          self.step, self.tolerance, self.initial_cost * factor, self.final_cost * factor)


def _check_lmgd(step: float, tolerance: float, max_iterations: int) -> None:
    if not 0.01 <= step <= 0.1:
        raise ValueError(f"step must lie in [0.01, 0.1] (seed 004, Sec. VII-A), got {step!r}")
    check_positive(tolerance, "tolerance")
    check_int(max_iterations, "max_iterations", 1)


def lmgd_solve(squared_weights: torch.Tensor, sensitivity: torch.Tensor, epsilon0: float, initial: torch.Tensor,
               step: float = 0.1, tolerance: float = 1e-3, max_iterations: int = 5000) -> tuple[torch.Tensor, LMGDReport]:
    """RDP-LMGD (Sec. IV-C2) in the variables u_c = b_c^2 P_c, the noise variance of each coefficient.

    With u the problem is ``min sum_c u_c`` s.t. ``sum_i Delta_i (sum_c w_ic^2 u_c)^(-1/2) = eps_0``, and
    Eq. (5) reads ``lambda g_c = 2`` for every noised c, ``g_c = sum_i Delta_i w_ic^2 / s_i^3``. Neither the
    ranking nor p appears: for weights that do not depend on the image (eigenfaces) one solution serves
    every image, and, since eps is homogeneous of degree -1/2 in u, every eps_0 (u times
    (eps_0 / eps_0')^2). Each iteration (the seed's Steps 1-3, reformulated so that one step size fits
    every problem):

    1. lambda-update: lambda = 2 f / eps, the exact minimiser of the noise-weighted residual
       (at a solution ``sum_c u_c g_c = eps``, so this is where the seed's gradient steps on lambda lead);
    2. u-update: a gradient step on the Lagrangian in log u (exponentiated gradient, which keeps u > 0):
       ``log u_c += step * (lambda g_c / 2 - 1)``, with the exponent clipped to [-1, 1];
    3. projection on the constraint (the seed's F1 step, solved exactly by rescaling).

    Stops when F = F1 + F2 < ``tolerance`` or after ``max_iterations``. Entries of ``initial`` that are 0
    (coefficients that move no feature, or are never noised) stay 0.

    Args:
        squared_weights: w^2 (M_F, M); initial: u at the start (M,), >= 0 (RDP-NA's, for instance).
        step: the step size eta, in [0.01, 0.1] as in the seed's experiments.

    Returns:
        u (M,) float64 meeting eps_0, and the report.
    """
    check_positive(epsilon0, "epsilon0")
    _check_lmgd(step, tolerance, max_iterations)
    live = initial > 0
    squared = squared_weights.double()[:, live]
    delta = sensitivity.double()
    u = initial.double()[live]
    s = torch.sqrt(squared @ u)
    rescale = (float((delta / s).sum()) / epsilon0) ** 2
    if not (math.isfinite(rescale) and rescale > 0):
        raise ValueError(f"no finite noise meets epsilon0 = {epsilon0!r} with these weights")
    u, s = u * rescale, s * math.sqrt(rescale)
    initial_cost = float(u.sum())
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
    out = torch.zeros(initial.shape, dtype=torch.float64)
    out[live] = u
    report = LMGDReport(iteration, error < tolerance, error, budget_residual, lagrange_residual, step, tolerance,
                        initial_cost, float(u.sum()))
    return out, report


def lmgd_scales(weights: torch.Tensor, sensitivity: torch.Tensor, p: float, epsilon0: float, step: float = 0.1,
                tolerance: float = 1e-3, max_iterations: int = 5000,
                initial: torch.Tensor | None = None) -> tuple[torch.Tensor, LMGDReport]:
    """RDP-LMGD against the ranked coefficients (M_F, M_P): :func:`lmgd_solve` with u_k = b_k^2 pi_k,
    starting from RDP-NA (or from ``initial`` scales); returns b (M_P,) and the report. Where pi_k
    underflows K never reaches, and the scale is 0."""
    _check_problem(weights, sensitivity, p, epsilon0)
    _check_lmgd(step, tolerance, max_iterations)
    pi = inclusion_probabilities(p, weights.shape[1])
    b = na_scales(weights, sensitivity, p, epsilon0) if initial is None else initial.double()
    u, report = lmgd_solve(weights.double().pow(2), sensitivity, epsilon0, b.pow(2) * pi, step, tolerance,
                           max_iterations)
    live = u > 0
    scales = torch.zeros_like(u)
    scales[live] = torch.sqrt(u[live] / pi[live])
    return scales, report
