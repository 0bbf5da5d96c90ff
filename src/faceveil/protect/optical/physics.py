"""The physical set-ups of seed 000 (MEM-FR and LOEN) and the numbers derived from them (Table 1).

Seed 000, Sec. 3.1: a scene of 14.2 cm x 14.2 cm on a screen (160 x 160 pixels in the simulation),
l1 = 42.6 cm from the mask, a FLIR BFS-U3-51S5C sensor (3.45 um pixels).

* MEM-FR: a binary mask of 300 um features directly in front of a microlens array (Thorlabs
  MLA300-14AR, 300 um square lenslets, focal length 14.2 mm), sensor at l2 = 14.2 mm.
* LOEN (seed 000's ref. 24): a binary mask of 30 um features, sensor at l2 = 1 mm, no lenses.

Both have a smallest PSF feature Delta_0 of about 30 um on the sensor (Sec. 2.1): LOEN by the mask's
shadow, MEM-FR because each lenslet focuses its 300 um aperture to a diffraction-limited spot
(the first zero of a 300 um square lens at f = 14.2 mm lies at lambda f / D = 26 um for green light).

Derived here:

* spatial resolution Delta = Delta_0 l1 / l2 (Eq. 2, reconstructed from "Delta / Delta_0 = l1 / l2"):
  0.90 mm for MEM-FR, 12.8 mm for LOEN, i.e. 14.2 times finer (Sec. 2.1);
* effective resolution = scene size / Delta: 158 (the paper rounds to 160 x 160) and 11 (the paper's
  "11 x 11");
* the PSF geometry on the scene grid, from the same similar triangles. Mask element (or lenslet) c at
  pitch p sends a scene point X to the sensor at x = c + (c - X) l2 / l1 (its chief ray), so the images
  of one point through neighbouring elements lie p (1 + l2 / l1) apart on the sensor, i.e.
  p (l1 + l2) / l2 apart in scene units (:attr:`OpticalSetup.element_pitch_m`): 9.30 mm for MEM-FR
  (10.5 pixels of a 160-pixel scene; the paper's hand-set dilation is 8), 12.8 mm for LOEN (7.2 pixels
  of an 80-pixel scene). A lenslet focuses its share of the light to a diffraction-limited spot (a
  point tap); a lensless opening casts its own shadow, as wide as the pitch (a box tap,
  :attr:`OpticalSetup.tap_width_m`);
* light: one open element passes the solid angle a^2 / l2^2 of the scene to each sensor pixel
  (:attr:`OpticalSetup.element_solid_angle_sr`: 4.5e-4 sr per lenslet, 9.0e-4 sr per LOEN opening), so a
  white scene's irradiance is the sum over open elements; the sensor's exposure is set once, for the
  solid angle :data:`REFERENCE_SOLID_ANGLE_SR` (the open 5 x 5 LOEN mask), and shared by every system. A
  scene pixel covers :meth:`OpticalSetup.sensor_pixels_per_scene_pixel` sensor pixels (294 for MEM-FR,
  1.5 for LOEN at 80 pixels), whose charges it sums: MEM-FR collects 100 times more light per scene
  pixel per element, which is what its lenslets buy;
* relative light throughput, measured in the paper as the intensity at the centre of the PSF of one
  point source at equal exposure: computed here for one open mask feature with scalar Fresnel
  diffraction (:func:`centre_irradiance`).

Table 1 is *measured* on the prototypes (:data:`PAPER_TABLE_1`). Its MEM-FR resolution (0.9 mm) equals
Eq. 2; its LOEN resolution (10.6 mm) is finer than Eq. 2's 12.8 mm (the paper's own text uses 12.8 mm:
"11 x 11", "14.2 times"). Its light throughput ratio, 4.37, is far below the ideal diffraction ratio
(about 66 at 550 nm): the model has no lens aberrations, fill-factor, alignment or sensor-saturation
losses, and the paper gives no way to derive 4.37; the field of view (28.02 and 34.51 degrees) is a
measurement of the dynamic range and is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy.special import fresnel

from ..._checks import check_choice, check_int, check_positive

#: seed 000, Table 1 ("Experimental Results and System Performance"), measured on the prototypes
PAPER_TABLE_1 = {
    "loen": {"simulation_accuracy": 0.9092, "physical_accuracy": 0.8707, "fov_deg": 28.02,
             "relative_light_throughput": 1.00, "spatial_resolution_mm": 10.6},
    "mem-fr": {"simulation_accuracy": 0.9497, "physical_accuracy": 0.9233, "fov_deg": 34.51,
               "relative_light_throughput": 4.37, "spatial_resolution_mm": 0.9},
}

SYSTEMS = ("mem-fr", "loen")
#: the solid angle through which a white scene fills ``SensorConfig.exposure`` of the full well: the open
#: 5 x 5 LOEN mask, 25 (30 um / 1 mm)^2 sr; one exposure setting for every system compared
REFERENCE_SOLID_ANGLE_SR = 25 * (30e-6 / 1e-3) ** 2


@dataclass(frozen=True)
class OpticalSetup:
    """One optical encoder's geometry (SI units: metres).

    Attributes:
        name: ``"mem-fr"`` or ``"loen"``.
        mask_to_sensor_m: l2, from the mask (and the microlens array behind it) to the sensor.
        mask_feature_m: side of one square mask element (= the lenslet pitch for MEM-FR).
        lenslet_focal_m: focal length of the microlenses, None without them (LOEN).
        scene_size_m, scene_pixels: the displayed scene (14.2 cm) and its simulated size (160).
        scene_to_mask_m: l1.
        psf_feature_m: Delta_0, the smallest PSF feature on the sensor (about 30 um in both systems).
        sensor_pixel_m: pixel pitch of the sensor.
        kernel_size: side of the binary amplitude mask in elements (5).
        wavelength_m: design wavelength for the diffraction numbers (green light, 550 nm).
    """

    name: str
    mask_to_sensor_m: float
    mask_feature_m: float
    lenslet_focal_m: float | None = None
    scene_size_m: float = 0.142
    scene_pixels: int = 160
    scene_to_mask_m: float = 0.426
    psf_feature_m: float = 30e-6
    sensor_pixel_m: float = 3.45e-6
    kernel_size: int = 5
    wavelength_m: float = 550e-9

    def __post_init__(self) -> None:
        check_choice(self.name, "name", SYSTEMS)
        for field in ("mask_to_sensor_m", "mask_feature_m", "scene_size_m", "scene_to_mask_m", "psf_feature_m",
                      "sensor_pixel_m", "wavelength_m"):
            check_positive(getattr(self, field), field)
        if self.lenslet_focal_m is not None:
            check_positive(self.lenslet_focal_m, "lenslet_focal_m")
        check_int(self.scene_pixels, "scene_pixels", 1)
        check_int(self.kernel_size, "kernel_size", 1)

    @property
    def spatial_resolution_m(self) -> float:
        """Delta = Delta_0 l1 / l2: the convolution step projected onto the scene (seed 000, Eq. 2)."""
        return self.psf_feature_m * self.scene_to_mask_m / self.mask_to_sensor_m

    @property
    def effective_resolution(self) -> float:
        """Scene size / Delta: how many resolvable steps span the scene (Sec. 2.1)."""
        return self.scene_size_m / self.spatial_resolution_m

    @property
    def element_pitch_m(self) -> float:
        """Scene-plane distance between the images of one point through neighbouring mask elements,
        p (l1 + l2) / l2 (9.30 mm for MEM-FR, 12.8 mm for LOEN)."""
        return self.mask_feature_m * (self.scene_to_mask_m + self.mask_to_sensor_m) / self.mask_to_sensor_m

    @property
    def tap_width_m(self) -> float:
        """Scene-plane width of one element's geometric image of a point: 0 behind a lenslet (a focused
        spot, its diffraction apart), the whole pitch behind a lensless opening (its shadow)."""
        return 0.0 if self.lenslet_focal_m is not None else self.element_pitch_m

    @property
    def element_solid_angle_sr(self) -> float:
        """Solid angle a^2 / l2^2 of the scene one open element passes to a sensor pixel."""
        return (self.mask_feature_m / self.mask_to_sensor_m) ** 2

    def scene_pixel_m(self, image_size: int) -> float:
        """Side of one pixel of a simulated scene of ``image_size`` pixels."""
        return self.scene_size_m / check_int(image_size, "image_size", 1)

    def element_pitch_px(self, image_size: int) -> float:
        """:attr:`element_pitch_m` in pixels of a scene of ``image_size`` pixels (5.24 for MEM-FR at 80)."""
        return self.element_pitch_m / self.scene_pixel_m(image_size)

    def sensor_pixels_per_scene_pixel(self, image_size: int) -> float:
        """Sensor pixels one scene pixel covers, ((scene pixel) l2 / l1 / sensor pixel)^2: the charges a
        simulated pixel sums (294 for MEM-FR, 1.46 for LOEN at 80 pixels)."""
        side = self.scene_pixel_m(image_size) * self.mask_to_sensor_m / self.scene_to_mask_m
        return (side / self.sensor_pixel_m) ** 2

    @property
    def mask_size_m(self) -> float:
        """Side of the whole k x k mask."""
        return self.kernel_size * self.mask_feature_m

    @property
    def lenslet_diffraction_m(self) -> float | None:
        """First zero of a square lenslet's diffraction pattern on the sensor, lambda f / D (None for LOEN)."""
        if self.lenslet_focal_m is None:
            return None
        return self.wavelength_m * self.lenslet_focal_m / self.mask_feature_m

    def centre_irradiance(self) -> float:
        """Irradiance at the centre of one open mask feature's PSF, relative to the scene's irradiance at
        the mask, for a point source on the axis (:func:`centre_irradiance`)."""
        return centre_irradiance(self.mask_feature_m, self.scene_to_mask_m, self.mask_to_sensor_m,
                                 self.lenslet_focal_m, self.wavelength_m)

    def relative_light_throughput(self, reference: OpticalSetup) -> float:
        """Centre irradiance of this set-up over that of ``reference`` (Table 1: LOEN = 1)."""
        return self.centre_irradiance() / reference.centre_irradiance()


