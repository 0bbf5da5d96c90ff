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
            check_int(seed, "seed", 0)
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
