"""Random numbers for the DP mechanisms: a reproducible or a cryptographically secure source of bits,
Laplace noise, the geometric number K, and Mironov's snapping mechanism.

* Reproducible: a seeded ``torch.Generator`` (Mersenne Twister). The seed reproduces the noise exactly,
  so whoever knows it can subtract the noise: keep it secret (faceveil never writes it to an output).
* Secure: the operating system's CSPRNG (``os.urandom``): not reproducible, not predictable.

Every sample is built from 32-bit random words in float64, so the mechanisms behave identically with
either source. Laplace noise uses the inverse CDF ``b * S * (-ln U)`` with a random sign S and U drawn
from *all* doubles in (0, 1) with the probability of the real interval each represents (Mironov 2012,
Sec. 5), not only from multiples of 2**-53. That alone does not stop Mironov's attack on the textbook
Laplace mechanism (see docs/dp.md); :func:`snapped_laplace` does, for the noised values themselves.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch

from ..._checks import check_int, check_open_unit

_MANTISSA_BITS = 52


class NoiseSource:
    """32-bit random words from a seeded ``torch.Generator`` or from ``os.urandom``.

    Args:
        seed: seeds a new ``torch.Generator`` (reproducible noise).
        generator: an existing ``torch.Generator`` (reproducible from its state).
        secure: use the OS's cryptographically secure generator. The default when neither ``seed`` nor
            ``generator`` is given: a privacy mechanism should not fall back to predictable noise.
    """

    def __init__(self, seed: int | None = None, generator: torch.Generator | None = None, secure: bool = False) -> None:
        if sum(x is not None for x in (seed, generator)) + bool(secure) > 1:
            raise ValueError("pass at most one of seed, generator and secure=True")
        if seed is not None:
            check_int(seed, "seed", 0, 2**63 - 1)
            generator = torch.Generator().manual_seed(seed)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        self.generator = generator

    @property
    def secure(self) -> bool:
        return self.generator is None

    def describe(self) -> dict:
        """What produced the noise, for the record (never the seed: it would undo the protection)."""
        if self.secure:
            return {"source": "os.urandom", "reproducible": False}
        return {"source": "torch.Generator (Mersenne Twister)", "reproducible": True}

    def words(self, n: int) -> np.ndarray:
        """``n`` independent uniform 32-bit words, as uint64 (n,)."""
        if self.secure:
            return np.frombuffer(os.urandom(4 * n), dtype=np.uint32).astype(np.uint64)
        w = torch.randint(0, 2**32, (n,), generator=self.generator, dtype=torch.int64)
        return w.numpy().astype(np.uint64)

    def integers_below(self, bound: np.ndarray) -> np.ndarray:
        """One uniform integer in {0, ..., bound - 1} for each entry of ``bound`` (int64 > 0, < 2**62), exactly:
        64-bit words, rejecting those at or above the largest multiple of the bound (no modulo bias)."""
        bound = np.asarray(bound, dtype=np.uint64)
        out = np.empty(bound.shape, dtype=np.uint64)
        todo = np.arange(bound.size)
        flat = bound.reshape(-1)
        while todo.size:
            w = self.words(2 * todo.size).reshape(-1, 2)
            word = (w[:, 0] << np.uint64(32)) | w[:, 1]
            b = flat[todo]
            limit = (np.uint64(2**64 - 1) // b) * b
            ok = word < limit
            out.reshape(-1)[todo[ok]] = word[ok] % b[ok]
            todo = todo[~ok]
        return out.astype(np.int64)

    def uniform(self, n: int) -> np.ndarray:
        """``n`` uniform doubles in (0, 1): 53 random bits each, offset by half a step (never 0 or 1)."""
        w = self.words(2 * n).reshape(n, 2)
        bits = (w[:, 0] >> np.uint64(6)) * np.uint64(2**27) + (w[:, 1] >> np.uint64(5))
        return (bits.astype(np.float64) + 0.5) * 2.0**-53

    def uniform_all_doubles(self, n: int) -> np.ndarray:
        """``n`` doubles in (0, 1), each with the probability of the real interval it represents.

        The binade [2**-e, 2**(1-e)) has probability 2**-e, so e is 1 + the number of leading zero
        bits of a random stream (64 bits here: e > 64 has probability 2**-64 and is folded into
        e = 65); the 52 mantissa bits are uniform (Mironov 2012, Sec. 5.2).
        """
        w = self.words(4 * n).reshape(n, 4)
        high, low = w[:, 0].astype(np.float64), w[:, 1].astype(np.float64)  # exact: below 2**32
        exponent = np.where(high > 0, 33 - np.frexp(high)[1], np.where(low > 0, 65 - np.frexp(low)[1], 65))
        mantissa = (w[:, 2] >> np.uint64(6)) * np.uint64(2**26) + (w[:, 3] >> np.uint64(6))
        return np.ldexp((mantissa + np.uint64(2**_MANTISSA_BITS)).astype(np.float64),
                        -_MANTISSA_BITS - exponent.astype(np.int64))


def laplace_noise(scales: torch.Tensor, source: NoiseSource) -> torch.Tensor:
    """Independent Laplace(0, b_k) samples (float64, shape of ``scales``): ``b * S * (-ln U)``."""
    n = scales.numel()
    magnitude = -np.log(source.uniform_all_doubles(n))
    sign = np.where(source.words(n) & np.uint64(1), 1.0, -1.0)
    return scales.double() * torch.from_numpy(sign * magnitude).reshape(scales.shape)


def geometric_counts(p: float, maximum: int, n: int, source: NoiseSource) -> np.ndarray:
    """``n`` samples of K = min(G, maximum), G ~ Geo(p) on {1, 2, ...} (mean 1/p), as int64 (n,):
    P(K >= k) = (1 - p)**(k - 1) for 1 <= k <= maximum. Sampled by inversion, G = ceil(ln U / ln(1 - p))."""
    check_open_unit(p, "p")
    check_int(maximum, "maximum", 1)
    g = np.ceil(np.log(source.uniform(n)) / math.log1p(-p))
    return np.clip(g, 1, maximum).astype(np.int64)


def _power_of_two_at_least(x: np.ndarray) -> np.ndarray:
    """The smallest power of two >= x (x > 0), exactly (from the float's binary exponent)."""
    fraction, exponent = np.frexp(x)
    return np.where(fraction == 0.5, x, np.ldexp(1.0, exponent))


def snapped_laplace(values: torch.Tensor, scales: torch.Tensor, bound: float, source: NoiseSource) -> torch.Tensor:
    """Mironov's snapping mechanism applied to each value with its own Laplace scale (float64).

    ``clamp_B(round_L(clamp_B(x) + b * S * ln U*))`` where L is the smallest power of two >= b,
    ``round_L`` rounds to the nearest multiple of L (exact in binary floating point) and ``clamp_B``
    clips to [-B, B]. For one value of sensitivity d, Mironov (2012, Sec. 5.2; in the form diffprivlib
    uses) shows the output is ``((1 + 12 B eta) d / b + 2 eta)``-DP, eta = 2**-53, where the textbook
    mechanism's floating-point output is not DP at all, provided ln is correctly rounded (NumPy's is
    not guaranteed to be: docs/dp.md) and B >= |x| for every honest input.
    """
    b = scales.double().numpy()
    if not (np.isfinite(b).all() and (b > 0).all()):
        raise ValueError("snapping needs finite Laplace scales > 0")
    x = values.double().clamp(-bound, bound) + laplace_noise(scales, source)
    step = torch.from_numpy(_power_of_two_at_least(b))
    return (torch.round(x / step) * step).clamp(-bound, bound)


def bernoulli_exp(numerator: np.ndarray, denominator: int, source: NoiseSource) -> np.ndarray:
    """Exact Bernoulli(exp(-n / d)) samples for integers n >= 0 (array) and d >= 1 (Canonne, Kamath and
    Steinke 2020, Algorithm 1): for gamma = n / d <= 1, count K while Bernoulli(gamma / K) succeeds and
    return K odd; for gamma > 1, floor(gamma) Bernoulli(exp(-1)) trials must all succeed first. Only
    integer comparisons of uniform integers: no floating point anywhere."""
    n = np.asarray(numerator, dtype=np.int64)
    result = np.ones(n.shape, dtype=bool)
    whole, rest = np.divmod(n, denominator)
    for _ in range(int(whole.max(initial=0))):  # exp(-1) for each whole unit of gamma
        pending = result & (whole > 0)
        result[pending] = _bernoulli_exp_fraction(np.full(int(pending.sum()), 1), 1, source)
        whole = whole - 1
    live = result.copy()
    result[live] = _bernoulli_exp_fraction(rest[live], denominator, source)
    return result


def _bernoulli_exp_fraction(n: np.ndarray, d: int, source: NoiseSource) -> np.ndarray:
    """Bernoulli(exp(-n / d)) for 0 <= n <= d: K = 1; while Bernoulli(n / (d K)): K += 1; return K odd."""
    k = np.ones(n.shape, dtype=np.int64)
    going = np.ones(n.shape, dtype=bool)
    while going.any():
        idx = np.flatnonzero(going)
        success = source.integers_below(d * k[idx]) < n[idx]
        k[idx[success]] += 1
        going[idx[~success]] = False
    return k % 2 == 1


def discrete_laplace(n: int, scale_numerator: int, scale_denominator: int, source: NoiseSource) -> np.ndarray:
    """``n`` exact samples of the discrete Laplace law on the integers with scale t / s
    (t = ``scale_numerator``, s = ``scale_denominator``), P(z) proportional to exp(-|z| s / t)
    (Canonne, Kamath and Steinke 2020, Algorithm 2): U uniform in {0..t-1} kept with probability
    exp(-U / t), V geometric from Bernoulli(exp(-1)) trials, X = U + t V, Y = floor(X / s), a random sign,
    and -0 rejected. Adding it to an integer statistic of L1 sensitivity D gives exactly
    (D s / t)-DP (the geometric mechanism, Ghosh, Roughgarden and Sundararajan 2009)."""
    check_int(n, "n", 0)
    t, s = check_int(scale_numerator, "scale_numerator", 1), check_int(scale_denominator, "scale_denominator", 1)
    out = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        u = source.integers_below(np.full(todo.size, t))
        kept = bernoulli_exp(u, t, source)
        v = np.zeros(todo.size, dtype=np.int64)
        going = kept.copy()
        while going.any():
            idx = np.flatnonzero(going)
            success = bernoulli_exp(np.ones(idx.size, dtype=np.int64), 1, source)
            v[idx[success]] += 1
            going[idx[~success]] = False
        y = (u + t * v) // s
        negative = (source.words(todo.size) & np.uint64(1)).astype(bool)
        accepted = kept & ~(negative & (y == 0))
        out[todo[accepted]] = np.where(negative[accepted], -y[accepted], y[accepted])
        todo = todo[~accepted]
    return out
