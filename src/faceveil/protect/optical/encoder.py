"""The optical encoder as one module: mask -> PSF -> optical convolution -> sensor (seed 000, Eq. 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..._checks import check_int
from .optics import AmplitudeMask, lenslet_blur, optical_convolution, point_spread_function
from .physics import SYSTEMS, optical_setup
from .sensor import SensorConfig, capture


@dataclass(frozen=True)
class EncoderConfig:
    """An optical encoder.

    Attributes:
        system: ``"mem-fr"`` (5 x 5 mask on a microlens array, dilated PSF) or ``"loen"`` (lensless mask).
        image_size: side of the simulated scene in pixels (seed 000: 160).
        kernel_size: side of the mask in elements (seed 000: 5).
        dilation: tap spacing in pixels; None: the system's (8 for MEM-FR, 1 for LOEN) scaled to
            ``image_size`` (:meth:`faceveil.protect.optical.physics.OpticalSetup.dilation_at`), so the PSF
            covers the same part of the face at any resolution.
        diffraction: blur each tap by the lenslet's diffraction spot (MEM-FR only).
        mask_seed: initialisation of the mask.
        sensor: the sensor behind the optics.
    """

    system: str = "mem-fr"
    image_size: int = 160
    kernel_size: int = 5
    dilation: int | None = None
    diffraction: bool = False
    mask_seed: int = 0
    sensor: SensorConfig = field(default_factory=SensorConfig)

    def __post_init__(self) -> None:
        setup = optical_setup(self.system)
        check_int(self.image_size, "image_size", 16)
        check_int(self.kernel_size, "kernel_size", 1)
        if self.dilation is not None:
            check_int(self.dilation, "dilation", 1)
        if self.diffraction and setup.lenslet_focal_m is None:
            raise ValueError(f"diffraction=True models the lenslets' blur; the {self.system} set-up has no lenslets "
                             f"(choose system {SYSTEMS[0]!r} or diffraction=False)")
        if not isinstance(self.sensor, SensorConfig):
            raise ValueError(f"sensor must be a SensorConfig, got {type(self.sensor).__name__}")

    @property
    def resolved_dilation(self) -> int:
        """The dilation in pixels actually used."""
        return self.dilation if self.dilation is not None else optical_setup(self.system).dilation_at(self.image_size)

    @property
    def psf_support(self) -> int:
        """Side of the dilated mask in pixels (before any lenslet blur): 33 for MEM-FR at 160 pixels."""
        return self.resolved_dilation * (self.kernel_size - 1) + 1


class OpticalEncoder(nn.Module):
    """Scene (N, C, H, W) in [0, 1] -> the sensor's image (N, C, H, W) in [0, 1].

    ``binary`` selects the deployable binary mask (straight-through gradients) instead of the relaxed one;
    it is saved in checkpoints.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.setup = optical_setup(config.system)
        self.dilation = config.resolved_dilation
        self.mask = AmplitudeMask(config.kernel_size, config.mask_seed)
        blur = lenslet_blur(self.setup, self.dilation) if config.diffraction else None
        self.register_buffer("blur", blur, persistent=False)
        self.binary = False

    def transmissions(self) -> torch.Tensor:
        """The mask's (k, k) transmissions in use: binary or relaxed."""
        return self.mask(self.binary)

    def psf(self) -> torch.Tensor:
        """The normalised PSF (s, s), s = :attr:`EncoderConfig.psf_support` (+ blur), sum 1."""
        return point_spread_function(self.transmissions(), self.dilation, self.blur)

    def response(self) -> torch.Tensor:
        """The linear response from scene to recorded image (s, s): the PSF times the sensor's exposure,
        what a non-blind attacker who knows the mask deconvolves with."""
        return self.psf() * self.config.sensor.exposure

    def irradiance(self, scene: torch.Tensor) -> torch.Tensor:
        """f * h: the noiseless irradiance on the sensor, (N, C, H, W) in [0, 1]."""
        return optical_convolution(scene, self.psf())

    def forward(self, scene: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The recorded image f * h + n (Eq. 1); ``generator`` draws the sensor noise (required with noise)."""
        return capture(self.irradiance(scene), self.config.sensor, generator)
