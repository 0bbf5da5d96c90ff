"""Differential-privacy mechanisms for face images at one total budget eps_0 (seed 004, Algorithm 1).

| method     | domain (noise added to)              | Laplace scales                                |
|------------|--------------------------------------|-----------------------------------------------|
| ``rdp``      | Haar wavelet coefficients          | one scale b_W (Definition 4)                  |
| ``rdp-na``   | Haar wavelet coefficients          | Normalization Approximation (Sec. IV-C1)      |
| ``rdp-lmgd`` | Haar wavelet coefficients          | Lagrange-multiplier gradient descent (IV-C2)  |
| ``pixel``    | pixels                             | one scale (Pixel-DP, Sec. VII-A)              |
| ``dct``      | orthonormal 2-D DCT coefficients   | one scale (DCT-DP as compared in Sec. VII-A)  |

For each image (Algorithm 1): transform (line 1-2), rank the coefficients (line 3), weights
w_ik = dF_i/dC*_k (lines 4-8), scales b_k (lines 9-11), K ~ Geo(p) truncated to [1, M_P] (line 12),
Laplace noise on the top K ranked coefficients (lines 13-21), inverse transform (lines 22-23). Every
image comes with a :class:`DPAccount`. What the budget does and does not guarantee: docs/dp.md.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

import torch

from ..._checks import check_int, check_open_unit, check_positive, stack_images
from .domains import Domain, make_domain
from .budget import (allocation_epsilons, inclusion_probabilities, lmgd_solve, na_profile, profile_allocation,
                     rank_horizon, uniform_allocation)
from .features import RANKINGS, FeatureFn, coefficient_jacobian, eigenface_weights, rank_order
from .noise import NoiseSource, geometric_counts, laplace_noise, snapped_laplace
from .sensitivity import Sensitivity
from .eigenfaces import Eigenfaces

#: method -> (domain, scale allocation)
METHODS = {
    "rdp": ("haar", "uniform"),
    "rdp-na": ("haar", "na"),
    "rdp-lmgd": ("haar", "lmgd"),
    "pixel": ("pixel", "uniform"),
    "dct": ("dct", "uniform"),
}


@dataclass(frozen=True)
class DPConfig:
    """The settings of a DP mechanism (validated on creation; recorded in every account).

    Attributes:
        method: one of :data:`METHODS`.
        epsilon0: total privacy budget eps_0 of the feature vector, finite and > 0.
        p: parameter of the geometric number K (mean 1/p), in (0, 1); the seed uses 0.02.
        levels: Haar decomposition levels (RDP methods).
        rank_by: ``"magnitude"`` (Algorithm 1) or ``"weight"`` (see :func:`~faceveil.protect.dp.features.rank_order`).
        snap: add the noise with Mironov's snapping mechanism (see :mod:`faceveil.protect.dp.noise`).
        lmgd_step, lmgd_tolerance, lmgd_max_iterations: RDP-LMGD's eta, delta and iteration cap.
    """

    method: str = "rdp-lmgd"
    epsilon0: float = 1.0
    p: float = 0.02
    levels: int = 3
    rank_by: str = "magnitude"
    snap: bool = False
    lmgd_step: float = 0.1
    lmgd_tolerance: float = 1e-3
    lmgd_max_iterations: int = 5000

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        # plain floats (a NumPy float32 would not serialise into the account)
        object.__setattr__(self, "epsilon0", check_positive(self.epsilon0, "epsilon0"))
        object.__setattr__(self, "p", check_open_unit(self.p, "p"))
        check_int(self.levels, "levels", 1)
        if self.rank_by not in RANKINGS:
            raise ValueError(f"rank_by must be one of {RANKINGS}, got {self.rank_by!r}")
        if not 0.01 <= self.lmgd_step <= 0.1:
            raise ValueError(f"lmgd_step must lie in [0.01, 0.1] (seed 004, Sec. VII-A), got {self.lmgd_step!r}")
        check_positive(self.lmgd_tolerance, "lmgd_tolerance")
        check_int(self.lmgd_max_iterations, "lmgd_max_iterations", 1)

    def domain(self) -> Domain:
        return make_domain(METHODS[self.method][0], self.levels)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DPAccount:
    """The privacy accounting of one protected image (JSON-serialisable with :meth:`to_dict`).

    Attributes:
        config: the :class:`DPConfig` as a dict (eps_0, p, method, ...); domain: the domain's key.
        n_coefficients: M_P; n_features: M_F; K: the number of noised coefficients drawn.
        coefficients: natural-order indices (into the flattened coefficient array) of the K noised
            coefficients, in rank order.
        scales: b_1..b_K, the Laplace scales used on them.
        feature_epsilons: eps_i for i = 1..M_F; their sum is eps_0 (Eq. 3).
        sensitivity: the Delta_i used and where they come from.
        noise: the random source (never the seed) and whether noise was snapped.
        solver: RDP-LMGD's :class:`LMGDReport` as a dict, else None.
        expected_image_cost: f(b) = sum_k b_k^2 pi_k (Eq. 4) over all M_P scales: half the expected
            squared error added to the image.
    """

    config: dict
    domain: str
    n_coefficients: int
    n_features: int
    K: int
    coefficients: list[int]
    scales: list[float]
    feature_epsilons: list[float]
    sensitivity: dict
    noise: dict
    solver: dict | None = None
    expected_image_cost: float = math.nan

    @property
    def epsilon0(self) -> float:
        return self.config["epsilon0"]

    @property
    def total_epsilon(self) -> float:
        """sum_i eps_i, equal to eps_0 up to rounding."""
        return math.fsum(self.feature_epsilons)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


@dataclass
class DPResult:
    """Protected images (N, C, H, W) float32 (clamped to [0, 1] unless asked otherwise) and one
    :class:`DPAccount` per image."""

    images: torch.Tensor
    accounts: list[DPAccount] = field(default_factory=list)


def _inclusion(order: torch.Tensor, index: torch.Tensor | None, n_weighted: int, p: float) -> torch.Tensor:
    """P (N, M): the probability pi_k = P(K >= k) that each weighted coefficient is noised, k its rank.

    Args:
        order: (N, R) top ranks; index: the sorted natural indices (M,) of the weighted coefficients
            (None: all M_P are weighted, M = M_P).
    """
    pi = inclusion_probabilities(p, order.shape[1]).expand(order.shape[0], -1)
    P = torch.zeros(order.shape[0], n_weighted, dtype=torch.float64)
    if index is None:
        return P.scatter_(1, order, pi)
    local = torch.searchsorted(index, order).clamp_max(n_weighted - 1)
    hit = index[local] == order
    rows = torch.arange(order.shape[0])[:, None].expand_as(order)
    P[rows[hit], local[hit]] = pi[hit]
    return P


_LMGD_SOLUTIONS: dict[tuple, tuple[torch.Tensor, dict]] = {}


def _shared_lmgd(squared: torch.Tensor, delta: torch.Tensor, config: DPConfig) -> tuple[torch.Tensor, dict]:
    """RDP-LMGD's noise variances u (M,) when every coefficient can be noised in every image: one
    solution for all images (the problem has no ranking in it, :func:`lmgd_solve`), solved once per
    weights and settings at eps_0 = 1 and rescaled to the asked eps_0 (cached for the process)."""
    digest = hashlib.sha1(squared.numpy().tobytes() + delta.numpy().tobytes()).hexdigest()
    key = (digest, config.lmgd_step, config.lmgd_tolerance, config.lmgd_max_iterations)
    if key not in _LMGD_SOLUTIONS:
        if len(_LMGD_SOLUTIONS) >= 16:
            _LMGD_SOLUTIONS.pop(next(iter(_LMGD_SOLUTIONS)))
        u, report = lmgd_solve(squared, delta, 1.0, na_profile(squared, delta).pow(2), config.lmgd_step,
                               config.lmgd_tolerance, config.lmgd_max_iterations)
        _LMGD_SOLUTIONS[key] = (u, report)
    u, report = _LMGD_SOLUTIONS[key]
    factor = 1.0 / config.epsilon0**2
    return u * factor, report.rescaled(factor).to_dict()


def _allocate(config: DPConfig, squared: torch.Tensor, delta: torch.Tensor,
              P: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[dict | None]]:
    """Scales b of the weighted coefficients (N, M) in natural order, the scale of every other
    coefficient (N,), the noise variances u = b^2 P (N, M) and RDP-LMGD's reports (one per image, None
    for the other rules). u is returned as computed: b^2 P would overflow where P is subnormal."""
    rule, n = METHODS[config.method][1], P.shape[0]
    outside = torch.zeros(n, dtype=torch.float64)
    if rule in ("uniform", "na"):
        if rule == "uniform":
            outside = uniform_allocation(squared, delta, P, config.epsilon0)
            scales = outside[:, None].expand_as(P)
        else:
            scales = profile_allocation(na_profile(squared, delta), squared, delta, P, config.epsilon0)
        return scales, outside, scales.pow(2) * P, [None] * n
    if bool((P > 0).all()):
        u, report = _shared_lmgd(squared, delta, config)
        scales = torch.sqrt(u)[None, :] / torch.sqrt(P)  # P > 0 everywhere: no zero division
        return scales, outside, u[None, :].expand_as(P), [report] * n
    else:  # some coefficients lie past the rank horizon in some image: one problem per image
        profile = na_profile(squared, delta).pow(2)
        solved = [lmgd_solve(squared, delta, config.epsilon0, profile * (row > 0), config.lmgd_step,
                             config.lmgd_tolerance, config.lmgd_max_iterations) for row in P]
        variances = torch.stack([u for u, _ in solved])
        reports = [r.to_dict() for _, r in solved]
    scales = torch.where(P > 0, torch.sqrt(variances) / torch.sqrt(P), 0.0)  # no overflow for tiny P
    return scales, outside, variances, reports


def release(clean: torch.Tensor, weights: torch.Tensor, sensitivity: Sensitivity, config: DPConfig,
            source: NoiseSource, bound: float, domain_key: str, index: torch.Tensor | None = None,
            order: torch.Tensor | None = None) -> tuple[tuple[torch.Tensor, ...], list[DPAccount]]:
    """Algorithm 1 on a batch of coefficient vectors that share one set of weights, vectorised.

    Args:
        clean: coefficients (N, M_P) (float32 or float64) in the domain's natural order.
        weights: w = dF/dC (M_F, M) of the weighted coefficients, natural order: all M_P of them, or
            the M listed by ``index`` (sorted natural indices; every other coefficient has weight 0,
            e.g. outside the face of a photo).
        bound: B, the largest |coefficient| of a valid image (snapping clamps to [-B, B]).
        order: the images' top ranks (N, R) if the caller has them already (:func:`rank_order`).

    Returns:
        The change (rows (T,), cols (T,), values (T,) float64): what was added to coefficient ``cols[t]`` of
        image ``rows[t]`` (the noise, or snapped minus clean), and one :class:`DPAccount` per image.
    """
    n, m_p = clean.shape
    squared = weights.double().pow(2)
    delta = sensitivity.head(weights.shape[0])
    horizon = min(m_p, rank_horizon(config.p))
    weight_key = None
    if config.rank_by == "weight":
        weight_key = squared.sum(0) if index is None else torch.zeros(m_p, dtype=torch.float64).index_copy_(
            0, index, squared.sum(0))
    if order is None:
        order = rank_order(clean, weight_key, horizon)
    P = _inclusion(order, index, squared.shape[1], config.p)
    scales, outside, variances, reports = _allocate(config, squared, delta, P)
    k = torch.from_numpy(geometric_counts(config.p, horizon, n, source))
    top = int(k.max())
    chosen = order[:, :top]
    noised = torch.arange(top)[None, :] < k[:, None]
    if index is None:
        used = scales.gather(1, chosen)
    else:
        local = torch.searchsorted(index, chosen).clamp_max(squared.shape[1] - 1)
        inside = index[local] == chosen
        used = torch.where(inside, scales.gather(1, local), outside[:, None])
    active = noised & (used > 0)  # a zero scale (a coefficient that moves no feature) adds no noise
    rows = torch.arange(n)[:, None].expand_as(chosen)[active]
    cols, b = chosen[active], used[active]
    if config.snap:
        if bool((b >= bound).any()):
            raise ValueError(f"snapping is valid only for Laplace scales below the coefficient bound B = {bound:g} "
                             f"(Mironov 2012: lambda < B); these scales reach {float(b.max()):.3g}, where every "
                             "snapped value is -B, 0 or +B and the account would not describe the noise. "
                             "Use a larger eps_0 or no --snap")
        original = clean[rows, cols].double()
        values = snapped_laplace(original, b, bound, source) - original
    else:
        values = laplace_noise(b, source)
    if variances.stride(0) == 0:  # one solution shared by every image: its budgets are too
        epsilons = allocation_epsilons(squared, variances[:1], delta).expand(n, -1)
    else:
        epsilons = allocation_epsilons(squared, variances, delta)
    spent = epsilons.sum(1)
    if not bool(((spent / config.epsilon0 - 1).abs() < 1e-9).all()):
        raise ValueError(f"epsilon0 = {config.epsilon0!r} is outside what float64 arithmetic can account for with "
                         f"these weights (the budgets spent sum to {float(spent.min()):.3g}..{float(spent.max()):.3g})")
    pi = inclusion_probabilities(config.p, horizon)
    costs = variances.sum(1) + outside.pow(2) * (pi.sum() - P.sum(1))
    described = {**source.describe(), "snapped": config.snap}
    sensitivity_record = {**sensitivity.to_dict(), "values": delta.tolist()}
    accounts = []
    for i in range(n):
        mine = noised[i]
        accounts.append(DPAccount(
            config=config.to_dict(), domain=domain_key, n_coefficients=m_p, n_features=weights.shape[0],
            K=int(k[i]), coefficients=chosen[i][mine].tolist(), scales=used[i][mine].tolist(),
            feature_epsilons=epsilons[i].tolist(), sensitivity=sensitivity_record, noise=described,
            solver=reports[i], expected_image_cost=float(costs[i])))
    return (rows, cols, values), accounts


def _feature_count(features, n_features: int | None) -> int | None:
    if isinstance(features, Eigenfaces):
        return features.check_n_features(n_features)
    return None if n_features is None else check_int(n_features, "n_features", 1)


def protect_dp(images, features: FeatureFn, sensitivity: Sensitivity, config: DPConfig, *,
               n_features: int | None = None, seed: int | None = None, generator: torch.Generator | None = None,
               secure: bool = False, clamp: bool = True) -> DPResult:
    """Protect face images with a DP mechanism (Algorithm 1), batched where the weights allow it.

    Args:
        images: (N, C, H, W) in [0, 1] (or a list of (C, H, W) images of one size).
        features: the facial feature vector F: an :class:`Eigenfaces` basis (closed-form weights, one
            set for the whole batch, when the images have its fitted shape), a callable with its own
            ``coefficient_weights(domain, shape)`` (closed-form weights shared by the batch, e.g.
            :class:`~faceveil.protect.dp.photo_features.PhotoFeatures`), or any differentiable callable
            (N, C, H, W) -> (N, D) that treats images independently (weights by autograd, per image).
        sensitivity: Delta_i for at least M_F features.
        config: method and budget.
        n_features: M_F, the first features of F to protect (default: all of F's outputs).
        seed / generator: reproducible noise, for experiments only (whoever knows the seed can remove
            the noise); ``secure=True`` (the default when neither is given) draws it from ``os.urandom``.
        clamp: clip the protected images to [0, 1] (False keeps the raw noisy values, for measuring
            the noise).

    Raises:
        ValueError: a bad config, images of mixed sizes, non-finite or out-of-range pixels, M_F larger
            than F's output or than the known sensitivities, snapping outside its valid range.
    """
    if not isinstance(config, DPConfig):
        raise ValueError(f"config must be a DPConfig, got {type(config).__name__}")
    if not isinstance(sensitivity, Sensitivity):
        raise ValueError(f"sensitivity must be a Sensitivity, got {type(sensitivity).__name__}")
    if not callable(features):
        raise ValueError(f"features must be a callable (N, C, H, W) -> (N, M_F), got {type(features).__name__}")
    x = stack_images(images)
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        raise ValueError(f"images must have values in [0, 1], got [{low:.4g}, {high:.4g}]")
    source = NoiseSource(seed, generator, secure)
    m = _feature_count(features, n_features)
    domain = config.domain()
    shape = tuple(x.shape[1:])
    bound = domain.coefficient_bound(shape)
    clean = domain.forward(x)  # in the images' dtype: only the noised coefficients are read back
    if isinstance(features, Eigenfaces) and shape == features.image_shape:
        change, accounts = release(clean, eigenface_weights(features, domain, m), sensitivity, config, source, bound,
                                   domain.key())
    elif hasattr(features, "coefficient_weights"):
        select = order = None
        if config.rank_by == "magnitude":  # only coefficients that can be ranked high enough need weights
            order = rank_order(clean, None, min(clean.shape[1], rank_horizon(config.p)))
            select = torch.unique(order)
        weights, index = features.coefficient_weights(domain, shape, select)
        del select
        change, accounts = release(clean, weights, sensitivity, config, source, bound, domain.key(), index, order)
    else:
        feature_fn = features if m is None else (lambda batch: _first_features(features(batch), m))
        changes, accounts = [], []
        for i, image in enumerate(x.split(1)):
            weights = coefficient_jacobian(image, feature_fn, domain)[0]
            (rows, cols, values), account = release(clean[i: i + 1], weights, sensitivity, config, source, bound,
                                                    domain.key())
            changes.append((rows + i, cols, values))
            accounts += account
        change = tuple(torch.cat(parts) for parts in zip(*changes))
    del clean
    protected = domain.add_coefficients(x.float(), *change)  # only the noised coefficients' basis functions
    return DPResult(protected.clamp_(0, 1) if clamp else protected, accounts)


def _first_features(out: torch.Tensor, m: int) -> torch.Tensor:
    if out.ndim != 2 or out.shape[1] < m:
        raise ValueError(f"n_features (M_F) = {m} is larger than the feature vector, shape {tuple(out.shape)}")
    return out[:, :m]
