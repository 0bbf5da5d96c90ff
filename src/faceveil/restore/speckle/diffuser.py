"""Thin ground-glass diffusers: one seeded Gaussian-correlated phase screen per grit, calibrated to the
grit's transmitted angular spread.

Model: a height map h(x) of Gaussian-filtered white noise, correlation <h(x) h(x + r)> = sigma_h^2
exp(-r^2 / l^2) (l: the correlation length), imprints the phase phi = 2 pi (n - 1) h / lambda (N-BK7,
n = 1.515 at 633 nm). For such a screen the transmitted far field has two parts (Goodman, *Speckle
Phenomena in Optics*, 2007, section 4.5; Beckmann and Spizzichino 1963):

* a ballistic (unscattered) fraction exp(-sigma_phi^2), where sigma_phi is the rms phase;
* a diffuse halo D(f) = exp(-sigma_phi^2) sum_{k>=1} sigma_phi^(2k) / k! (pi l^2 / k) exp(-pi^2 l^2 f^2 / k)
  over spatial frequency f = sin(theta) / lambda, the Fourier transform of
  exp(-sigma_phi^2 (1 - exp(-r^2 / l^2))) less its constant part. For a deep screen (sigma_phi >> 1) it
  tends to the geometric-optics Gaussian of full width 2 sqrt(ln 2) sigma_phi lambda / (pi l).

Each grit's table row gives its measured full width at half maximum of the transmitted light and a
correlation length; :func:`calibrate_phase_rms` finds the sigma_phi whose diffuse halo has that width, which
fixes the height rms and the ballistic fraction. Fine grits come out shallow (a visible ballistic part):
that fraction depends on the assumed correlation length, so both are exposed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import gammaln, logsumexp

#: refractive index of N-BK7 at 632.8 nm (Schott data sheet: 1.51509)
N_BK7 = 1.515


@dataclass(frozen=True)
class Grit:
    """One ground-glass grit: ``fwhm_deg``, the full width at half maximum of its transmitted light at 633 nm
    (degrees); ``correlation_um``, the correlation length l of its surface height (micrometres);
    ``source``: where the numbers come from."""

    name: str
    fwhm_deg: float
    correlation_um: float
    source: str


_FWHM_SOURCE = ("FWHM: a third-party calibration of Thorlabs DG10 ground-glass diffusers at 633 nm "
                "(../shared/notes/restorers.md; not Thorlabs data)")
_L_SOURCE = ("l: the mean grain diameter of the FEPA P-grade abrasive of that grit (FEPA 43-2 chart), an "
             "assumption: the surfaces were not measured")

#: the four grits of seed 001 (Thorlabs DG10-120/220/600/1500)
GRITS = {
    "120": Grit("120", 12.0, 125.0, f"{_FWHM_SOURCE}; {_L_SOURCE} (P120: 125 um)"),
    "220": Grit("220", 9.0, 68.0, f"{_FWHM_SOURCE}; {_L_SOURCE} (P220: 68 um)"),
    "600": Grit("600", 5.0, 25.8, f"{_FWHM_SOURCE}; {_L_SOURCE} (P600: 25.8 um)"),
    "1500": Grit("1500", 2.5, 12.6, f"{_FWHM_SOURCE}; {_L_SOURCE} (P1500: 12.6 um)"),
}


def grit(name: str | Grit) -> Grit:
    """The :class:`Grit` of a name in :data:`GRITS` (a Grit passes through)."""
    if isinstance(name, Grit):
        return name
    if str(name) not in GRITS:
        raise ValueError(f"unknown grit {name!r}: choose one of {', '.join(GRITS)}")
    return GRITS[str(name)]


def _log_halo(f: np.ndarray, sigma_phi: float, correlation: float) -> np.ndarray:
    """log D(f) of the module docstring (f in cycles per metre, correlation in metres), summed over the
    orders k that carry the Poisson weight sigma_phi^(2k) / k!."""
    s2 = sigma_phi**2
    top = int(s2 + 12 * sigma_phi + 30)
    k = np.arange(max(1, int(s2 - 12 * sigma_phi)), top + 1, dtype=np.float64)[:, None]
    log_w = -s2 + k * math.log(s2) - gammaln(k + 1) + np.log(math.pi * correlation**2 / k)
    return logsumexp(log_w - (math.pi * correlation) ** 2 * np.asarray(f, np.float64)[None] ** 2 / k, axis=0)


def diffuse_halo(f, sigma_phi: float, correlation: float) -> np.ndarray:
    """The diffuse angular spectrum D(f) (m^2) of the module docstring at spatial frequencies ``f``
    (cycles per metre); its integral over the plane is 1 - exp(-sigma_phi^2)."""
    return np.exp(_log_halo(np.atleast_1d(f), sigma_phi, correlation))


def halo_fwhm(sigma_phi: float, correlation: float, wavelength: float) -> float:
    """Full width at half maximum (radians, full angle) of the diffuse halo of a screen of rms phase
    ``sigma_phi`` and correlation length ``correlation`` (metres) at ``wavelength`` (metres)."""
    peak = _log_halo(np.zeros(1), sigma_phi, correlation)[0]
    lo, hi = 0.0, 1.0 / correlation
    while _log_halo(np.array([hi]), sigma_phi, correlation)[0] > peak - math.log(2):
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if _log_halo(np.array([mid]), sigma_phi, correlation)[0] > peak - math.log(2):
            lo = mid
        else:
            hi = mid
    return 2 * math.asin(min(1.0, wavelength * lo))


def calibrate_phase_rms(g: str | Grit, wavelength: float = 632.8e-9) -> float:
    """The rms phase sigma_phi (radians) whose diffuse halo has the grit's FWHM, for its correlation length.

    Raises:
        ValueError: the FWHM is narrower than any screen of that correlation length can give (the halo of a
            shallow screen is never narrower than 2 sqrt(ln 2) lambda / (pi l)).
    """
    g = grit(g)
    target, correlation = math.radians(g.fwhm_deg), g.correlation_um * 1e-6
    lo, hi = 1e-3, 1e3
    if halo_fwhm(lo, correlation, wavelength) > target:
        floor = math.degrees(halo_fwhm(lo, correlation, wavelength))
        raise ValueError(f"grit {g.name}: a {g.fwhm_deg} deg FWHM is narrower than the {floor:.2f} deg that a "
                         f"correlation length of {g.correlation_um} um allows")
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        if halo_fwhm(mid, correlation, wavelength) < target:
            lo = mid
        else:
            hi = mid
    return math.sqrt(lo * hi)


def ballistic_fraction(sigma_phi: float) -> float:
    """Fraction of the transmitted power that is not scattered: exp(-sigma_phi^2)."""
    return math.exp(-(sigma_phi**2))


def height_rms(sigma_phi: float, wavelength: float = 632.8e-9, index: float = N_BK7) -> float:
    """rms surface height (metres) of a screen of rms phase ``sigma_phi``: sigma_phi lambda / (2 pi (n - 1))."""
    return sigma_phi * wavelength / (2 * math.pi * (index - 1))


def phase_screen(n: int, dx: float, correlation: float, sigma_phi: float, seed: int,
                 device=None) -> torch.Tensor:
    """A seeded phase screen (n, n) float64 (radians) of pitch ``dx``: white noise filtered by a Gaussian
    of standard deviation l / 2 (so that the correlation is exp(-r^2 / l^2)), scaled to rms ``sigma_phi``.

    Raises:
        ValueError: the pitch cannot sample the correlation length (dx > l / 2).
    """
    if dx > correlation / 2:
        raise ValueError(f"a pitch of {dx * 1e6:.3g} um cannot sample a correlation length of "
                         f"{correlation * 1e6:.3g} um (at most l / 2)")
    generator = torch.Generator().manual_seed(int(seed))
    noise = torch.randn(n, n, generator=generator, dtype=torch.float64).to(device)
    f = torch.fft.fftfreq(n, d=dx, dtype=torch.float64, device=device)
    kernel = torch.exp(-2 * (math.pi * correlation / 2) ** 2 * (f[None, :] ** 2 + f[:, None] ** 2))
    screen = torch.fft.ifft2(torch.fft.fft2(noise) * kernel).real
    return screen * (sigma_phi / screen.std())
