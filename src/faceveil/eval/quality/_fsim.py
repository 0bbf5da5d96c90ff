"""FSIM and FSIMc (Zhang, Zhang, Mou, Zhang 2011), ported from the authors' FeatureSIM.m."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ._common import _check_min_size, _check_pair, _check_reduction, _reduce

__all__ = ["fsim", "fsimc"]

# constants of FeatureSIM.m, for images in [0, 255]
FSIM_T1, FSIM_T2, FSIM_T3, FSIM_T4, FSIM_LAMBDA = 0.85, 160.0, 200.0, 200.0, 0.03
# phasecong2 settings of FeatureSIM.m (Kovesi's phase congruency)
_PC_SCALES, _PC_ORIENTATIONS = 4, 4
_PC_MIN_WAVELENGTH, _PC_MULT, _PC_SIGMA_ON_F, _PC_D_THETA_ON_SIGMA, _PC_K = 6, 2, 0.55, 1.2, 2.0
_PC_EPSILON = 1e-4
_PC_LOWPASS_CUTOFF, _PC_LOWPASS_ORDER = 0.45, 15
#: FSIM needs at least one wavelength of its finest log-Gabor filter in each direction
FSIM_MIN_SIZE = _PC_MIN_WAVELENGTH
# RGB -> YIQ rows as written in FeatureSIM.m (Y, I, Q)
_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _fsim_downsample(images: torch.Tensor) -> torch.Tensor:
    """FeatureSIM.m's automatic downsampling by F = max(1, round(min(H, W) / 256)).

    Reproduces ``conv2(img, fspecial('average', F), 'same')`` (zero padding) followed by keeping
    rows and columns 1, 1 + F, 1 + 2F, ...: an F x F box average whose window starts F - 1 - F // 2
    pixels before each kept pixel. (N, C, H, W) -> (N, C, ceil(H / F), ceil(W / F)).
    """
    factor = max(1, math.floor(min(images.shape[-2:]) / 256 + 0.5))  # MATLAB rounds halves up
    if factor == 1:
        return images
    before, after = factor - 1 - factor // 2, factor // 2
    padded = F.pad(images, (before, after, before, after))
    return F.avg_pool2d(padded, factor, stride=factor)


def _centred_frequencies(n: int, like: torch.Tensor) -> torch.Tensor:
    """phasecong2's normalised frequency axis of length n, ranging over +/- 0.5 (centre at n // 2)."""
    k = torch.arange(n, dtype=like.dtype, device=like.device)
    return (k - (n - 1) / 2) / (n - 1) if n % 2 else (k - n / 2) / n