def centre_irradiance(aperture_m: float, source_distance_m: float, sensor_distance_m: float,
                      focal_m: float | None, wavelength_m: float) -> float:
    """On-axis irradiance behind a square aperture, relative to the incident irradiance (scalar Fresnel).

    A point source at distance ``source_distance_m`` (l1) lights a square aperture of side
    ``aperture_m`` (D), optionally a thin lens of focal length ``focal_m``; the sensor is at
    ``sensor_distance_m`` (l2). The quadratic phases add to alpha = 1/l1 + 1/l2 - 1/f, and the on-axis
    field is separable in x and y, each factor a Fresnel integral:

        I / E = (2 (C(w)^2 + S(w)^2) / (alpha l2))^2,   w = (D / 2) sqrt(2 alpha / lambda)

    (C, S: Fresnel integrals). Limits: an unobstructed plane (D -> inf) gives (l1 / (l1 + l2))^2 (the
    inverse-square law); a lens focused on the sensor (alpha -> 0) gives (D^2 / (lambda l2))^2.
    """
    for value, name in ((aperture_m, "aperture_m"), (source_distance_m, "source_distance_m"),
                        (sensor_distance_m, "sensor_distance_m"), (wavelength_m, "wavelength_m")):
        check_positive(value, name)
    alpha = 1 / source_distance_m + 1 / sensor_distance_m - (1 / check_positive(focal_m, "focal_m") if focal_m else 0)
    if alpha == 0:
        return (aperture_m**2 / (wavelength_m * sensor_distance_m)) ** 2
    w = aperture_m / 2 * math.sqrt(2 * abs(alpha) / wavelength_m)
    s, c = fresnel(w)
    return float((2 * (c**2 + s**2) / (abs(alpha) * sensor_distance_m)) ** 2)


