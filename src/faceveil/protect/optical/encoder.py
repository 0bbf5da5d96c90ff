"""The optical encoder as one module: mask -> PSF -> optical convolution -> sensor (seed 000, Eq. 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..._checks import check_images, check_int, check_positive
from .optics import AmplitudeMask, element_footprints, footprint_radius, optical_convolution, point_spread_function
from .physics import SYSTEMS, optical_setup
from .sensor import SensorConfig, capture


@dataclass(frozen=True)
class EncoderConfig:
    """An optical encoder.

    Attributes:
        system: ``"mem-fr"`` (5 x 5 mask on a microlens array, dilated PSF) or ``"loen"`` (lensless mask).
        image_size: side of the simulated scene in pixels (seed 000: 160).
        kernel_size: side of the mask in elements (seed 000: 5).
        dilation: element pitch on the scene grid in pixels (Fig. 2's "dilation"), a float; None: derived
            from the optics (:meth:`faceveil.protect.optical.physics.OpticalSetup.element_pitch_px`: 5.24
            for MEM-FR, 7.22 for LOEN at 80 pixels), so the PSF covers the same part of the face at any
            resolution.
        diffraction: blur each tap by the lenslet's diffraction spot (MEM-FR only).
        mask_seed: initialisation of the mask.
        sensor: the sensor behind the optics.
    """

    system: str = "mem-fr"
    image_size: int = 160
    kernel_size: int = 5
    dilation: float | None = None
    diffraction: bool = False
    mask_seed: int = 0
    sensor: SensorConfig = field(default_factory=SensorConfig)

    def __post_init__(self) -> None:
        setup = optical_setup(self.system)
        check_int(self.image_size, "image_size", 16)
        check_int(self.kernel_size, "kernel_size", 1)
        if self.dilation is not None:
            check_positive(self.dilation, "dilation")
        if self.diffraction and setup.lenslet_focal_m is None:
            raise ValueError(f"diffraction=True models the lenslets' blur; the {self.system} set-up has no lenslets "
                             f"(choose system {SYSTEMS[0]!r} or diffraction=False)")
        if not isinstance(self.sensor, SensorConfig):
            raise ValueError(f"sensor must be a SensorConfig, got {type(self.sensor).__name__}")

    @property
    def resolved_dilation(self) -> float:
        """The element pitch in pixels actually used."""
        setup = optical_setup(self.system)
        return float(self.dilation) if self.dilation is not None else setup.element_pitch_px(self.image_size)

    @property
    def binning(self) -> float:
        """Sensor pixels summed into one simulated pixel (:meth:`~faceveil.protect.optical.physics.
        OpticalSetup.sensor_pixels_per_scene_pixel`)."""
        return optical_setup(self.system).sensor_pixels_per_scene_pixel(self.image_size)

    def footprints(self):
        """The (k, k, s, s) element footprints of this encoder (:func:`~.optics.element_footprints`)."""
        return element_footprints(optical_setup(self.system), self.image_size, self.kernel_size, self.dilation,
                                  self.diffraction)

    @property
    def psf_support(self) -> int:
        """Side s of the PSF in pixels (25 for MEM-FR, 41 for LOEN at 80 pixels)."""
        setup = optical_setup(self.system)
        return 2 * footprint_radius(setup, self.image_size, self.kernel_size, self.dilation, self.diffraction) + 1


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
        self.register_buffer("footprints", config.footprints(), persistent=False)
        self.binary = False

    def transmissions(self) -> torch.Tensor:
        """The mask's (k, k) transmissions in use: binary or relaxed."""
        return self.mask(self.binary)

    def psf(self) -> torch.Tensor:
        """The PSF (s, s) of the transmissions in use; its sum is the mask's light (:mod:`.optics`)."""
        return point_spread_function(self.transmissions(), self.footprints)

    def response(self) -> torch.Tensor:
        """The linear response from scene to recorded image (s, s): the PSF times the sensor's exposure,
        what a non-blind attacker who knows the mask deconvolves with."""
        return self.psf() * self.config.sensor.exposure

    def irradiance(self, scene: torch.Tensor) -> torch.Tensor:
        """f * h: the noiseless irradiance on the sensor, (N, C, H, W), in units of a white scene through
        the reference solid angle."""
        return optical_convolution(scene, self.psf())

    def forward(self, scene: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The recorded image f * h + n (Eq. 1); ``generator`` draws the sensor noise (required with noise).
        Each simulated pixel sums the charges of :attr:`EncoderConfig.binning` sensor pixels."""
        return capture(self.irradiance(scene), self.config.sensor, generator, self.config.binning)

    @torch.no_grad()
    def encrypt(self, scenes: torch.Tensor, generator: torch.Generator | None = None,
                batch_size: int = 64) -> torch.Tensor:
        """Sensor images (N, C, S, S) in [0, 1] of scenes (N, C, S, S) in [0, 1], in batches, without gradients
        (one ``generator`` draws the noise of every batch in turn)."""
        check_int(batch_size, "batch_size", 1)
        check_images(scenes, "scenes")
        return torch.cat([self(batch, generator) for batch in scenes.split(batch_size)])