def _log_gabor_filters(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """phasecong2's frequency-domain log-Gabor filters, (orientations, scales, H, W), DC at [0, 0]."""
    fx = _centred_frequencies(width, like).view(1, -1)
    fy = _centred_frequencies(height, like).view(-1, 1)
    radius = torch.fft.ifftshift(torch.sqrt(fx**2 + fy**2))
    theta = torch.fft.ifftshift(torch.atan2(-fy, fx).expand(height, width))
    lowpass = 1.0 / (1.0 + (radius / _PC_LOWPASS_CUTOFF) ** (2 * _PC_LOWPASS_ORDER))
    radius = radius.clone()
    radius[0, 0] = 1.0  # avoid log(0); the filters are set back to 0 at DC below
    wavelengths = _PC_MIN_WAVELENGTH * _PC_MULT ** torch.arange(_PC_SCALES, dtype=like.dtype, device=like.device)
    radial = torch.exp(-torch.log(radius * wavelengths.view(-1, 1, 1)) ** 2 / (2 * math.log(_PC_SIGMA_ON_F) ** 2))
    radial = radial * lowpass
    radial[:, 0, 0] = 0.0
    theta_sigma = math.pi / _PC_ORIENTATIONS / _PC_D_THETA_ON_SIGMA
    steps = torch.arange(_PC_ORIENTATIONS, dtype=like.dtype, device=like.device).view(-1, 1, 1)
    angles = steps * (math.pi / _PC_ORIENTATIONS)
    sin_t, cos_t, sin_a, cos_a = torch.sin(theta), torch.cos(theta), torch.sin(angles), torch.cos(angles)
    # angular distance to each filter orientation, through sine and cosine differences to avoid wrap-around
    d_theta = torch.atan2(sin_t * cos_a - cos_t * sin_a, cos_t * cos_a + sin_t * sin_a).abs()
    angular = torch.exp(-(d_theta**2) / (2 * theta_sigma**2))
    return angular[:, None] * radial[None]


def _matlab_median(values: torch.Tensor) -> torch.Tensor:
    """Median over the last dimension, averaging the two middle values for even counts (MATLAB's)."""
    ordered = values.sort(dim=-1).values
    n = ordered.shape[-1]
    return (ordered[..., (n - 1) // 2] + ordered[..., n // 2]) / 2


def _phase_congruency(luminance: torch.Tensor) -> torch.Tensor:
    """Phase congruency maps (Kovesi's PC_2 as in FeatureSIM.m's phasecong2): (N, H, W) -> (N, H, W).

    ``luminance`` is float64 in [0, 255]. PC is in [0, 1]. Where every filter response is 0 (a
    constant image) the reference divides 0 by 0; here PC is 0 there: no feature.
    """
    n_img, height, width = luminance.shape
    filters = _log_gabor_filters(height, width, luminance)
    spectrum = torch.fft.fft2(luminance)[:, None]  # (N, 1, H, W)
    # spatial filters scaled "to match power" (phasecong2), for the noise energy estimate
    spatial = torch.fft.ifft2(filters).real * math.sqrt(height * width)
    energy_all = torch.zeros_like(luminance)
    amplitude_all = torch.zeros_like(luminance)
    for orientation in range(_PC_ORIENTATIONS):
        response = torch.fft.ifft2(spectrum * filters[orientation])  # (N, S, H, W): even = real, odd = imag
        even, odd, amplitude = response.real, response.imag, response.abs()
        sum_even, sum_odd = even.sum(1, keepdim=True), odd.sum(1, keepdim=True)
        norm = torch.sqrt(sum_even**2 + sum_odd**2) + _PC_EPSILON
        mean_even, mean_odd = sum_even / norm, sum_odd / norm
        energy = (even * mean_even + odd * mean_odd - (even * mean_odd - odd * mean_even).abs()).sum(1)
        # noise: the median energy^2 at the finest scale estimates the mean of its Rayleigh-distributed
        # noise response; propagating it through the filters gives the noise threshold
        median_e2 = _matlab_median(amplitude[:, 0].flatten(1) ** 2)
        noise_power = (-median_e2 / math.log(0.5)) / filters[orientation, 0].pow(2).sum()
        sum_a2 = spatial[orientation].pow(2).sum()
        sum_ai_aj = (spatial[orientation].sum(0).pow(2).sum() - sum_a2) / 2  # sum over scale pairs i < j
        tau = torch.sqrt((2 * noise_power * sum_a2 + 4 * noise_power * sum_ai_aj) / 2)  # Rayleigh parameter
        threshold = (tau * math.sqrt(math.pi / 2) + _PC_K * math.sqrt(2 - math.pi / 2) * tau) / 1.7
        energy_all += torch.clamp(energy - threshold.view(n_img, 1, 1), min=0)
        amplitude_all += amplitude.sum(1)
    return torch.where(amplitude_all > 0, energy_all / amplitude_all, torch.zeros_like(energy_all))


def _gradient_magnitude(luminance: torch.Tensor) -> torch.Tensor:
    """Scharr gradient magnitude with zero padding (FeatureSIM.m's conv2 'same'): (N, H, W) -> (N, H, W)."""
    dx = torch.tensor([[3.0, 0.0, -3.0], [10.0, 0.0, -10.0], [3.0, 0.0, -3.0]], dtype=luminance.dtype) / 16
    dx = dx.to(luminance.device)
    kernels = torch.stack([dx, dx.T]).unsqueeze(1)  # (2, 1, 3, 3)
    grads = F.conv2d(luminance.unsqueeze(1), kernels, padding=1)
    return torch.sqrt(grads.pow(2).sum(1))


def _similarity(a: torch.Tensor, b: torch.Tensor, constant: float) -> torch.Tensor:
    """FSIM's similarity measure ``(2ab + T) / (a^2 + b^2 + T)`` (seed 002, Eqs. 2, 3, 6)."""
    return (2 * a * b + constant) / (a**2 + b**2 + constant)


def _fsim_index(x: torch.Tensor, y: torch.Tensor, data_range: float, reduction: str, chromatic: bool) -> torch.Tensor:
    """Validated FSIM (or FSIMc when ``chromatic``), computed in float64 on [0, 255] values, reduced."""
    metric = "fsimc" if chromatic else "fsim"
    data_range = _check_pair(x, y, data_range)
    _check_reduction(reduction)
    if chromatic and x.shape[1] != 3:
        raise ValueError(f"fsimc needs RGB images (C=3), got C={x.shape[1]}; use fsim for grey images")
    _check_min_size(*x.shape[-2:], FSIM_MIN_SIZE, metric, "the finest log-Gabor wavelength")
    dtype = x.dtype
    x, y = (t.to(torch.float64) * (255.0 / data_range) for t in (x, y))
    x, y = _fsim_downsample(x), _fsim_downsample(y)
    if x.shape[1] == 3:
        yiq = torch.tensor(_YIQ, dtype=torch.float64, device=x.device)
        x, y = (torch.einsum("kc,nchw->nkhw", yiq, t) for t in (x, y))
    lum_x, lum_y = x[:, 0], y[:, 0]
    pc_x, pc_y = _phase_congruency(lum_x), _phase_congruency(lum_y)
    gradient_similarity = _similarity(_gradient_magnitude(lum_x), _gradient_magnitude(lum_y), FSIM_T2)
    similarity = _similarity(pc_x, pc_y, FSIM_T1) * gradient_similarity
    if chromatic:
        chroma = _similarity(x[:, 1], y[:, 1], FSIM_T3) * _similarity(x[:, 2], y[:, 2], FSIM_T4)
        # FeatureSIM.m takes real(chroma .^ lambda): a negative base gives |base|^lambda cos(lambda pi)
        chroma_term = chroma.abs() ** FSIM_LAMBDA * torch.where(chroma < 0, math.cos(FSIM_LAMBDA * math.pi), 1.0)
        similarity = similarity * chroma_term
    pc_max = torch.maximum(pc_x, pc_y)
    scores = (similarity * pc_max).flatten(1).sum(1) / pc_max.flatten(1).sum(1)
    return _reduce(scores.to(dtype), reduction)


def fsim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, reduction: str = "none") -> torch.Tensor:
    """Feature similarity index FSIM (Zhang et al. 2011; seed 002, Eq. 5), a port of the authors' FeatureSIM.m.

    Luminance only: RGB images are reduced to their YIQ luminance Y. Images are scaled to [0, 255]
    (``x / data_range * 255``, the range the constants are tuned for), downsampled by
    F = max(1, round(min(H, W) / 256)) with an F x F average filter as in the reference, then
    ``sum(S_PC * S_G * PC_m) / sum(PC_m)`` with phase congruency PC from log-Gabor filters
    (4 scales, 4 orientations, minimum wavelength 6, factor 2, sigmaOnf 0.55, dThetaOnSigma 1.2,
    noise threshold k = 2 estimated from the finest scale), Scharr gradient magnitude G, T1 = 0.85,
    T2 = 160 and PC_m = max(PC_x, PC_y). Computed in float64, returned in the dtype of ``x``.

    Args:
        x, y: (N, C, H, W) images in ``[0, data_range]``, C = 1 or 3, H and W >= 6.
        data_range: the peak value.
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.

    Returns:
        FSIM, 1 for identical images, usually in (0, 1]. Undefined (NaN) when neither image has any
        phase congruency, e.g. two constant images: FSIM weights similarity by PC_m, 0 everywhere then.
    """
    return _fsim_index(x, y, data_range, reduction, chromatic=False)


def fsimc(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, reduction: str = "none") -> torch.Tensor:
    """Colour feature similarity index FSIMc (Zhang et al. 2011; seed 002, Eqs. 6-8), as FeatureSIM.m.

    :func:`fsim`'s local similarity times ``(S_I * S_Q)^lambda`` where I and Q are the YIQ
    chrominance channels, T3 = T4 = 200 and lambda = 0.03 (the real part of the power, as the
    reference, when S_I * S_Q < 0). Same scaling, downsampling and precision as :func:`fsim`.

    Args:
        x, y: (N, 3, H, W) RGB images in ``[0, data_range]``, H and W >= 6.
        data_range: the peak value.
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.
    """
    return _fsim_index(x, y, data_range, reduction, chromatic=True)
