"""Seed 001's optical set-up, simulated: a binary face shown as phase on an SLM, relayed onto a ground-glass
diffuser, relayed again towards a camera that records the speckle 0, 20 or 40 mm from the focal plane.

The chain, for faces (N, H, W) in [0, 1] (binary, :func:`binarize`, as in the paper; or grey levels,
:func:`grey_levels`, its future work):

1. **SLM** (8 um pixels, the central 800 x 800 lit): the face resized to the window (nearest: SLM pixels are
   squares), phase ``phase_contrast * face``, zero amplitude outside the window.
2. **Relay 1** (L1 f = 300 mm, L2 f = 125 mm: magnification 0.417): the SLM's image on the diffuser, with
   pitch 8 um x 0.417 = 3.33 um and the relay's pupil (image-side NA ``slm_relay_na``). The image
   inversion of a 4f relay is left out (it flips every face the same way).
3. **Diffuser**: one seeded phase screen per grit and ``diffuser_seed`` (:mod:`.diffuser`), on a grid
   ``oversample`` times finer than the SLM image so that the light the screen scatters does not alias into
   the camera's pupil (chosen from the grit's angular spread unless set).
4. **Relay 2** (the camera side, NA ``camera_na``), then the field on the propagation grid (pitch
   ``grid_pitch_um``, a whole multiple of the SLM image pitch, at most lambda / (2 NA)) and the band-limited
   angular-spectrum defocus to each distance (:mod:`.optics`), padded so that nothing wraps round.
5. **Camera** (3.6 um pixels): the intensity averaged over each pixel of the central ``camera_pixels``
   window, auto-exposed (the mean at ``sensor.exposure`` of the full well), shot and read noise, 8 bits
   (:func:`faceveil.protect.optical.sensor.capture`); then, as in the paper, resized (bilinear) to
   ``output_size`` and normalised to [0, 1] per pattern.

Two shipped settings (:data:`SETTINGS`): ``full`` is the paper's geometry (800 x 800 camera pixels of
3.6 um, output 200 x 200); ``cpu`` is the same set-up with the camera relay stopped down to NA 0.02 and
4 x 4 binned camera pixels (14.4 um), sampled at 13.3 um: speckle grains four times coarser, 200 x 200
camera pixels, a propagation grid of a few hundred samples instead of a few thousand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from ..._checks import check_choice, check_int, check_positive
from ...protect.optical.sensor import SensorConfig, capture
from .diffuser import N_BK7, Grit, calibrate_phase_rms, grit as as_grit, phase_screen
from .optics import good_fft_size, padded_size, pupil, resample_spectrum, transfer_function

#: the camera distances of seed 001 (mm from the focal plane)
DISTANCES_MM = (0.0, 20.0, 40.0)
#: the most complex field the simulator holds at once (bytes); the full setting's 40 mm grid is 0.6 GB a face
MAX_FIELD_BYTES = 2 * 2**30


@dataclass(frozen=True)
class SpeckleConfig:
    """The optical set-up, in physical units (names say which).

    Attributes:
        wavelength_nm: the laser (HeNe, 632.8 nm).
        slm_pitch_um, slm_pixels: the SLM's pixel pitch and the side of the lit window that shows the face.
        magnification: relay 1, SLM -> diffuser (f2 / f1 = 125 / 300).
        slm_relay_na: image-side numerical aperture of relay 1.
        camera_na: numerical aperture of relay 2, diffuser -> camera.
        grid_pitch_um: pitch of the propagation grid (None: the SLM image pitch); a whole multiple of it.
        oversample: diffuser grid = SLM image pitch / oversample (None: the smallest that keeps the
            screen's scattered light from aliasing into the camera pupil).
        camera_pitch_um, camera_pixels: the camera's pixel pitch and the side of the recorded window.
        phase_contrast: the SLM's phase for a white pixel (radians; black is 0).
        index: the diffuser's refractive index (N-BK7).
        sensor: exposure, noise and bits of the camera (exposure: where the pattern's mean sits).
        output_size: side of the normalised pattern the networks see.
        diffuser_seed: seed of the phase screens (one physical diffuser per grit and seed).
        margin: extra samples of padding on every grid.
    """

    wavelength_nm: float = 632.8
    slm_pitch_um: float = 8.0
    slm_pixels: int = 800
    magnification: float = 125.0 / 300.0
    slm_relay_na: float = 0.09
    camera_na: float = 0.09
    grid_pitch_um: float | None = None
    oversample: int | None = None
    camera_pitch_um: float = 3.6
    camera_pixels: int = 800
    phase_contrast: float = math.pi
    index: float = N_BK7
    sensor: SensorConfig = field(default_factory=lambda: SensorConfig(exposure=0.25))
    output_size: int = 200
    diffuser_seed: int = 0
    margin: int = 16

    def __post_init__(self) -> None:
        for name in ("wavelength_nm", "slm_pitch_um", "magnification", "slm_relay_na", "camera_na",
                     "camera_pitch_um"):
            check_positive(getattr(self, name), name)
        for name in ("slm_pixels", "camera_pixels", "output_size"):
            check_int(getattr(self, name), name, 8)
        if self.oversample is not None:
            check_int(self.oversample, "oversample", 1, 16)
        ratio = self.grid_ratio
        if ratio < 1 or abs(ratio - round(ratio)) > 1e-6:
            raise ValueError(f"grid_pitch_um must be a whole multiple of the SLM image pitch "
                             f"({self.image_pitch * 1e6:.4g} um), got {self.grid_pitch_um}")
        for name, na, pitch in (("slm_relay_na", self.slm_relay_na, self.image_pitch),
                                ("camera_na", self.camera_na, self.grid_pitch)):
            if na > self.wavelength / (2 * pitch) * (1 + 1e-9):
                raise ValueError(f"{name} {na} exceeds what a {pitch * 1e6:.4g} um grid samples "
                                 f"(lambda / (2 dx) = {self.wavelength / (2 * pitch):.4g})")

    @property
    def wavelength(self) -> float:
        """metres"""
        return self.wavelength_nm * 1e-9

    @property
    def image_pitch(self) -> float:
        """The SLM pixel's image on the diffuser (metres)."""
        return self.slm_pitch_um * 1e-6 * self.magnification

    @property
    def grid_pitch(self) -> float:
        """Pitch of the propagation grid (metres)."""
        return self.grid_pitch_um * 1e-6 if self.grid_pitch_um is not None else self.image_pitch

    @property
    def grid_ratio(self) -> float:
        return self.grid_pitch / self.image_pitch

    def diffuser_oversample(self, g: Grit | None) -> int:
        """Diffuser grid = SLM image pitch / this. Unless set, the smallest factor whose Nyquist frequency
        F satisfies 2F >= f_screen + f_relay1 + f_camera (frequencies folded by the sampling then land
        outside the camera pupil), with f_screen = sin(1.3 FWHM) / lambda (about 99 % of the halo), and that
        samples the screen's correlation length at l / 2 or finer."""
        if self.oversample is not None:
            return self.oversample
        if g is None:
            return 1
        top = (math.sin(min(math.pi / 2, 1.3 * math.radians(g.fwhm_deg))) + self.slm_relay_na
               + self.camera_na) / self.wavelength
        largest_pitch = min(1 / top, g.correlation_um * 1e-6 / 2)
        return max(1, math.ceil(self.image_pitch / largest_pitch - 1e-9))


#: shipped settings: the paper's geometry, and a CPU one (relay 2 stopped down, camera binned 4 x 4)
SETTINGS = {
    "full": SpeckleConfig(),
    "cpu": SpeckleConfig(camera_na=0.02, grid_pitch_um=4 * 8.0 * 125.0 / 300.0, camera_pitch_um=14.4,
                         camera_pixels=200, output_size=64),
}


def speckle_config(name: str = "cpu", **overrides) -> SpeckleConfig:
    """A shipped setting (:data:`SETTINGS`) with fields replaced."""
    if name not in SETTINGS:
        raise ValueError(f"unknown speckle setting {name!r}: choose one of {', '.join(SETTINGS)}")
    return replace(SETTINGS[name], **overrides)


def otsu_threshold(gray: torch.Tensor) -> torch.Tensor:
    """Otsu's threshold (IEEE SMC 9, 62 (1979)) of each image: the grey level that maximises the
    between-class variance of a 256-bin histogram. gray (N, H, W) in [0, 1] -> (N,) in [0, 1]."""
    levels = (gray.clamp(0, 1) * 255).round().long().flatten(1)
    hist = torch.zeros(len(levels), 256, dtype=torch.float64).scatter_add_(1, levels, torch.ones_like(levels,
                                                                                                 dtype=torch.float64))
    p = hist / hist.sum(1, keepdim=True)
    omega = p.cumsum(1)
    mu = (p * torch.arange(256, dtype=torch.float64)).cumsum(1)
    between = (mu[:, -1:] * omega - mu) ** 2 / (omega * (1 - omega)).clamp_min(1e-12)
    # an empty gap between the classes gives a plateau of maxima: take its middle
    best = between >= between.amax(1, keepdim=True) * (1 - 1e-9)
    levels = torch.arange(256, dtype=torch.float64)
    return ((best * levels).sum(1) / best.sum(1) + 0.5) / 255


#: what the SLM shows: the paper's binary faces, or grey levels (its future work)
TARGETS = ("binary", "grey")


def _luma(chips: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma: chips (N, 3, H, W) or (N, 1, H, W) in [0, 1] -> (N, H, W)."""
    if chips.ndim != 4 or chips.shape[1] not in (1, 3):
        raise ValueError(f"chips must be (N, 1 or 3, H, W), got {tuple(chips.shape)}")
    return chips[:, 0] if chips.shape[1] == 1 else (0.299 * chips[:, 0] + 0.587 * chips[:, 1] + 0.114 * chips[:, 2])


def binarize(chips: torch.Tensor) -> torch.Tensor:
    """Binary faces as the SLM shows them: luma (ITU-R BT.601) of each chip, thresholded at its Otsu level.
    Hair, ears and background stay: they are in the chip (use a loose chip, e.g. padding 0.5, for all of
    them). chips (N, 3, H, W) or (N, 1, H, W) in [0, 1] -> (N, H, W) float in {0, 1}."""
    gray = _luma(chips)
    threshold = otsu_threshold(gray).to(gray.dtype)
    return (gray > threshold[:, None, None]).to(gray.dtype)


def grey_levels(chips: torch.Tensor, low: float = 0.01, high: float = 0.99) -> torch.Tensor:
    """Grey-level faces (the paper's future work): each chip's luma stretched to [0, 1] between its ``low``
    and ``high`` quantiles (clipped), so that every face spans the SLM's whole phase range.
    chips (N, 3, H, W) or (N, 1, H, W) in [0, 1] -> (N, H, W) float in [0, 1]."""
    gray = _luma(chips)
    bounds = torch.quantile(gray.flatten(1).float(), torch.tensor([low, high]), dim=1).to(gray.dtype)
    lo, hi = bounds[0][:, None, None], bounds[1][:, None, None]
    return ((gray - lo) / (hi - lo).clamp_min(1e-6)).clamp(0, 1)


def slm_faces(chips: torch.Tensor, target: str = "binary") -> torch.Tensor:
    """The faces the SLM shows for ``target`` (:data:`TARGETS`): :func:`binarize` or :func:`grey_levels`."""
    check_choice(target, "target", TARGETS)
    return binarize(chips) if target == "binary" else grey_levels(chips)


def label_maps(faces: torch.Tensor, size: int, target: str = "binary") -> torch.Tensor:
    """The networks' labels: SLM faces (N, H, W) in [0, 1] -> (N, 1, size, size), resized by the nearest
    pixel for binary faces (they stay in {0, 1}) and by area averaging for grey ones."""
    check_choice(target, "target", TARGETS)
    mode = "nearest" if target == "binary" else "area"
    return F.interpolate(faces[:, None].float(), size=(size, size), mode=mode)


def _centre(big: int, small: int) -> slice:
    start = (big - small) // 2
    return slice(start, start + small)


class SpeckleSimulator:
    """The set-up of ``config`` with the diffuser of ``grit`` (a name of :data:`~.diffuser.GRITS`, a
    :class:`~.diffuser.Grit`, or None: no diffuser). Phase screens and transfer functions are made once
    per simulator.

    Args:
        config: the optics; grit: the diffuser; device: where the FFTs run.
    """

    def __init__(self, config: SpeckleConfig, grit: str | Grit | None, device: str | torch.device = "cpu") -> None:
        self.config, self.device = config, torch.device(device)
        self.grit = None if grit is None else as_grit(grit)
        c = config
        self.oversample = c.diffuser_oversample(self.grit)
        self.ratio = int(round(c.grid_ratio))
        self.fine_pitch = c.image_pitch / self.oversample
        # the diffuser grid holds the SLM image and a margin; a multiple of oversample * ratio samples so that
        # the propagation grid divides it exactly
        step = self.oversample * self.ratio
        self.fine_n = step * good_fft_size(math.ceil((c.slm_pixels * self.oversample + c.margin) / step))
        self.coarse_n = self.fine_n // step
        self.sigma_phi = None if self.grit is None else calibrate_phase_rms(self.grit, c.wavelength)
        self.screen = None if self.grit is None else phase_screen(
            self.fine_n, self.fine_pitch, self.grit.correlation_um * 1e-6, self.sigma_phi,
            seed=c.diffuser_seed * 1000 + int(self.grit.name), device=self.device)
        self.relay1 = pupil(self.fine_n, self.fine_pitch, c.wavelength, c.slm_relay_na, self.device)
        self.relay2 = pupil(self.fine_n, self.fine_pitch, c.wavelength, c.camera_na, self.device)
        self.camera_width = c.camera_pixels * c.camera_pitch_um * 1e-6 / c.grid_pitch  # in grid samples
        self._transfer: dict[float, tuple[int, torch.Tensor]] = {}

    def grid_size(self, distance_mm: float) -> int:
        """Side of the propagation grid at ``distance_mm``: the diffuser field or the camera window,
        whichever is wider, plus the spread of the light inside the camera pupil."""
        c = self.config
        width = max(self.coarse_n, math.ceil(self.camera_width))
        return padded_size(width, c.grid_pitch, c.wavelength, c.camera_na, distance_mm * 1e-3, c.margin)

    def diffuser_field(self, faces: torch.Tensor) -> torch.Tensor:
        """The field just after relay 2's pupil, on the propagation grid: faces (N, H, W) in [0, 1] (binary
        or grey: the SLM's phase is ``phase_contrast`` times the level) -> (N, coarse_n, coarse_n) complex128
        (amplitude 1: the lit SLM window under a unit plane wave)."""
        c = self.config
        if faces.ndim != 3:
            raise ValueError(f"faces must be (N, H, W), got {tuple(faces.shape)}")
        window = c.slm_pixels * self.oversample
        shown = F.interpolate(faces[:, None].to(self.device, torch.float64), size=(window, window),
                              mode="nearest")[:, 0]
        field = torch.zeros(len(faces), self.fine_n, self.fine_n, dtype=torch.complex128, device=self.device)
        inside = _centre(self.fine_n, window)
        field[:, inside, inside] = torch.polar(torch.ones_like(shown), c.phase_contrast * shown)
        field = torch.fft.ifft2(torch.fft.fft2(field) * self.relay1)
        if self.screen is not None:
            field = field * torch.polar(torch.ones_like(self.screen), self.screen)
        # the propagation grid samples every frequency of relay 2's pupil
        return resample_spectrum(torch.fft.fft2(field) * self.relay2, self.coarse_n)

    def intensity(self, faces: torch.Tensor, distance_mm: float) -> torch.Tensor:
        """Noise-free intensity on the camera window at ``distance_mm`` from the focal plane, averaged over
        each camera pixel: (N, camera_pixels, camera_pixels) float64, 1 = the unit plane wave."""
        return self.intensities(faces, (distance_mm,))[0]

    def intensities(self, faces: torch.Tensor, distances_mm=DISTANCES_MM) -> list[torch.Tensor]:
        """:meth:`intensity` at each distance, from one diffuser field per face; faces go through the
        propagation a few at a time (at most ``MAX_FIELD_BYTES`` of complex field at once)."""
        c = self.config
        for z in distances_mm:
            n = self.grid_size(z)
            if z not in self._transfer or self._transfer[z][0] != n:
                self._transfer[z] = (n, transfer_function(n, c.grid_pitch, c.wavelength, z * 1e-3, self.device))
        chunk = max(1, MAX_FIELD_BYTES // (16 * (2 * max(self.grid_size(z) for z in distances_mm)) ** 2))
        parts = [[] for _ in distances_mm]
        for start in range(0, len(faces), chunk):
            near = self.diffuser_field(faces[start:start + chunk])
            for k, z in enumerate(distances_mm):
                n, transfer = self._transfer[z]
                grid = torch.zeros(len(near), n, n, dtype=near.dtype, device=self.device)
                inside = _centre(n, self.coarse_n)
                grid[:, inside, inside] = near
                # the intensity has twice the field's band: sample the field twice as finely before squaring,
                # so that averaging over each camera pixel integrates the speckle rather than aliasing it
                far = resample_spectrum(torch.fft.fft2(grid) * transfer, 2 * n)
                window = math.ceil(2 * self.camera_width)
                crop = far[:, _centre(2 * n, window), _centre(2 * n, window)].abs() ** 2
                parts[k].append(F.interpolate(crop[:, None], size=(c.camera_pixels, c.camera_pixels),
                                              mode="area")[:, 0])
        return [torch.cat(p) for p in parts]

    def record(self, intensity: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The camera's 8-bit frame of an intensity (N, P, P), auto-exposed, resized to ``output_size`` and
        normalised to [0, 1] per pattern: (N, S, S) float32 in [0, 1]. ``generator`` draws the noise (needed
        when the sensor has noise)."""
        c = self.config
        mean = intensity.mean(dim=(1, 2), keepdim=True).clamp_min(1e-30)
        frame = capture((intensity / mean)[:, None].float(), c.sensor, generator)[:, 0]
        if frame.shape[-1] != c.output_size:
            frame = F.interpolate(frame[:, None], size=(c.output_size, c.output_size), mode="bilinear",
                                  antialias=True, align_corners=False)[:, 0]
        low = frame.amin(dim=(1, 2), keepdim=True)
        high = frame.amax(dim=(1, 2), keepdim=True)
        return ((frame - low) / (high - low).clamp_min(1e-12)).clamp(0, 1)

    def __call__(self, faces: torch.Tensor, distances_mm=DISTANCES_MM, seed: int = 0) -> list[torch.Tensor]:
        """Speckle patterns of faces (N, H, W) in [0, 1] (binary or grey) at each distance: a list of (N, S, S) float32
        in [0, 1]. The camera noise is drawn from ``seed`` (one stream per distance)."""
        frames = []
        for i, intensity in enumerate(self.intensities(faces, distances_mm)):
            generator = torch.Generator().manual_seed(int(seed) * 1009 + i) if self.config.sensor.noise else None
            frames.append(self.record(intensity, generator))
        return frames
