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

import json
import math
from dataclasses import asdict, dataclass, field

import torch

from ..._checks import check_int, check_open_unit, check_positive, stack_images
from .domains import Domain, make_domain
from .budget import feature_epsilons, image_cost, lmgd_scales, na_scales, uniform_scales
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
        rank_by: ``"magnitude"`` (Algorithm 1) or ``"weight"`` (see :func:`rank_order`).
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
        check_positive(self.epsilon0, "epsilon0")
        check_open_unit(self.p, "p")
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


def _allocate(config: DPConfig, weights: torch.Tensor, delta: torch.Tensor) -> tuple[torch.Tensor, dict | None]:
    rule = METHODS[config.method][1]
    if rule == "uniform":
        return uniform_scales(weights, delta, config.p, config.epsilon0), None
    if rule == "na":
        return na_scales(weights, delta, config.p, config.epsilon0), None
    scales, report = lmgd_scales(weights, delta, config.p, config.epsilon0, step=config.lmgd_step,
                                 tolerance=config.lmgd_tolerance, max_iterations=config.lmgd_max_iterations)
    return scales, report.to_dict()


def _feature_count(features, n_features: int | None) -> int | None:
    if isinstance(features, Eigenfaces):
        return features.check_n_features(n_features)
    return None if n_features is None else check_int(n_features, "n_features", 1)


def protect_dp(images, features: FeatureFn, sensitivity: Sensitivity, config: DPConfig, *,
               n_features: int | None = None, seed: int | None = None, generator: torch.Generator | None = None,
               secure: bool = False, clamp: bool = True) -> DPResult:
    """Protect face images with a DP mechanism, image by image.

    Args:
        images: (N, C, H, W) in [0, 1] (or a list of (C, H, W) images of one size).
        features: the facial feature vector F: an :class:`Eigenfaces` basis (closed-form weights when
            the images have its fitted shape) or any differentiable callable (N, C, H, W) -> (N, D)
            that treats images independently (weights by autograd, per image).
        sensitivity: Delta_i for at least M_F features.
        config: method and budget.
        n_features: M_F, the first features of F to protect (default: all of F's outputs).
        seed / generator: reproducible noise; ``secure=True`` (the default when neither is given) draws
            it from ``os.urandom``.
        clamp: clip the protected images to [0, 1] (False keeps the raw noisy values, for measuring
            the noise).

    Raises:
        ValueError: a bad config, images of mixed sizes, non-finite or out-of-range pixels, M_F larger
            than F's output or than the known sensitivities.
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
    closed_form = isinstance(features, Eigenfaces) and shape == features.image_shape
    shared = eigenface_weights(features, domain, m) if closed_form else None
    feature_fn = features if m is None else (lambda batch: _first_features(features(batch), m))
    clean = domain.forward(x).double()
    noisy = clean.clone()
    accounts = []
    for n, image in enumerate(x.split(1)):
        weights = shared if shared is not None else coefficient_jacobian(image, feature_fn, domain)[0]
        delta = sensitivity.head(weights.shape[0])
        order = rank_order(clean[n], weights, config.rank_by)
        ranked = weights.index_select(1, order)
        scales, solver = _allocate(config, ranked, delta)
        k = int(geometric_counts(config.p, clean.shape[1], 1, source)[0])
        noised, used = order[:k], scales[:k]
        if config.snap:
            on = used > 0
            noisy[n, noised[on]] = snapped_laplace(clean[n, noised[on]], used[on], bound, source)
        else:
            noisy[n, noised] = clean[n, noised] + laplace_noise(used, source)
        accounts.append(DPAccount(
            config=config.to_dict(), domain=domain.key(), n_coefficients=clean.shape[1],
            n_features=weights.shape[0], K=k, coefficients=noised.tolist(), scales=used.tolist(),
            feature_epsilons=feature_epsilons(ranked, scales, delta, config.p).tolist(),
            sensitivity={**sensitivity.to_dict(), "values": delta.tolist()},
            noise={**source.describe(), "snapped": config.snap}, solver=solver,
            expected_image_cost=image_cost(scales, config.p),
        ))
    protected = domain.inverse(noisy, shape).float()
    return DPResult(protected.clamp(0, 1) if clamp else protected, accounts)


def _first_features(out: torch.Tensor, m: int) -> torch.Tensor:
    if out.ndim != 2 or out.shape[1] < m:
        raise ValueError(f"n_features (M_F) = {m} is larger than the feature vector, shape {tuple(out.shape)}")
    return out[:, :m]
