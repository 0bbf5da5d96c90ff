"""An empirical privacy auditor: a lower bound on the eps a mechanism really gives, from its releases.

If a mechanism M is (eps, delta)-DP, every test that tries to tell M(A) from M(B) for neighbours A, B
has false-positive rate alpha and false-negative rate beta with ``alpha + e^eps beta >= 1 - delta`` and
``beta + e^eps alpha >= 1 - delta`` (Kairouz et al. 2015; used for auditing by Jagielski et al. 2020 and
Nasr et al. 2021). So any test with small error rates proves a lower bound

    eps >= max(ln((1 - delta - beta) / alpha), ln((1 - delta - alpha) / beta)).

The auditor draws ``releases`` outputs of M on A and on B, chooses each test's threshold on a first
half (calibration), counts its errors on a fresh second half, and bounds alpha and beta from above with
one-sided Clopper-Pearson intervals, Bonferroni-corrected over the two rates and every test, so that the
reported lower bound holds with the stated confidence. A claim above the bound is not proven by the
audit (no finite audit proves DP); a bound above the claim refutes it.

A test is a score of a release, higher meaning "this came from A": pixel matches with the two inputs,
projections of pixels or features on the line between the inputs, L1 distances of features. Releases are
given as *views*: ``{"pixels": (n, H, W, C) uint8, "features": (n, M_F) float}``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np
from scipy import stats

from .._checks import check_int

Views = dict[str, np.ndarray]
#: (views of A's input, views of B's input, views of the releases) -> scores (n,)
Score = Callable[[Views, Views, Views], np.ndarray]


def _pixels(v: Views) -> np.ndarray:
    return v["pixels"].reshape(len(v["pixels"]), -1)


def pixel_match(a: Views, b: Views, y: Views) -> np.ndarray:
    """Fraction of 8-bit pixels equal to A's minus fraction equal to B's."""
    pa, pb, py = _pixels(a), _pixels(b), _pixels(y)
    return (py == pa).mean(1) - (py == pb).mean(1)


def _projection(xa: np.ndarray, xb: np.ndarray, xy: np.ndarray) -> np.ndarray:
    direction = (xa - xb).astype(np.float64)[0]
    return (xy.astype(np.float64) - (xa + xb)[0] / 2) @ direction


def pixel_projection(a: Views, b: Views, y: Views) -> np.ndarray:
    """<y - (A + B) / 2, A - B> on the pixels: the optimal linear test for additive noise."""
    return _projection(_pixels(a).astype(np.float64), _pixels(b).astype(np.float64), _pixels(y))


def feature_projection(a: Views, b: Views, y: Views) -> np.ndarray:
    """<F(y) - (F(A) + F(B)) / 2, F(A) - F(B)> on the released features."""
    return _projection(a["features"], b["features"], y["features"])


def feature_l1(a: Views, b: Views, y: Views) -> np.ndarray:
    """||F(y) - F(B)||_1 - ||F(y) - F(A)||_1: the likelihood-ratio test for Laplace noise of equal scales."""
    fy = y["features"].astype(np.float64)
    return np.abs(fy - b["features"][0]).sum(1) - np.abs(fy - a["features"][0]).sum(1)


TESTS: dict[str, tuple[str, Score]] = {
    "pixel-match": ("pixels", pixel_match),
    "pixel-projection": ("pixels", pixel_projection),
    "feature-projection": ("features", feature_projection),
    "feature-l1": ("features", feature_l1),
}


def clopper_pearson_upper(errors: int, trials: int, alpha: float) -> float:
    """One-sided upper confidence limit of a binomial rate at level 1 - ``alpha``."""
    if errors >= trials:
        return 1.0
    return float(stats.beta.ppf(1 - alpha, errors + 1, trials - errors))


def epsilon_bound(alpha: float, beta: float, delta: float) -> float:
    """max(0, ln((1 - delta - beta) / alpha), ln((1 - delta - alpha) / beta)) for error rates in [0, 1]."""
    best = 0.0
    for x, y in ((alpha, beta), (beta, alpha)):
        if 1 - delta - y > 0:
            best = max(best, math.inf if x == 0 else math.log((1 - delta - y) / x))
    return best


def _best_threshold(sa: np.ndarray, sb: np.ndarray, delta: float, alpha: float) -> float:
    """The threshold (say "A" when score > threshold) whose Clopper-Pearson bound is largest on the
    calibration scores (the bound, not the point estimate: extreme thresholds with a few counts do not win
    by chance)."""
    candidates = np.unique(np.concatenate([sa, sb]))
    if candidates.size > 256:
        candidates = np.quantile(candidates, np.linspace(0, 1, 256))
    ordered_a, ordered_b = np.sort(sa), np.sort(sb)
    best, best_value = -math.inf, -1.0
    for threshold in np.concatenate([[-np.inf], candidates]):
        fn = np.searchsorted(ordered_a, threshold, side="right")  # A's releases scored <= threshold
        fp = sb.size - np.searchsorted(ordered_b, threshold, side="right")
        value = epsilon_bound(clopper_pearson_upper(int(fp), sb.size, alpha),
                              clopper_pearson_upper(int(fn), sa.size, alpha), delta)
        if value > best_value:
            best, best_value = float(threshold), value
    return best


@dataclass(frozen=True)
class TestResult:
    """One distinguishing test on the fresh half: its threshold, error counts, rates, their upper limits
    and the eps lower bound they prove."""

    name: str
    threshold: float
    false_positives: int
    false_negatives: int
    trials: int
    fpr: float
    fnr: float
    fpr_upper: float
    fnr_upper: float
    epsilon_lower: float


@dataclass(frozen=True)
class AuditResult:
    """The audit of one mechanism on one pair of inputs: the claim, the settings, every test, and the
    best lower bound (``epsilon_lower``) with the test that gave it."""

    mechanism: str
    claimed_epsilon: float | None
    delta: float
    confidence: float
    releases: int
    neighbours: str
    tests: list[TestResult] = field(default_factory=list)

    @property
    def epsilon_lower(self) -> float:
        return max((t.epsilon_lower for t in self.tests), default=0.0)

    @property
    def best_test(self) -> str | None:
        return max(self.tests, key=lambda t: t.epsilon_lower).name if self.tests else None

    @property
    def violated(self) -> bool:
        """True when the audit proves the claim false (lower bound above the claimed eps)."""
        return self.claimed_epsilon is not None and self.epsilon_lower > self.claimed_epsilon

    def to_dict(self) -> dict:
        return {**asdict(self), "epsilon_lower": self.epsilon_lower, "best_test": self.best_test,
                "violated": self.violated}


def audit(release: Callable[[str, int], Views], inputs: tuple[Views, Views], *, mechanism: str,
          claimed_epsilon: float | None, neighbours: str, releases: int = 1000, delta: float = 1e-5,
          confidence: float = 0.95, tests: tuple[str, ...] | None = None) -> AuditResult:
    """Audit a mechanism on two inputs.

    Args:
        release: ``release(which, n)`` -> views of n fresh releases of input ``"A"`` or ``"B"``.
        inputs: the views of A and of B themselves (batches of one).
        mechanism: its name; claimed_epsilon: the eps it claims (None: no claim); neighbours: how A and
            B relate (recorded).
        releases: per input and per half (calibration, then test): 2 x 2 x ``releases`` draws in all.
        delta: the delta of the (eps, delta) bound; confidence: of the bound, e.g. 0.95.
        tests: names from :data:`TESTS` (default: every test whose view is available).
    """
    check_int(releases, "releases", 10)
    if not 0 < confidence < 1 or not 0 <= delta < 1:
        raise ValueError(f"confidence must be in (0, 1) and delta in [0, 1), got {confidence!r}, {delta!r}")
    a, b = inputs
    names = [n for n in (tests or TESTS) if TESTS[n][0] in a and TESTS[n][0] in b]
    if not names:
        raise ValueError("no test applies to the views given")
    alpha = (1 - confidence) / (2 * len(names))  # Bonferroni: two rates per test
    halves = {which: (release(which, releases), release(which, releases)) for which in ("A", "B")}
    results = []
    for name in names:
        score = TESTS[name][1]
        (cal_a, test_a), (cal_b, test_b) = halves["A"], halves["B"]
        threshold = _best_threshold(score(a, b, cal_a), score(a, b, cal_b), delta, alpha)
        fn = int((score(a, b, test_a) <= threshold).sum())
        fp = int((score(a, b, test_b) > threshold).sum())
        fpr_up, fnr_up = clopper_pearson_upper(fp, releases, alpha), clopper_pearson_upper(fn, releases, alpha)
        results.append(TestResult(name, threshold, fp, fn, releases, fp / releases, fn / releases, fpr_up, fnr_up,
                                  epsilon_bound(fpr_up, fnr_up, delta)))
    return AuditResult(mechanism, claimed_epsilon, delta, confidence, releases, neighbours, results)
