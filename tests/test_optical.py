"""Optical encoders of seed 000 (MEM-FR, LOEN): physics, optics, sensor, losses, training, attacks, CLI."""

from __future__ import annotations

import argparse
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from faceveil.cli import main
from faceveil.data.images import to_tensor
from faceveil.data.sample import sample_root
from faceveil.eval.quality import cosine_similarity_images, psnr
from faceveil.attack.deconv import (AttackConfig, load_attack, reconstruct, save_attack, split_pairs, train_unet_attack,
                                    wiener_deconvolution)
from faceveil.data.chips import FaceChips
from faceveil.protect.optical import (LOEN, MEM_FR, PAPER_TABLE_1, EncoderConfig, LossWeights,
                                      ModelConfig, OpticalEncoder, OpticalFaceModel, SensorConfig, TrainConfig,
                                      REFERENCE_SOLID_ANGLE_SR, binarize_ste, capture, dual_cosine_loss, element_footprints, export_mask,
                                      load_checkpoint, optical_convolution, packaged_checkpoint,
                                      point_spread_function, shot_and_read_noise, total_loss, train,
                                      weight_gradient_loss)
from faceveil.recognition.backbones import make_backbone
from faceveil.protect.optical.model import camera_digest, save_checkpoint

SIZE = 32  # tiny scenes keep training fast; the optics do not depend on the size


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def smooth_images(n: int, size: int, seed: int, channels: int = 3) -> torch.Tensor:
    """(n, channels, size, size) smooth random images in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, channels, 6, 6, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


@pytest.fixture(scope="module")
def faces() -> FaceChips:
    """4 synthetic identities x 6 noisy views (32 x 32), with random 'judge' embeddings per identity."""
    g = torch.Generator().manual_seed(1)
    prototypes = smooth_images(4, SIZE, seed=2)
    labels = torch.arange(4).repeat_interleave(6)
    images = (prototypes[labels] + 0.05 * torch.randn(24, 3, SIZE, SIZE, generator=g)).clamp(0, 1)
    judge = torch.randn(4, 128, generator=g)[labels]
    return FaceChips((images * 255).round().to(torch.uint8), labels, [f"id{i}" for i in range(4)],
                   [Path(f"id{i // 6}/{i}.png") for i in range(24)], torch.ones(24, dtype=torch.bool), judge)


def tiny_config(out_dir, **changes) -> TrainConfig:
    base = TrainConfig(out_dir=str(out_dir), encoder=EncoderConfig(image_size=SIZE), epochs=2, binary_epochs=1,
                       batch_size=8)
    return replace(base, **changes)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, faces):
    """A 2-epoch MEM-FR run on the synthetic faces (the second epoch with the binary mask)."""
    out = tmp_path_factory.mktemp("optical-run")
    return train(tiny_config(out), data=faces, progress=False)


# ------------------------------------------------------------------------------------------------
# physics: Table 1 and Sec. 2.1


def test_spatial_and_effective_resolution_follow_eq2_and_the_paper():
    table = {system: values["spatial_resolution_mm"] for system, values in PAPER_TABLE_1.items()}
    assert MEM_FR.spatial_resolution_m * 1e3 == pytest.approx(table["mem-fr"], abs=1e-9)
    assert LOEN.spatial_resolution_m / MEM_FR.spatial_resolution_m == pytest.approx(14.2)  # "improves by 14.2 times"
    assert round(LOEN.effective_resolution) == 11  # "an effective scene resolution of only 11 x 11"
    assert MEM_FR.effective_resolution == pytest.approx(160, rel=0.015)  # 157.8, "160 x 160"
    # the element pitch on the scene: 300 um lenslets -> 9.3 mm, 10.5 px at 160 (the paper's hand-set 8);
    # 30 um LOEN openings -> 12.8 mm = Eq. 2's resolution step (its shadow is its resolution)
    assert MEM_FR.element_pitch_m == pytest.approx(300e-6 * 440.2 / 14.2)
    assert MEM_FR.element_pitch_px(160) == pytest.approx(10.48, abs=0.01)
    assert LOEN.element_pitch_m == pytest.approx(LOEN.spatial_resolution_m, rel=0.01)
    assert LOEN.element_pitch_px(80) == pytest.approx(7.22, abs=0.01)
    # a scene pixel of an 80 px scene covers 294 sensor pixels behind the lenslets, 1.46 behind LOEN
    assert MEM_FR.sensor_pixels_per_scene_pixel(80) == pytest.approx((1.775e-3 / 30 / 3.45e-6) ** 2, rel=1e-3)
    assert LOEN.sensor_pixels_per_scene_pixel(80) == pytest.approx((1.775e-3 / 426 / 3.45e-6) ** 2, rel=1e-3)
    # Table 1's LOEN value is measured and finer than Eq. 2 (10.6 vs 12.8 mm); docs/optical.md says so
    assert table["loen"] / (LOEN.spatial_resolution_m * 1e3) == pytest.approx(0.83, abs=0.01)


def test_lenslet_diffraction_spot_is_the_papers_30_um_psf_feature():
    assert MEM_FR.lenslet_diffraction_m == pytest.approx(0.55e-6 * 14.2e-3 / 300e-6)
    assert 0.8 < MEM_FR.lenslet_diffraction_m / MEM_FR.psf_feature_m < 1.1  # "approximately 30 um"
    assert LOEN.lenslet_diffraction_m is None


@pytest.mark.parametrize("setup", [LOEN, MEM_FR], ids=["loen", "mem-fr"])
def test_centre_irradiance_equals_a_numerical_fresnel_integral(setup):
    d, lam, l2 = setup.mask_feature_m, setup.wavelength_m, setup.mask_to_sensor_m
    alpha = 1 / setup.scene_to_mask_m + 1 / l2 - (1 / setup.lenslet_focal_m if setup.lenslet_focal_m else 0)
    n = 20000
    x = ((np.arange(n) + 0.5) / n - 0.5) * d
    one_axis = np.exp(1j * np.pi * alpha * x**2 / lam).sum() * d / n  # midpoint rule of the Fresnel integral
    assert setup.centre_irradiance() == pytest.approx(abs(one_axis) ** 4 / (lam * l2) ** 2, rel=1e-5)


def test_centre_irradiance_limits_are_the_inverse_square_law_and_the_focused_spot():
    from faceveil.protect.optical import centre_irradiance

    l1, l2, lam = 0.426, 1e-3, 550e-9
    assert centre_irradiance(1.0, l1, l2, None, lam) == pytest.approx((l1 / (l1 + l2)) ** 2, rel=1e-3)
    d, f = 300e-6, 14.2e-3
    assert centre_irradiance(d, 1e9, f, f, lam) == pytest.approx((d**2 / (lam * f)) ** 2, rel=1e-6)


def test_light_throughput_model_beats_loen_far_more_than_the_measured_4_37():
    ratio = MEM_FR.relative_light_throughput(LOEN)
    assert ratio == pytest.approx(65.7, abs=0.1)  # ideal diffraction at 550 nm
    assert LOEN.relative_light_throughput(LOEN) == PAPER_TABLE_1["loen"]["relative_light_throughput"] == 1.0
    assert ratio > 10 * PAPER_TABLE_1["mem-fr"]["relative_light_throughput"]  # Table 1 is a lossy measurement


# ------------------------------------------------------------------------------------------------
# optics


def point_image(config: EncoderConfig, transmissions: torch.Tensor) -> torch.Tensor:
    """The noiseless irradiance (S, S) of a point source at the scene's centre through ``transmissions``."""
    encoder = OpticalEncoder(config)
    scene = torch.zeros(1, 1, config.image_size, config.image_size)
    scene[0, 0, config.image_size // 2, config.image_size // 2] = 1.0
    with torch.no_grad():
        return optical_convolution(scene, point_spread_function(transmissions, encoder.footprints))[0, 0]


def test_a_point_source_through_mem_fr_lights_one_spot_per_open_lenslet_a_pitch_apart():
    config = EncoderConfig(image_size=80, mask_seed=0)
    mask = torch.zeros(5, 5)
    mask[0, 0] = mask[2, 2] = mask[4, 1] = 1
    image = point_image(config, mask)
    pitch, centre = MEM_FR.element_pitch_px(80), 40
    for i, j in ((0, 0), (2, 2), (4, 1)):
        y, x = centre + (i - 2) * pitch, centre + (j - 2) * pitch
        window = image[math.floor(y): math.floor(y) + 2, math.floor(x): math.floor(x) + 2]
        # a focused spot: all its light in the 2 x 2 pixels around the sub-pixel position, split linearly
        assert float(window.sum()) == pytest.approx(MEM_FR.element_solid_angle_sr / REFERENCE_SOLID_ANGLE_SR, rel=1e-5)
        fy, fx = y - math.floor(y), x - math.floor(x)
        assert float(window[1].sum() / window.sum()) == pytest.approx(fy, abs=1e-5)
        assert float(window[:, 1].sum() / window.sum()) == pytest.approx(fx, abs=1e-5)
    assert float(image.sum()) == pytest.approx(3 * MEM_FR.element_solid_angle_sr / REFERENCE_SOLID_ANGLE_SR, rel=1e-5)


def test_a_point_source_through_loen_casts_the_masks_shadow_element_wide_boxes():
    config = EncoderConfig(system="loen", image_size=80)
    mask = torch.zeros(5, 5)
    mask[1, 3] = 1
    image = point_image(config, mask)
    pitch = LOEN.element_pitch_px(80)
    lit = image > 1e-6
    rows, cols = lit.any(1).nonzero()[:, 0], lit.any(0).nonzero()[:, 0]
    # one element's shadow: a box of the pitch (7.2 px), widened by at most one pixel each side by sampling
    assert pitch <= len(rows) <= pitch + 2 and pitch <= len(cols) <= pitch + 2
    assert float(rows.float().mean()) == pytest.approx(40 - pitch, abs=0.6)
    assert float(cols.float().mean()) == pytest.approx(40 + pitch, abs=0.6)
    full = point_image(config, torch.ones(5, 5))
    extent = (full > 1e-6).any(0).nonzero()[:, 0]
    assert 5 * pitch <= len(extent) <= 5 * pitch + 2  # the open mask: one contiguous 36 px square


@pytest.mark.parametrize("system", ["mem-fr", "loen"])
def test_a_white_scenes_signal_scales_with_the_open_elements(system):
    config = EncoderConfig(system=system, image_size=48, sensor=SensorConfig(noise=False, quantize=False))
    encoder = OpticalEncoder(config)
    setup = encoder.setup
    white = torch.ones(1, 1, 48, 48)
    levels = []
    for n_open in (1, 5, 25):
        mask = torch.zeros(25)
        mask[:n_open] = 1
        encoder.mask.theta.data = torch.where(mask.view(5, 5) > 0, 10.0, -10.0)
        encoder.binary = True
        with torch.no_grad():
            levels.append(float(encoder(white)[0, 0, 24, 24]))
    unit = config.sensor.exposure * setup.element_solid_angle_sr / REFERENCE_SOLID_ANGLE_SR
    assert levels == pytest.approx([unit, 5 * unit, 25 * unit], rel=1e-5)
    # one exposure for both systems: the open LOEN mask fills `exposure` of the well, the lenslets half of it
    assert 25 * unit == pytest.approx(0.8 if system == "loen" else 0.8 * (300 / 14.2) ** 2 / (30 / 1) ** 2, rel=1e-5)


def test_closing_elements_costs_signal_to_noise():
    config = EncoderConfig(system="loen", image_size=48, sensor=SensorConfig(quantize=False))
    encoder = OpticalEncoder(config)
    encoder.binary = True
    white = torch.full((64, 1, 48, 48), 0.5)
    snr = []
    for n_open in (1, 25):
        mask = torch.zeros(25)
        mask[:n_open] = 1
        encoder.mask.theta.data = torch.where(mask.view(5, 5) > 0, 10.0, -10.0)
        with torch.no_grad():
            centre = encoder(white, torch.Generator().manual_seed(0))[:, 0, 20:28, 20:28]
        snr.append(float(centre.mean() / centre.std()))
    # shot-noise limited: SNR grows as the square root of the light (25x the light: about 5x the SNR)
    assert snr[1] / snr[0] == pytest.approx(5, rel=0.25)


def test_the_psf_geometry_scales_with_the_scene_and_dilation_overrides_the_pitch():
    assert EncoderConfig(image_size=160).resolved_dilation == pytest.approx(2 * EncoderConfig(image_size=80).resolved_dilation)
    assert EncoderConfig(image_size=80).psf_support == 25 and EncoderConfig(system="loen", image_size=80).psf_support == 41
    footprints = element_footprints(MEM_FR, 80, 5, pitch_px=2.0)
    assert footprints.shape == (5, 5, 11, 11)
    assert float(footprints[0, 0, 1, 1]) == pytest.approx(MEM_FR.element_solid_angle_sr / REFERENCE_SOLID_ANGLE_SR)


@pytest.mark.parametrize("system, dilation, diffraction", [("mem-fr", None, False), ("mem-fr", None, True),
                                                          ("mem-fr", 2.5, True), ("loen", None, False),
                                                          ("loen", 1.0, False), ("mem-fr", 8.0, False)])
def test_the_psf_support_is_the_side_of_the_footprints_without_building_them(system, dilation, diffraction):
    config = EncoderConfig(system=system, image_size=80, kernel_size=3, dilation=dilation, diffraction=diffraction)
    assert config.psf_support == config.footprints().shape[-1]


def test_encrypting_in_batches_draws_the_same_noise_as_one_pass_and_refuses_bad_scenes():
    encoder = OpticalEncoder(EncoderConfig(image_size=32)).eval()
    scenes = torch.rand(5, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    batched = encoder.encrypt(scenes, torch.Generator().manual_seed(0), batch_size=2)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        by_hand = torch.cat([encoder(scenes[:2], generator), encoder(scenes[2:4], generator), encoder(scenes[4:], generator)])
    assert torch.equal(batched, by_hand) and not batched.requires_grad
    with pytest.raises(ValueError, match="scenes"):
        encoder.encrypt(scenes[0], torch.Generator().manual_seed(0))


def test_a_point_source_images_the_psf_centred_on_it():
    g = torch.Generator().manual_seed(0)
    psf = torch.rand(9, 7, generator=g)  # asymmetric: a correlation instead of a convolution would flip it
    scene = torch.zeros(1, 1, 40, 40)
    scene[0, 0, 12, 20] = 1.0
    out = optical_convolution(scene, psf)[0, 0]
    assert torch.allclose(out[8:17, 17:24], psf, atol=1e-6)
    out[8:17, 17:24] = 0
    assert out.abs().max() < 1e-6


def test_optical_convolution_is_linear_and_shift_invariant():
    psf = point_spread_function(torch.rand(5, 5, generator=torch.Generator().manual_seed(3)), element_footprints(MEM_FR, 48, 5, 2.0))
    f1, f2 = smooth_images(2, 48, seed=4).split(1)
    lhs = optical_convolution(0.3 * f1 + 0.6 * f2, psf)
    assert torch.allclose(lhs, 0.3 * optical_convolution(f1, psf) + 0.6 * optical_convolution(f2, psf), atol=1e-6)
    framed = torch.zeros(1, 3, 48, 48)
    framed[..., 12:30, 12:30] = f1[..., :18, :18]  # black all around: no light leaves the frame when shifted
    shifted = optical_convolution(framed.roll((3, 5), (2, 3)), psf)
    assert torch.allclose(shifted, optical_convolution(framed, psf).roll((3, 5), (2, 3)), atol=1e-6)


def test_optical_convolution_conserves_energy_times_the_masks_light():
    encoder = OpticalEncoder(EncoderConfig(image_size=64))
    psf = encoder.psf().detach()
    scene = torch.zeros(2, 3, 64, 64)
    scene[..., 16:48, 16:48] = smooth_images(2, 32, seed=5)
    out = optical_convolution(scene, psf)
    assert float(out.sum()) == pytest.approx(float(scene.sum()) * float(psf.sum()), rel=1e-5)
    assert out.min() >= -1e-6


def test_lenslet_diffraction_blurs_each_spot_and_keeps_its_light():
    sharp = element_footprints(MEM_FR, 160, 5)
    blurred = element_footprints(MEM_FR, 160, 5, diffraction=True)
    assert blurred.shape[-1] > sharp.shape[-1]
    assert torch.allclose(blurred.sum((2, 3)), sharp.sum((2, 3)), rtol=1e-5)
    centre = blurred[2, 2]
    assert torch.allclose(centre, centre.T, atol=1e-7) and torch.allclose(centre, centre.flip(0), atol=1e-7)
    assert float(centre.max()) < float(sharp[2, 2].max())
    with pytest.raises(ValueError, match="no lenslets"):
        element_footprints(LOEN, 80, 5, diffraction=True)
    with pytest.raises(ValueError, match="no lenslets"):
        EncoderConfig(system="loen", diffraction=True)


def test_binarisation_is_binary_forward_and_identity_backward():
    weights = torch.tensor([0.1, 0.49, 0.5, 0.93], requires_grad=True)
    hard = binarize_ste(weights)
    assert hard.tolist() == [0.0, 0.0, 1.0, 1.0]
    (hard * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert weights.grad.tolist() == [1.0, 2.0, 3.0, 4.0]
    encoder = OpticalEncoder(EncoderConfig(image_size=SIZE))
    encoder.binary = True
    assert set(encoder.transmissions().detach().unique().tolist()) <= {0.0, 1.0}
    encoder.psf().sum().backward()  # gradients reach the mask's parameters through the binary mask
    assert encoder.mask.theta.grad is not None


def test_negative_masks_and_bad_pitches_are_refused_and_a_closed_mask_is_dark():
    footprints = element_footprints(MEM_FR, 48, 5)
    assert float(point_spread_function(torch.zeros(5, 5), footprints).abs().max()) == 0.0
    with pytest.raises(ValueError, match="negative"):
        point_spread_function(-torch.ones(5, 5), footprints)
    with pytest.raises(ValueError, match="do not match"):
        point_spread_function(torch.ones(3, 3), footprints)
    with pytest.raises(ValueError, match="pitch_px"):
        element_footprints(MEM_FR, 48, 5, pitch_px=0)
    with pytest.raises(ValueError, match="system"):
        EncoderConfig(system="pinhole")


# ------------------------------------------------------------------------------------------------
# sensor


def test_shot_and_read_noise_is_zero_mean_with_poisson_plus_read_variance():
    electrons = torch.full((400_000,), 400.0)
    noise = shot_and_read_noise(electrons, 5.0, torch.Generator().manual_seed(0))
    variance = 400.0 + 5.0**2
    assert abs(float(noise.mean())) < 4 * math.sqrt(variance / noise.numel())
    assert float(noise.var()) == pytest.approx(variance, rel=0.01)


def test_captured_grey_levels_have_variance_signal_over_gain_plus_read_noise():
    config = SensorConfig(exposure=1.0, quantize=False, read_noise_electrons=20.0)
    irradiance = torch.full((1, 1, 400, 400), 0.3)
    levels = capture(irradiance, config, torch.Generator().manual_seed(1)) * config.max_level
    gain = config.electrons_per_dn
    signal = 0.3 * config.max_level
    assert float(levels.mean()) == pytest.approx(signal, abs=0.01)
    assert float(levels.var()) == pytest.approx(signal / gain + (20.0 / gain) ** 2, rel=0.02)


@pytest.mark.parametrize("binning", [4.0, 300.0])
def test_binned_pixels_average_shot_read_and_rounding_noise(binning):
    config = SensorConfig(exposure=1.0, read_noise_electrons=20.0)
    irradiance = torch.full((1, 1, 400, 400), 0.3)
    levels = capture(irradiance, config, torch.Generator().manual_seed(1), binning) * config.max_level
    gain = config.electrons_per_dn
    signal = 0.3 * config.max_level
    assert float(levels.mean()) == pytest.approx(signal, abs=0.01)
    # a mean of `binning` pixels: shot, read and rounding variances all divided by it
    expected = (signal / gain + (20.0 / gain) ** 2 + 1 / 12) / binning
    assert float(levels.var()) == pytest.approx(expected, rel=0.03)
    assert not torch.allclose(levels, levels.round())  # finer than one grey level, as a mean of many


def test_capture_is_seeded_quantised_and_saturates():
    config = SensorConfig()
    irradiance = smooth_images(1, 24, seed=6)
    a = capture(irradiance, config, torch.Generator().manual_seed(2))
    assert torch.equal(a, capture(irradiance, config, torch.Generator().manual_seed(2)))
    assert not torch.equal(a, capture(irradiance, config, torch.Generator().manual_seed(3)))
    levels = a * config.max_level
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    white = capture(torch.ones(1, 1, 8, 8), SensorConfig(exposure=1.0), torch.Generator().manual_seed(0))
    assert white.max() <= 1.0 and white.mean() > 0.99
    noiseless = capture(irradiance, SensorConfig(noise=False, quantize=False, exposure=0.5))
    assert torch.allclose(noiseless, 0.5 * irradiance, atol=1e-6)
    with pytest.raises(ValueError, match="Generator"):
        capture(irradiance, config)
    with pytest.raises(ValueError, match="exposure"):
        SensorConfig(exposure=1.5)


# ------------------------------------------------------------------------------------------------
# losses (Eqs. 3-5)


def test_dual_cosine_loss_on_hand_made_images():
    original = torch.tensor([1.0, 1.0, 0.0, 0.0]).view(1, 1, 2, 2)
    captured = torch.tensor([1.0, 0.0, 0.0, 0.0]).view(1, 1, 2, 2)
    # cos(o, c) = 1 / sqrt(2); cos(o, 1 - c) = 1 / (sqrt(2) sqrt(3))
    assert float(dual_cosine_loss(original, captured)) == pytest.approx(1 / math.sqrt(2))
    # the complementary (negative) image hides nothing: the second term of Eq. 3 scores it 1
    assert float(dual_cosine_loss(original, 1 - original)) == pytest.approx(1.0)
    a, b = smooth_images(2, 16, seed=7).split(1)
    expected = torch.maximum(cosine_similarity_images(a, b), cosine_similarity_images(a, 1 - b))
    assert float(dual_cosine_loss(a, b)) == pytest.approx(float(expected), rel=1e-6)


def test_weight_gradient_loss_on_hand_made_kernels():
    corner = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert float(weight_gradient_loss(corner)) == pytest.approx(-math.sqrt(2) + 0.6, abs=1e-5)
    flat = torch.full((5, 5), 0.5)
    assert float(weight_gradient_loss(flat)) == pytest.approx(0.6 * 25 * 0.25, abs=1e-4)
    checker = (torch.arange(5)[:, None] + torch.arange(5)[None, :]) % 2 * 1.0
    assert float(weight_gradient_loss(checker)) < float(weight_gradient_loss(torch.ones(5, 5)))
    with pytest.raises(ValueError, match="kernel"):
        weight_gradient_loss(torch.ones(5))


def test_total_loss_combines_the_terms_with_the_papers_weights(faces):
    weights = LossWeights(distill=1.0)
    assert (weights.task, weights.cosine, weights.gradient, weights.l2) == (1.0, 20.0, 0.02, 0.6)  # Eqs. 4-5
    model = OpticalFaceModel(ModelConfig(EncoderConfig(image_size=SIZE), n_classes=4, distill_dim=128))
    scenes = faces.images(slice(0, 8))
    output = model(scenes, torch.Generator().manual_seed(0))
    terms = total_loss(output, scenes, faces.labels[:8], model.encoder.mask.relaxed(), weights, faces.teacher[:8])
    expected = terms["identity"] + terms["distill"] + 20 * terms["cosine"] + 0.02 * terms["gradient"]
    assert float(terms["total"].detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    with pytest.raises(ValueError, match="teacher"):
        total_loss(output, scenes, faces.labels[:8], model.encoder.mask.relaxed(), weights)


# ------------------------------------------------------------------------------------------------
# model, training, checkpoints


def test_a_few_training_steps_lower_the_loss(faces):
    torch.manual_seed(0)
    model = OpticalFaceModel(ModelConfig(EncoderConfig(image_size=SIZE), n_classes=4, distill_dim=128))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    half = slice(None, None, 2)  # 12 faces, 3 of each identity
    scenes, labels, teacher = faces.images(half), faces.labels[half], faces.teacher[half]

    def loss() -> torch.Tensor:
        output = model(scenes, torch.Generator().manual_seed(0))  # the same noise every step
        return total_loss(output, scenes, labels, model.encoder.mask.relaxed(), LossWeights(distill=1.0),
                          teacher)["total"]

    before = float(loss().detach())
    for _ in range(6):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert float(loss().detach()) < before - 1.0


def test_training_writes_a_deployable_binary_model(trained):
    assert [h["epoch"] for h in trained.history] == [1, 2]
    assert [h["binary_mask"] for h in trained.history] == [False, True]
    out = trained.model_file.parent
    for name in ("checkpoint.pt", "model.pt", "history.json", "train_config.json", "mask.png", "mask.csv"):
        assert (out / name).is_file()
    assert trained.model.encoder.binary
    assert set(trained.model.encoder.transmissions().detach().unique().tolist()) <= {0.0, 1.0}


def test_an_interrupted_run_resumes_to_the_same_model(tmp_path, faces, trained):
    config = tiny_config(tmp_path)
    train(replace(config, epochs=1, binary_epochs=0), data=faces, progress=False)
    with pytest.raises(ValueError, match="binary_epochs"):  # the settings that shape the run must match
        train(config, data=faces, progress=False)
    resumed = train(replace(config, epochs=2, binary_epochs=0), data=faces, progress=False)
    with pytest.raises(ValueError, match="2 epochs, more than epochs = 1"):
        train(replace(config, epochs=1, binary_epochs=0), data=faces, progress=False)
    straight = train(replace(config, out_dir=str(tmp_path / "straight"), binary_epochs=0), data=faces, progress=False)
    assert resumed.history[0]["loss"] == straight.history[0]["loss"]
    for (name, a), b in zip(resumed.model.state_dict().items(), straight.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_validation_people_are_not_trained_on_and_their_auc_is_the_deployed_models(tmp_path, faces):
    from faceveil.data.holdout import hold_out_people, labelled_pairs
    from faceveil.eval.verification import auc, roc_curve

    config = tiny_config(tmp_path, validation_people=2, validation_pairs=20)
    result = train(config, data=faces, progress=False)
    curve = [h["validation"] for h in result.history]
    assert len(curve) == 2 and all(0 <= v["auc"] <= 1 and 0.5 <= v["accuracy"] <= 1 for v in curve)
    assert (tmp_path / "best.pt").is_file()
    train_faces, held = hold_out_people(faces, 2, config.seed)
    assert len(train_faces) == 12 and result.history[0]["steps"] == 2  # 12 of 24 photos trained on: batches of 8 + 4
    # the last epoch's figure is the deployed (binary) model's, recomputed from outside the loop
    a, b, same = labelled_pairs(held.labels, 20, config.seed)
    embeddings = result.model.embed(result.model.encrypt(held.images(), torch.Generator().manual_seed(config.seed)))
    scores = (embeddings[a] * embeddings[b]).sum(1).numpy()
    assert curve[-1]["auc"] == pytest.approx(auc(*roc_curve(scores, same.numpy())[:2]))
    with pytest.raises(ValueError, match="validation people asked for"):
        train(tiny_config(tmp_path / "too-many", validation_people=5), data=faces, progress=False)


def test_a_smoke_run_of_max_steps_resumes_inside_the_binary_epoch(tmp_path, faces, trained):
    smoke = train(tiny_config(tmp_path), data=faces, progress=False, max_steps=4)  # 3 steps an epoch
    assert not smoke.finished and len(smoke.history) == 1 and smoke.model_file.is_file()
    resumed = train(tiny_config(tmp_path), data=faces, progress=False)
    assert resumed.finished and [h["binary_mask"] for h in resumed.history] == [False, True]
    for (name, a), b in zip(resumed.model.state_dict().items(), trained.model.state_dict().values()):
        assert torch.equal(a, b), name


def test_training_refuses_outputs_without_a_checkpoint(tmp_path, faces):
    (tmp_path / "history.json").write_text("[]")
    with pytest.raises(ValueError, match="no checkpoint"):
        train(tiny_config(tmp_path), data=faces, progress=False)
    with pytest.raises(ValueError, match="32 pixels wide"):
        train(tiny_config(tmp_path, encoder=EncoderConfig(image_size=64)), data=faces, progress=False, overwrite=True)


def test_a_one_element_mask_is_refused_when_eq_4_would_train_it(tmp_path):
    with pytest.raises(ValueError, match="at least 2 x 2"):
        tiny_config(tmp_path, encoder=EncoderConfig(image_size=SIZE, kernel_size=1))
    without_eq_4 = tiny_config(tmp_path, encoder=EncoderConfig(image_size=SIZE, kernel_size=1),
                               loss=LossWeights(gradient=0))
    assert without_eq_4.encoder.psf_support == 3  # one point tap, split over its neighbours


def test_checkpoint_round_trip_keeps_config_weights_and_binary_mask(tmp_path, trained, faces):
    model = trained.model
    path = save_checkpoint(tmp_path / "copy.pt", model, {"note": "round trip"})
    loaded, payload = load_checkpoint(path)
    assert loaded.config == model.config and loaded.encoder.binary and payload["note"] == "round trip"
    scenes = faces.images(slice(0, 4))
    a = model.encrypt(scenes, torch.Generator().manual_seed(5))
    assert torch.equal(a, loaded.encrypt(scenes, torch.Generator().manual_seed(5)))
    assert torch.allclose(model.embed(a), loaded.embed(a))
    (tmp_path / "foreign.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"weights": torch.ones(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a faceveil optical"):
        load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.pt")


def test_backbones_embed_and_check_the_input_size():
    light = make_backbone("light", 3, 64).eval()
    assert light(torch.rand(2, 3, 20, 20)).shape == (2, 64)
    inception = make_backbone("inception-resnet-v1", 1, 512).eval()
    with torch.no_grad():
        assert inception(torch.rand(1, 1, 75, 75)).shape == (1, 512)
    assert sum(p.numel() for p in inception.parameters()) == pytest.approx(23.5e6, rel=0.01)
    with pytest.raises(ValueError, match="at least 75"):
        OpticalFaceModel(ModelConfig(EncoderConfig(image_size=64), backbone="inception-resnet-v1"))
    with pytest.raises(ValueError, match="backbone"):
        make_backbone("resnet-1000")
    model = OpticalFaceModel(ModelConfig(EncoderConfig(image_size=SIZE)))
    with pytest.raises(ValueError, match="shape"):
        model(torch.rand(1, 3, SIZE + 1, SIZE + 1), torch.Generator())


def test_dlib_backbone_starts_as_the_judge_and_ignores_the_sensors_gain(photos):
    from faceveil.data.chips import ChipSpec, judge_view, load_face_chips
    from faceveil.recognition.dlib_resnet import DlibTorchEmbedder

    faces = load_face_chips([(p, p.stem[:-5]) for p in sorted(photos.glob("*.jpg"))], ChipSpec(size=80),
                            progress=False)
    chips = faces.images()
    backbone = make_backbone("dlib-resnet").eval()
    with torch.no_grad():
        ours = torch.nn.functional.normalize(backbone((chips - 0.5) / 0.5), dim=1)
        darker = torch.nn.functional.normalize(backbone((0.3 * chips - 0.5) / 0.5), dim=1)
    judge = torch.nn.functional.normalize(DlibTorchEmbedder().embed_raw(judge_view(chips)), dim=1)
    # before any fine-tuning it is the judge (up to its per-image standardisation of the input) ...
    assert float((ours * judge).sum(1).min()) > 0.95
    # ... and a darker sensor image (less light through the mask) gives the same embedding
    assert float((ours * darker).sum(1).min()) > 0.999
    with pytest.raises(ValueError, match="128-D"):
        make_backbone("dlib-resnet", 3, 64)


# ------------------------------------------------------------------------------------------------
# export


def test_exported_mask_is_the_kernel_rotated_to_the_physical_orientation(tmp_path, trained):
    encoder = trained.model.encoder
    png, csv = export_mask(encoder, tmp_path, pixels_per_feature=4)
    kernel = encoder.mask.binary().detach().numpy()
    image = np.asarray(Image.open(png))
    assert image.shape == (20, 20) and set(np.unique(image)) <= {0, 255}
    assert np.array_equal(image[::4, ::4] // 255, np.rot90(kernel, 2))
    rows = [line.split(",") for line in csv.read_text().splitlines() if not line.startswith("#")][1:]
    assert len(rows) == 25
    first, last = rows[0], rows[-1]
    assert (float(first[3]), float(first[4]), float(last[3]), float(first[5])) == (-600, -600, 600, 300)  # 300 um
    assert [int(r[2]) for r in rows] == np.rot90(kernel, 2).astype(int).ravel().tolist()
    with pytest.raises(ValueError, match="overwrite"):
        export_mask(encoder, tmp_path)


# ------------------------------------------------------------------------------------------------
# attacks


def test_wiener_deconvolution_with_the_true_response_recovers_a_noiseless_image():
    clean_sensor = SensorConfig(noise=False, quantize=False, exposure=0.7)
    encoder = OpticalEncoder(EncoderConfig(image_size=64, mask_seed=3, sensor=clean_sensor))
    encoder.binary = True
    scene = torch.zeros(2, 3, 64, 64)
    scene[..., 12:52, 12:52] = smooth_images(2, 40, seed=8)  # a black band of half the 21-px PSF: linear = circular
    captured = encoder(scene).detach()
    restored = wiener_deconvolution(captured, encoder.response().detach(), nsr=1e-7)
    assert float(psnr(restored, scene).min()) > 40
    assert float(psnr(captured, scene).max()) < 25  # the encryption itself is far from the scene
    with pytest.raises(ValueError, match="psf"):
        wiener_deconvolution(captured, torch.ones(4, 4))


def test_unet_attack_learns_on_half_of_the_pairs():
    originals = smooth_images(12, 30, seed=9)  # 30 px: not a multiple of 2^depth, padded inside
    psf = point_spread_function(torch.rand(3, 3, generator=torch.Generator().manual_seed(4)), element_footprints(MEM_FR, 30, 3, 4.0))
    encrypted = optical_convolution(originals, psf).clamp(0, 1)
    config = AttackConfig(pairs=12, epochs=25, batch_size=3, base_channels=8, depth=2, seed=0)
    result = train_unet_attack(encrypted, originals, config, progress=False)
    assert len(result.train_index) == len(result.eval_index) == 6
    assert not set(result.train_index.tolist()) & set(result.eval_index.tolist())
    assert result.losses[-1] < 0.5 * result.losses[0]
    assert reconstruct(result.model, encrypted[:2]).shape == (2, 3, 30, 30)
    with pytest.raises(ValueError, match="only 12"):
        split_pairs(12, 20)


def test_attack_model_round_trip(tmp_path):
    originals = smooth_images(4, 16, seed=10)
    result = train_unet_attack(originals, originals, AttackConfig(pairs=4, epochs=1, base_channels=4, depth=1),
                               progress=False)
    save_attack(tmp_path / "unet.pt", result, AttackConfig(pairs=4, epochs=1, base_channels=4, depth=1))
    model, config, _ = load_attack(tmp_path / "unet.pt")
    assert config.base_channels == 4
    assert torch.equal(reconstruct(model, originals), reconstruct(result.model, originals))


# ------------------------------------------------------------------------------------------------
# the command line


def run_cli(argv: list[str]) -> int:
    """``faceveil ARGV`` through the entry point; a user error is re-raised as ValueError(stderr's line)."""
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    if code == 2:
        raise ValueError(err.getvalue())
    return code


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("photos")
    for name in ("Alec_Baldwin", "Bill_Gates"):
        for number in (1, 2):
            shutil.copy(sample_root() / "lfw" / name / f"{name}_000{number}.jpg", folder)
    return folder


def test_protect_optical_without_a_checkpoint_says_how_to_get_one(tmp_path, photos, monkeypatch):
    import faceveil.protect.optical as optical

    monkeypatch.setattr(optical, "packaged_checkpoint", lambda: None)  # an installation without weights
    with pytest.raises(ValueError, match="train optical"):
        run_cli(["protect", "optical", str(photos), "--out", str(tmp_path / "out")])
    with pytest.raises(ValueError, match="checkpoint not found"):
        run_cli(["protect", "optical", str(photos), "--checkpoint", str(tmp_path / "none.pt"), "--out",
                 str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_shipped_mem_fr_camera_works_out_of_the_box(tmp_path, photos):
    """The shipped checkpoint encrypts with no --checkpoint, and its back-end still tells the sample's
    people apart on the encrypted faces (the figures it reached are in its .json card)."""
    shipped = packaged_checkpoint()
    assert shipped is not None, "the package ships src/faceveil/protect/optical/weights/mem-fr.pt"
    card = json.loads(shipped.with_suffix(".json").read_text())
    model, _ = load_checkpoint(shipped)
    assert model.encoder.binary and model.config.encoder.system == "mem-fr" and model.classifier is None
    figures = card["figures_cross_fitted"]
    assert figures["verification"]["accuracy_mean"] > 0.65
    # what it protects against: the judge on its images and after Wiener with the stolen mask (seed: 63.10 %)
    assert figures["privacy"]["judge_on_encrypted"]["accuracy_mean"] < 0.70
    assert figures["wiener_true_psf"]["judge"]["accuracy_mean"] < 0.70
    assert card["train_identities"]["count"] == 801 and card["protocol"]["split"] == "view2-2fold/1"
    out = tmp_path / "encrypted"
    assert run_cli(["protect", "optical", str(photos), "--out", str(out), "--quiet"]) == 0
    size = model.config.encoder.image_size
    encrypted = to_tensor([np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))])
    assert encrypted.shape == (4, 3, size, size)
    e = model.embed(encrypted)  # Alec Baldwin 1, 2, Bill Gates 1, 2
    same = torch.stack([e[0] @ e[1], e[2] @ e[3]])
    different = torch.stack([e[0] @ e[2], e[0] @ e[3], e[1] @ e[2], e[1] @ e[3]])
    # a 67 % system does not separate every pair; on average the same person scores well above strangers
    assert float(same.mean()) > float(different.mean()) + 0.2


def test_protect_then_attack_on_the_command_line(tmp_path, photos, trained, capsys):
    out, scenes, attack = tmp_path / "encrypted", tmp_path / "scenes", tmp_path / "attack"
    argv = ["protect", "optical", str(photos), "--checkpoint", str(trained.model_file), "--out", str(out),
            "--scenes", str(scenes), "--quiet"]
    assert run_cli(argv) == 0
    encrypted = sorted(out.glob("*.png"))
    assert [p.name for p in encrypted] == ["Alec_Baldwin_0001.png", "Alec_Baldwin_0002.png", "Bill_Gates_0001.png",
                                           "Bill_Gates_0002.png"]
    assert Image.open(encrypted[0]).size == (SIZE, SIZE) and (scenes / "Bill_Gates_0001.png").is_file()
    # one manifest beside the images, no per-image sidecars in the image folder
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in encrypted] + ["result.json"]
    manifest = json.loads((out / "result.json").read_text())
    assert manifest["provenance"]["system"] == "mem-fr" and manifest["provenance"]["seed"] == 0
    assert all(row["face_detected"] for row in manifest["per_image"]) and manifest["no_face"] == 0
    assert manifest["camera"]["digest"] == camera_digest(trained.model)
    with pytest.raises(ValueError, match="--overwrite"):
        run_cli(argv)
    with pytest.raises(ValueError, match="inside the input folder"):
        run_cli(["protect", "optical", str(photos), "--checkpoint", str(trained.model_file), "--out",
                 str(photos / "x")])

    other = tmp_path / "other-camera.pt"
    stranger = OpticalFaceModel(replace(trained.model.config, encoder=replace(trained.model.config.encoder, mask_seed=7)))
    stranger.encoder.binary = True
    save_checkpoint(other, stranger)
    with pytest.raises(ValueError, match="is not the camera that made these images"):
        run_cli(["attack", "deconv", "--encrypted", str(out), "--original", str(scenes), "--method", "wiener",
                 "--checkpoint", str(other), "--out", str(attack)])
    assert not attack.exists()  # refused before any output
    assert run_cli(["attack", "deconv", "--encrypted", str(out), "--original", str(scenes), "--method", "wiener",
                    "--checkpoint", str(trained.model_file), "--out", str(attack), "--quiet"]) == 0
    result = json.loads((attack / "result.json").read_text())
    assert result["method"] == "wiener" and result["n"] == 4
    assert len(list((attack / "reconstructed").glob("*.png"))) == 4
    assert run_cli(["attack", "deconv", "--encrypted", str(out), "--original", str(scenes), "--epochs", "1",
                    "--batch-size", "2", "--out", str(tmp_path / "unet"), "--quiet"]) == 0
    result = json.loads((tmp_path / "unet" / "result.json").read_text())
    assert result["method"] == "unet" and result["attack"]["train_pairs"] == 2 and result["n"] == 2
    assert (tmp_path / "unet" / "unet.pt").is_file()
    with pytest.raises(ValueError, match="pairs"):
        run_cli(["attack", "deconv", "--encrypted", str(out), "--original", str(scenes), "--pairs", "6",
                 "--out", str(tmp_path / "a3")])
    (scenes / "Bill_Gates_0001.png").unlink()
    with pytest.raises(ValueError, match="no original for Bill_Gates_0001.png"):
        run_cli(["attack", "deconv", "--encrypted", str(out), "--original", str(scenes), "--out", str(tmp_path / "a4")])


def test_wiener_on_images_without_a_manifest_needs_unverified_camera(tmp_path, photos, trained):
    out, scenes = tmp_path / "encrypted", tmp_path / "scenes"
    assert run_cli(["protect", "optical", str(photos), "--checkpoint", str(trained.model_file), "--out", str(out),
                    "--scenes", str(scenes), "--judge", "none", "--quiet"]) == 0
    (out / "result.json").unlink()
    argv = ["attack", "deconv", "--encrypted", str(out), "--original", str(scenes), "--method", "wiener",
            "--checkpoint", str(trained.model_file), "--quiet"]
    with pytest.raises(ValueError, match="does not name the camera"):
        run_cli(argv + ["--out", str(tmp_path / "a1")])
    assert run_cli(argv + ["--out", str(tmp_path / "a2"), "--unverified-camera"]) == 0


def test_edited_or_mismatched_checkpoints_are_refused_with_a_message(tmp_path, trained):
    payload = torch.load(trained.model_file, weights_only=True)
    edited = dict(payload, config={**payload["config"], "encoder": {**payload["config"]["encoder"], "image_size": 48}})
    torch.save(edited, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="edited after it was saved"):
        load_checkpoint(tmp_path / "edited.pt")
    system = dict(payload, config={**payload["config"], "encoder": {**payload["config"]["encoder"], "system": "loen"}})
    torch.save(system, tmp_path / "system.pt")
    with pytest.raises(ValueError, match="edited after it was saved"):
        load_checkpoint(tmp_path / "system.pt")
    from faceveil.protect.optical.model import config_digest

    # a consistent digest but weights of another back-end: refused, with the first mismatch named
    wrong = dict(payload, config={**payload["config"], "embedding_dim": 64})
    wrong["config_digest"] = config_digest(wrong["config"])
    torch.save(wrong, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="weights do not match the checkpoint's settings"):
        load_checkpoint(tmp_path / "wrong.pt")
    # a consistent digest, same weights, but another PSF than the one saved (the optics were re-simulated)
    moved = dict(payload, config={**payload["config"], "encoder": {**payload["config"]["encoder"], "dilation": 1.5}})
    moved["config_digest"] = config_digest(moved["config"])
    torch.save(moved, tmp_path / "moved.pt")
    with pytest.raises(ValueError, match="simulates the camera's optics differently"):
        load_checkpoint(tmp_path / "moved.pt")
    old = dict(payload, format_version=1)
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="version-1 camera"):
        load_checkpoint(tmp_path / "old.pt")


def test_an_unusable_device_is_a_one_line_error(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["attack", "deconv", "--encrypted", str(tmp_path), "--original", str(tmp_path), "--out",
                 str(tmp_path / "x"), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("faceveil: error: torch device 'cuda' is not usable here") and "\n" not in err
    assert not (tmp_path / "x").exists()


def test_train_optical_reads_the_configuration_strictly(tmp_path):
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"out_dir": str(tmp_path / "run"), "learning_rte": 0.1}))
    with pytest.raises(ValueError, match="learning_rte"):
        run_cli(["train", "optical", "--config", str(config), "--out", str(tmp_path / "run")])
    config.write_text(json.dumps({"out_dir": str(tmp_path / "run"), "encoder": {"system": "mem-fr", "kernel": 5}}))
    with pytest.raises(ValueError, match=r"encoder: unknown setting\(s\) kernel"):
        run_cli(["train", "optical", "--config", str(config), "--out", str(tmp_path / "run")])
    config.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        run_cli(["train", "optical", "--config", str(config), "--out", str(tmp_path / "run")])
    with pytest.raises(ValueError, match="training configuration not found"):
        run_cli(["train", "optical", "--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "run")])
    assert not (tmp_path / "run").exists()


def one_element_camera(size: int, row: int, col: int, noise: bool = False) -> OpticalEncoder:
    """A MEM-FR encoder with only mask element (row, col) open: a pure (dimmed) translation of the scene."""
    encoder = OpticalEncoder(EncoderConfig(image_size=size, sensor=SensorConfig(noise=noise, quantize=False)))
    mask = torch.full((5, 5), -10.0)
    mask[row, col] = 10.0
    encoder.mask.theta.data = mask
    encoder.binary = True
    return encoder


def test_a_pure_shift_fools_eq_3_but_not_the_shift_invariant_terms():
    from faceveil.protect.optical.losses import shifted_similarity_loss, wiener_similarity_loss

    scenes = torch.zeros(4, 3, 64, 64)
    scenes[..., 12:52, 12:52] = smooth_images(4, 40, seed=11)
    corner = one_element_camera(64, 0, 0)
    with torch.no_grad():
        captured = corner(scenes)
        # Eq. 3 calls the translated face private (well below 1) ...
        assert float(dual_cosine_loss(scenes, captured)) < 0.9
        # ... the shift-invariant term and the stolen-mask Wiener term see the whole face (the 8.4 px
        # translation is sub-pixel: its linear interpolation costs a little correlation)
        assert float(shifted_similarity_loss(scenes, captured)) > 0.97
        assert float(wiener_similarity_loss(scenes, captured, corner.response(), 1e-4)) > 0.99


def test_the_privacy_terms_enter_the_total_and_reach_the_mask(faces):
    model = OpticalFaceModel(ModelConfig(EncoderConfig(image_size=SIZE), n_classes=4))
    scenes = faces.images(slice(0, 8))
    weights = LossWeights(shifted=3.0, wiener=2.0)
    output = model(scenes, torch.Generator().manual_seed(0))
    terms = total_loss(output, scenes, faces.labels[:8], model.encoder.mask.relaxed(), weights,
                       response=model.encoder.response())
    expected = (terms["identity"] + 20 * terms["cosine"] + 0.02 * terms["gradient"] + 3 * terms["shifted"]
                + 2 * terms["wiener"])
    assert torch.allclose(terms["total"], expected)
    assert 0 < float(terms["shifted"]) <= 1 and 0 < float(terms["wiener"]) <= 1
    model.zero_grad()
    (terms["shifted"] + terms["wiener"]).backward()
    assert model.encoder.mask.theta.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="response"):
        total_loss(output, scenes, faces.labels[:8], model.encoder.mask.relaxed(), weights)
