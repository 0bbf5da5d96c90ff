"""The image sensor behind the optics: photo-electrons, shot and read noise, full well, 8-bit output.

This is the noise term n of seed 000's Eq. 1 (g = f * h + n), which the paper names but does not model.
The model is the standard one for a CMOS pixel (EMVA 1288): a pixel under irradiance g collects on
average ``lambda = g * exposure * full_well`` electrons; it records ``Poisson(lambda)`` electrons plus
Gaussian read noise of ``read_noise_electrons``; the charge saturates at the full well; the ADC divides by
the gain ``electrons_per_dn = full_well / (2^bits - 1)`` and rounds to an integer grey level. In grey
levels (DN) the noise is zero-mean with variance

    Var[DN] = S / gain + (read_noise / gain)^2,   S = lambda / gain  (the mean signal in DN)

(plus 1/12 from the rounding). A simulated pixel may sum several sensor pixels (``binning``, the scene
pixel's area on the sensor): each sensor pixel rounds its own charge, so their mean carries a rounding
error of variance 1/(12 binning) DN^2 (the shot noise dithers it), drawn as such; at binning <= 1 the
value is rounded. The defaults are typical of the Sony IMX250 sensor of the FLIR
BFS-U3-51S5C used by seed 000 (about 10.5 ke- full well, 2.3 e- read noise); they are not from the paper.

The noise is drawn from a ``torch.Generator`` and added as a constant (no gradient through the draw);
the rounding passes gradients straight through, so the whole sensor can sit inside a trained model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..._checks import check_images, check_int, check_positive, check_unit_interval


@dataclass(frozen=True)
class SensorConfig:
    """Sensor settings.

    Attributes:
        noise: draw shot and read noise (False: the noiseless expected image).
        full_well_electrons: charge at which a pixel saturates.
        read_noise_electrons: standard deviation of the Gaussian read noise (>= 0).
        exposure: fraction of the full well a uniform white scene fills, in (0, 1]; lower means darker
            images and relatively more noise.
        bits: ADC bits (8: grey levels 0..255).
        quantize: round to integer grey levels (straight-through gradients); with ``binning`` > 1 the
            mean of the rounded sensor pixels (its rounding error drawn, without noise omitted).
    """

    noise: bool = True
    full_well_electrons: float = 10500.0
    read_noise_electrons: float = 2.3
    exposure: float = 0.8
    bits: int = 8
    quantize: bool = True

    def __post_init__(self) -> None:
        check_positive(self.full_well_electrons, "full_well_electrons")
        if not float(self.read_noise_electrons) >= 0:
            raise ValueError(f"read_noise_electrons must be >= 0, got {self.read_noise_electrons!r}")
        if check_unit_interval(self.exposure, "exposure") == 0:
            raise ValueError("exposure must be > 0: a zero exposure records nothing")
        check_int(self.bits, "bits", 1, 16)

    @property
    def max_level(self) -> int:
        """The largest grey level, 2^bits - 1."""
        return 2**self.bits - 1

    @property
    def electrons_per_dn(self) -> float:
        """The conversion gain: the full well maps to the largest grey level."""
        return self.full_well_electrons / self.max_level


def shot_and_read_noise(electrons: torch.Tensor, read_noise_electrons: float,
                        generator: torch.Generator) -> torch.Tensor:
    """Zero-mean sensor noise in electrons for mean charges ``electrons`` (any shape, >= 0):
    ``Poisson(electrons) - electrons + read_noise_electrons * N(0, 1)``, variance ``electrons + read_noise^2``.
    Not differentiable (a sample)."""
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if float(electrons.min()) < 0:
        raise ValueError(f"mean charges must be >= 0, got a minimum of {float(electrons.min()):.4g}")
    with torch.no_grad():
        # drawn where the generator lives (a CPU generator also serves tensors on a GPU)
        mean = electrons.to(generator.device)
        shot = torch.poisson(mean, generator=generator) - mean
        read = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return (shot + read_noise_electrons * read).to(electrons.device)


def rounding_error(levels: torch.Tensor, binning: float, generator: torch.Generator) -> torch.Tensor:
    """The error of the mean of ``binning`` (> 1) independently rounded, noise-dithered grey levels: zero-mean,
    variance 1/(12 binning) DN^2 (a Gaussian, by the central limit theorem), a constant for gradients."""
    with torch.no_grad():
        draw = torch.randn(levels.shape, generator=generator, dtype=levels.dtype, device=generator.device)
        return (draw * (12 * binning) ** -0.5).to(levels.device)


def capture(irradiance: torch.Tensor, config: SensorConfig, generator: torch.Generator | None = None,
            binning: float = 1.0) -> torch.Tensor:
    """The recorded image of an irradiance pattern.

    Args:
        irradiance: (N, C, H, W) >= 0, in units of the irradiance at which ``config.exposure`` of the full
            well fills (1: a uniform white scene through the reference aperture).
        config: the sensor.
        generator: source of the noise; required when ``config.noise`` is set.
        binning: sensor pixels summed into each output pixel (> 0; a fraction when an output pixel is
            smaller than a sensor pixel): the charge, full well and read-noise variance scale with it, so
            the shot-noise SNR grows as its square root. The output is the mean grey level per sensor pixel.

    Returns:
        (N, C, H, W) grey levels / (2^bits - 1), irradiance x exposure up to the noise and saturation (in
        [0, 1]); with ``config.quantize`` on the grid of grey levels at ``binning`` <= 1, the mean of
        ``binning`` rounded pixels above. Differentiable with respect to ``irradiance``.
    """
    check_images(irradiance, "irradiance")
    check_positive(binning, "binning")
    if config.noise and generator is None:
        raise ValueError("the sensor adds noise: pass a torch.Generator (or use a SensorConfig with noise=False)")
    full_well = config.full_well_electrons * binning
    electrons = irradiance.clamp(min=0) * (config.exposure * full_well)
    if config.noise:
        electrons = electrons + shot_and_read_noise(electrons.detach(), config.read_noise_electrons * binning ** 0.5,
                                                    generator)
    levels = electrons.clamp(0, full_well) / (config.electrons_per_dn * binning)
    if config.quantize and binning <= 1:
        levels = levels + (levels.round() - levels).detach()
    elif config.quantize and config.noise:
        # a mean of rounded non-negative levels stays in range
        levels = (levels + rounding_error(levels, binning, generator)).clamp(0, config.max_level)
    return levels / config.max_level
