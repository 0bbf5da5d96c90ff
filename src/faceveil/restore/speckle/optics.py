"""Scalar wave optics on a square grid, in torch (batched, CPU or CUDA): the band-limited angular-spectrum
propagator, a circular pupil, FFT sizes without wrap-around and the analytic on-axis defocus of a point
source that the propagator is tested against.

Fields are complex tensors (..., N, N) sampled at pitch ``dx``; lengths are in metres. Spatial frequencies
follow ``torch.fft.fftfreq`` order (no shifts: the propagator never needs a centred spectrum).
"""

from __future__ import annotations

import math

import torch


def frequencies(n: int, dx: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(fx, fy), each (n, n) in cycles per metre, of an n x n grid of pitch ``dx`` (fftfreq order)."""
    f = torch.fft.fftfreq(n, d=dx, dtype=torch.float64, device=device)
    return f[None, :].expand(n, n), f[:, None].expand(n, n)


def pupil(n: int, dx: float, wavelength: float, na: float, device=None) -> torch.Tensor:
    """The circular pupil of numerical aperture ``na``: 1 where sqrt(fx^2 + fy^2) <= na / wavelength, else 0;
    (n, n) float64. Refuses an aperture the grid cannot sample (na / wavelength above Nyquist, 1 / (2 dx)).
    """
    if not 0 < na <= 1:
        raise ValueError(f"the numerical aperture must be in (0, 1], got {na}")
    if na / wavelength > 1 / (2 * dx) * (1 + 1e-9):
        raise ValueError(f"NA {na} needs a pitch of at most {wavelength / (2 * na) * 1e6:.3g} um; the grid's is "
                         f"{dx * 1e6:.3g} um (reduce the NA or refine the grid)")
    fx, fy = frequencies(n, dx, device)
    return (fx**2 + fy**2 <= (na / wavelength) ** 2).to(torch.float64)


def transfer_function(n: int, dx: float, wavelength: float, z: float, device=None) -> torch.Tensor:
    """The band-limited angular-spectrum transfer function of a free-space distance ``z`` (Matsushima and
    Shimobaba, Opt. Express 17, 19662 (2009), Eqs. 13 and 22): H = exp(i 2 pi z sqrt(1/lambda^2 - fx^2 - fy^2))
    inside the band |fx|, |fy| <= 1 / (lambda sqrt((2 z / L)^2 + 1)) with L = n dx the grid's width, and 0
    outside it and for evanescent waves. The band limit removes the frequencies whose phase the grid would
    alias at this distance. (n, n) complex128."""
    fx, fy = frequencies(n, dx, device)
    arg = 1 / wavelength**2 - fx**2 - fy**2
    phase = 2 * math.pi * z * torch.sqrt(arg.clamp_min(0))
    limit = 1 / (wavelength * math.sqrt((2 * z / (n * dx)) ** 2 + 1))
    band = (arg > 0) & (fx.abs() <= limit) & (fy.abs() <= limit)
    return torch.polar(band.to(torch.float64), phase)


def propagate(field: torch.Tensor, dx: float, wavelength: float, z: float) -> torch.Tensor:
    """The field (..., N, N) complex after a free-space distance ``z`` (metres; negative: backwards), by the
    band-limited angular spectrum (:func:`transfer_function`). The grid is periodic: pad it beforehand so
    that no light leaves it within ``z`` (:func:`padded_size`)."""
    n = field.shape[-1]
    if field.shape[-2] != n:
        raise ValueError(f"fields must be square, got {tuple(field.shape[-2:])}")
    h = transfer_function(n, dx, wavelength, z, field.device).to(field.dtype)
    return torch.fft.ifft2(torch.fft.fft2(field) * h)


def resample_spectrum(spectrum: torch.Tensor, m: int) -> torch.Tensor:
    """The field (..., m, m) whose spectrum is ``spectrum`` (..., n, n) (fftfreq order) cropped to, or padded
    with zeros to, the m lowest frequencies per axis: the same band-limited field sampled over the same
    extent at pitch n / m times the original, with its amplitude kept. Exact when the field's band lies
    inside both grids' Nyquist frequencies."""
    n = spectrum.shape[-1]
    keep = min(n, m)
    low, high = keep - keep // 2, keep // 2
    out = torch.zeros(*spectrum.shape[:-2], m, m, dtype=spectrum.dtype, device=spectrum.device)
    for rows_out, rows_in in ((slice(0, low), slice(0, low)), (slice(m - high, m), slice(n - high, n))):
        for cols_out, cols_in in ((slice(0, low), slice(0, low)), (slice(m - high, m), slice(n - high, n))):
            out[..., rows_out, cols_out] = spectrum[..., rows_in, cols_in]
    return torch.fft.ifft2(out) * (m / n) ** 2


def good_fft_size(n: int) -> int:
    """The smallest integer >= n whose prime factors are 2, 3 and 5 (sizes torch's FFT handles fast)."""
    size = max(int(n), 1)
    while True:
        m = size
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return size
        size += 1


def padded_size(width: int, dx: float, wavelength: float, na: float, z: float, margin: int = 16) -> int:
    """Grid side (samples) for an object ``width`` samples wide whose light, inside the aperture ``na``,
    spreads over ``z``: width + 2 |z| tan(asin(na)) / dx on each side's sum, plus ``margin``, rounded up to a
    :func:`good_fft_size`. Light at larger angles is absent (the pupil removed it), so nothing wraps."""
    spread = 2 * abs(z) * math.tan(math.asin(na)) / dx
    return good_fft_size(int(math.ceil(width + spread)) + margin)


def point_source_on_axis(z: float, wavelength: float, na: float) -> float:
    """On-axis intensity at defocus ``z`` of a point imaged through a uniform circular pupil of ``na``,
    relative to focus: the exact angular-spectrum integral
    |2 pi int_{q0}^{1/lambda} exp(i 2 pi z q) q dq|^2 / (pi (na/lambda)^2)^2 with q0 = sqrt(1 - na^2) / lambda.
    Its paraxial limit is the classical Fresnel result sinc^2(z na^2 / (2 lambda)) (Born and Wolf, 8.8.4,
    I(0, 0, u) = [sin(u/4) / (u/4)]^2 with u = 2 pi na^2 z / lambda)."""
    q0, q1 = math.sqrt(1 - na**2) / wavelength, 1 / wavelength
    if z == 0:
        return 1.0
    k = 2 * math.pi * z

    def antiderivative(q: float) -> complex:  # of exp(i k q) q
        return complex(math.cos(k * q), math.sin(k * q)) * (q / (1j * k) + 1 / k**2)

    amplitude = 2 * math.pi * (antiderivative(q1) - antiderivative(q0))
    return abs(amplitude) ** 2 / (math.pi * (na / wavelength) ** 2) ** 2