MEM_FR = OpticalSetup("mem-fr", mask_to_sensor_m=14.2e-3, mask_feature_m=300e-6, lenslet_focal_m=14.2e-3)
LOEN = OpticalSetup("loen", mask_to_sensor_m=1e-3, mask_feature_m=30e-6)
SETUPS = {"mem-fr": MEM_FR, "loen": LOEN}


def optical_setup(system: str) -> OpticalSetup:
    """The set-up of ``system`` in :data:`SYSTEMS` (``"mem-fr"`` or ``"loen"``)."""
    return SETUPS[check_choice(system, "system", SYSTEMS)]


def table_1(wavelength_m: float = 550e-9) -> dict[str, dict[str, float]]:
    """The derived counterparts of Table 1 for both systems (LOEN is the throughput reference)."""
    check_positive(wavelength_m, "wavelength_m")
    loen = replace(LOEN, wavelength_m=wavelength_m)
    rows = {}
    for setup in (replace(MEM_FR, wavelength_m=wavelength_m), loen):
        rows[setup.name] = {
            "spatial_resolution_mm": setup.spatial_resolution_m * 1e3,
            "effective_resolution": setup.effective_resolution,
            "relative_light_throughput": setup.relative_light_throughput(loen),
            "element_pitch_mm": setup.element_pitch_m * 1e3,
            "element_pitch_px_at_160": setup.element_pitch_px(160),
            "element_solid_angle_sr": setup.element_solid_angle_sr,
            "sensor_pixels_per_scene_pixel_at_80": setup.sensor_pixels_per_scene_pixel(80),
        }
    return rows
