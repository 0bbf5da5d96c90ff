"""The speckle simulator of seed 001 (faceveil.restore.speckle): wave optics, diffusers, the set-up."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from faceveil.cli import main
from faceveil.cli.simulate import GRIT_NAMES, SETTING_NAMES, TARGETS
from faceveil.restore.speckle.diffuser import (GRITS, ballistic_fraction, calibrate_phase_rms, diffuse_halo,
                                               halo_fwhm, height_rms, phase_screen)
from faceveil.restore.speckle.optics import (good_fft_size, padded_size, point_source_on_axis, propagate, pupil,
                                             transfer_function)
from faceveil.restore.speckle.simulator import TARGETS as SIMULATOR_TARGETS
from faceveil.restore.speckle.simulator import (SETTINGS, SpeckleConfig, SpeckleSimulator, binarize, grey_levels,
                                                label_maps, otsu_threshold, slm_faces, speckle_config)

WAVELENGTH = 632.8e-9


def _embed(small: torch.Tensor, n: int) -> torch.Tensor:
    big = torch.zeros(n, n, dtype=small.dtype)
    s = (n - small.shape[-1]) // 2
    big[s:s + small.shape[-2], s:s + small.shape[-1]] = small
    return big


def test_propagation_conserves_energy_on_a_padded_grid():
    dx, na, z = 3.33e-6, 0.05, 20e-3
    n = padded_size(64, dx, WAVELENGTH, na, z)
    generator = torch.Generator().manual_seed(0)
    small = torch.polar(torch.rand(64, 64, generator=generator, dtype=torch.float64),
                        2 * math.pi * torch.rand(64, 64, generator=generator, dtype=torch.float64))
    field = torch.fft.ifft2(torch.fft.fft2(_embed(small, n)) * pupil(n, dx, WAVELENGTH, na))
    after = propagate(field, dx, WAVELENGTH, z)
    assert float((after.abs() ** 2).sum() / (field.abs() ** 2).sum()) == pytest.approx(1.0, abs=1e-9)
    # the same field on an unpadded grid loses light to the band limit: padding is what keeps it
    tight = torch.fft.ifft2(torch.fft.fft2(small) * pupil(64, dx, WAVELENGTH, na))
    kept = float((propagate(tight, dx, WAVELENGTH, z).abs() ** 2).sum() / (tight.abs() ** 2).sum())
    assert kept < 0.9


def test_a_plane_wave_stays_a_plane_wave():
    dx, z = 2e-6, 40e-3
    after = propagate(torch.ones(128, 128, dtype=torch.complex128), dx, WAVELENGTH, z)
    expected = complex(math.cos(2 * math.pi * z / WAVELENGTH), math.sin(2 * math.pi * z / WAVELENGTH))
    assert float((after - expected).abs().max()) < 1e-9


@pytest.mark.parametrize("z_um", [10.0, 20.0, 31.6, 45.0, 80.0])
def test_defocused_point_source_matches_the_analytic_result(z_um):
    dx, na, n = 0.5e-6, 0.2, 1024
    point = torch.zeros(n, n, dtype=torch.complex128)
    point[0, 0] = 1
    focused = torch.fft.ifft2(torch.fft.fft2(point) * pupil(n, dx, WAVELENGTH, na))
    on_axis = float(propagate(focused, dx, WAVELENGTH, z_um * 1e-6)[0, 0].abs() ** 2 / focused[0, 0].abs() ** 2)
    assert on_axis == pytest.approx(point_source_on_axis(z_um * 1e-6, WAVELENGTH, na), abs=2e-3)


def test_analytic_defocus_has_the_paraxial_limit():
    na, z = 0.02, 1e-3
    u = 2 * math.pi * na**2 * z / WAVELENGTH
    assert point_source_on_axis(z, WAVELENGTH, na) == pytest.approx((math.sin(u / 4) / (u / 4)) ** 2, rel=1e-3)
    assert point_source_on_axis(2 * WAVELENGTH / na**2, WAVELENGTH, na) < 1e-3  # the first zero


def test_band_limit_and_fft_sizes():
    h = transfer_function(256, 2e-6, WAVELENGTH, 40e-3)
    limit = 1 / (WAVELENGTH * math.sqrt((2 * 40e-3 / (256 * 2e-6)) ** 2 + 1))
    f = torch.fft.fftfreq(256, d=2e-6, dtype=torch.float64)
    assert bool((h.abs()[0, f.abs() > limit] == 0).all()) and bool((h.abs()[0, f.abs() <= limit] == 1).all())
    assert [good_fft_size(n) for n in (1, 7, 97, 1000, 1025)] == [1, 8, 100, 1000, 1080]
    with pytest.raises(ValueError, match="pitch of at most"):
        pupil(64, 10e-6, WAVELENGTH, 0.05)


def test_grit_calibration_gives_each_table_width():
    for g in GRITS.values():
        sigma = calibrate_phase_rms(g)
        assert math.degrees(halo_fwhm(sigma, g.correlation_um * 1e-6, WAVELENGTH)) == pytest.approx(g.fwhm_deg,
                                                                                                   rel=1e-4)
    # coarse grits are deep screens (no ballistic light), the finest is shallow
    assert ballistic_fraction(calibrate_phase_rms("120")) < 1e-100
    assert 1e-3 < ballistic_fraction(calibrate_phase_rms("1500")) < 0.1
    assert height_rms(calibrate_phase_rms("120")) > height_rms(calibrate_phase_rms("1500"))


def test_diffuse_halo_carries_the_scattered_power_and_has_the_geometric_limit():
    sigma, l = 3.0, 20e-6
    f = np.linspace(0, 8 / l, 4000)
    power = np.trapezoid(diffuse_halo(f, sigma, l) * 2 * np.pi * f, f)
    assert power == pytest.approx(1 - math.exp(-sigma**2), rel=1e-4)
    deep, wide = 60.0, 400e-6
    geometric = 2 * math.sqrt(math.log(2)) * deep * WAVELENGTH / (math.pi * wide)
    assert halo_fwhm(deep, wide, WAVELENGTH) == pytest.approx(geometric, rel=0.02)
    with pytest.raises(ValueError, match="narrower"):
        calibrate_phase_rms(type(GRITS["1500"])("x", 0.5, 12.6, "test"))


def _measured_fwhm_deg(screen: torch.Tensor, dx: float) -> float:
    """FWHM of the diffuse light of exp(i screen): the far field's radial profile without its zero order."""
    n = screen.shape[-1]
    power = torch.fft.fft2(torch.polar(torch.ones_like(screen), screen)).abs() ** 2
    power[0, 0] = 0
    f = torch.fft.fftfreq(n, d=dx, dtype=torch.float64)
    radius = torch.sqrt(f[None] ** 2 + f[:, None] ** 2)
    step = 2 / (n * dx)
    bins = (radius / step).long().flatten()
    profile = torch.bincount(bins, power.flatten()) / torch.bincount(bins).clamp_min(1)
    profile = profile[1:].numpy()
    peak = profile[:3].mean()
    below = int(np.argmax(profile < peak / 2))
    return math.degrees(2 * math.asin(WAVELENGTH * (below + 0.5) * step))


@pytest.mark.parametrize("name", list(GRITS))
def test_phase_screens_scatter_at_their_grits_angle(name):
    g = GRITS[name]
    l = g.correlation_um * 1e-6
    dx = min(l / 4, WAVELENGTH / (4 * math.sin(math.radians(1.5 * g.fwhm_deg))))
    widths = [_measured_fwhm_deg(phase_screen(1024, dx, l, calibrate_phase_rms(g), seed), dx) for seed in range(3)]
    assert float(np.mean(widths)) == pytest.approx(g.fwhm_deg, rel=0.12)


def test_phase_screen_is_seeded_and_has_its_rms():
    a = phase_screen(128, 1e-6, 8e-6, 2.0, seed=1)
    assert torch.equal(a, phase_screen(128, 1e-6, 8e-6, 2.0, seed=1))
    assert not torch.equal(a, phase_screen(128, 1e-6, 8e-6, 2.0, seed=2))
    assert float(a.std()) == pytest.approx(2.0, rel=1e-9)
    with pytest.raises(ValueError, match="cannot sample"):
        phase_screen(64, 5e-6, 8e-6, 1.0, seed=0)


def _disk_face(n: int = 64) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return (((x - n / 2) ** 2 + (y - n / 2.2) ** 2) < (n / 3) ** 2).double()[None]


@pytest.mark.parametrize("name", ["220", "600"])
def test_fully_developed_speckle_has_unit_contrast(name):
    sim = SpeckleSimulator(speckle_config("cpu"), name)
    near = sim.diffuser_field(torch.ones(1, 32, 32))
    for z in (20e-3, 40e-3):
        n = padded_size(sim.coarse_n, sim.config.grid_pitch, WAVELENGTH, sim.config.camera_na, z)
        far = propagate(_embed(near[0], n), sim.config.grid_pitch, WAVELENGTH, z)
        centre = far[n // 2 - 60:n // 2 + 60, n // 2 - 60:n // 2 + 60].abs() ** 2
        assert float(centre.std() / centre.mean()) == pytest.approx(1.0, abs=0.1)
    # camera pixels about one speckle grain wide integrate it: the recorded contrast is lower
    recorded = sim.intensity(torch.ones(1, 32, 32), 40.0)[0, 50:150, 50:150]
    assert 0.4 < float(recorded.std() / recorded.mean()) < 0.9


def test_depths_decorrelate_the_pattern_of_one_face():
    sim = SpeckleSimulator(speckle_config("cpu"), "220")
    patterns = [i[0, 20:180, 20:180].flatten() for i in sim.intensities(_disk_face(), (0.0, 20.0, 40.0))]
    for a in range(3):
        for b in range(a + 1, 3):
            assert abs(float(torch.corrcoef(torch.stack([patterns[a], patterns[b]]))[0, 1])) < 0.3


def test_a_phase_object_in_focus_without_diffuser_is_nearly_uniform():
    config = SpeckleConfig(slm_pixels=192, camera_pixels=160, camera_na=0.09, slm_relay_na=0.09)
    sim = SpeckleSimulator(config, None)
    face = _disk_face(192)
    focus, defocus = sim.intensities(face, (0.0, 20.0))
    # camera pixels (3.6 um) at least 10 SLM-image pixels (3.33 um) from the disk's edge
    n, cam = 192, 160
    centre = (torch.arange(cam) + 0.5) * 3.6 / (8 * 125 / 300) - cam * 3.6 / (8 * 125 / 300) / 2 + n / 2
    y, x = torch.meshgrid(centre, centre, indexing="ij")
    r = torch.sqrt((x - n / 2) ** 2 + (y - n / 2.2) ** 2)
    away = (r - n / 3).abs() > 10
    assert float((focus[0][away] - 1).abs().mean()) < 0.02 and float((focus[0][away] - 1).abs().max()) < 0.1
    # out of focus the phase edge shows: the intensity is no longer uniform
    assert float(defocus[0][away].std()) > 0.1


def test_simulator_output_range_reproducibility_and_diffuser_seed():
    faces = binarize(torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    sim = SpeckleSimulator(speckle_config("cpu"), "600")
    first = sim(faces, (0.0, 40.0), seed=3)
    assert [tuple(p.shape) for p in first] == [(2, 64, 64)] * 2
    assert all(float(p.min()) == 0.0 and float(p.max()) == 1.0 for p in first)
    assert all(torch.equal(a, b) for a, b in zip(first, sim(faces, (0.0, 40.0), seed=3)))
    # another diffuser of the same grit: another speckle (inside the window; its edges darken both alike)
    other = SpeckleSimulator(speckle_config("cpu", diffuser_seed=1), "600")(faces, (40.0,), seed=3)[0]
    inner = torch.stack([first[1][:, 16:48, 16:48].flatten(), other[:, 16:48, 16:48].flatten()])
    assert abs(float(torch.corrcoef(inner)[0, 1])) < 0.2


def test_otsu_binarization_separates_two_levels():
    generator = torch.Generator().manual_seed(0)
    truth = (torch.rand(2, 1, 40, 40, generator=generator) > 0.6).double()
    gray = 0.2 + 0.6 * truth + 0.03 * torch.randn(truth.shape, generator=generator, dtype=torch.float64)
    assert torch.equal(binarize(gray), truth[:, 0])
    assert 0.3 < float(otsu_threshold(gray[:, 0])[0]) < 0.7
    with pytest.raises(ValueError, match="chips must be"):
        binarize(gray[:, 0])


def test_config_refuses_grids_that_alias():
    with pytest.raises(ValueError, match="whole multiple"):
        SpeckleConfig(grid_pitch_um=5.0)
    with pytest.raises(ValueError, match="camera_na"):
        SpeckleConfig(grid_pitch_um=4 * 8.0 * 125 / 300, camera_na=0.05)
    with pytest.raises(ValueError, match="unknown speckle setting"):
        speckle_config("gpu")


def test_simulate_speckle_writes_targets_and_patterns_per_distance(tmp_path, capsys):
    assert (set(GRIT_NAMES), set(SETTING_NAMES), TARGETS) == (set(GRITS), set(SETTINGS), SIMULATOR_TARGETS)
    photos, out = tmp_path / "photos", tmp_path / "speckle"
    assert main(["sample", "--out", str(photos), "--people", "1"]) == 0
    argv = ["simulate", "speckle", str(photos), "--out", str(out), "--grit", "1500", "--distance", "0", "40",
            "--quiet"]
    assert main(argv) == 0
    record = json.loads((out / "result.json").read_text())
    assert record["grit"]["name"] == "1500" and record["distances_mm"] == [0.0, 40.0]
    assert record["chip"]["padding"] == 0.5 and record["images"] == len(record["per_image"]) >= 3
    row = record["per_image"][0]
    target = np.asarray(Image.open(out / row["target"]))
    assert target.shape == (64, 64) and set(np.unique(target)) == {0, 255}
    near, far = (np.asarray(Image.open(out / row[k])) for k in ("0mm", "40mm"))
    assert near.shape == far.shape == (64, 64) and near.min() == 0 and near.max() == 255
    assert not np.array_equal(near, far)
    assert main(argv) == 2 and "--overwrite" in capsys.readouterr().err  # an existing output is kept
    assert main(argv[:-1] + ["--distance", "-5"]) == 2
    grey = tmp_path / "grey"
    assert main(argv[:3] + ["--out", str(grey)] + argv[5:] + ["--target", "grey"]) == 0
    grey_target = np.asarray(Image.open(grey / row["target"]))
    assert len(np.unique(grey_target)) > 50 and grey_target.min() == 0 and grey_target.max() == 255
    assert not np.array_equal(np.asarray(Image.open(grey / row["0mm"])), near)


def test_grey_faces_keep_the_luma_order_and_span_the_phase_range():
    ramp = torch.linspace(0.2, 0.6, 64).repeat(64, 1)[None, None]  # (1, 1, 64, 64), luma 0.2 ... 0.6
    grey = grey_levels(ramp)
    assert grey.shape == (1, 64, 64) and float(grey.min()) == 0 and float(grey.max()) == 1
    assert bool((grey[0, 0].diff() >= 0).all()) and 0.45 < float(grey.mean()) < 0.55
    faces = torch.rand(3, 3, 32, 32)
    assert torch.equal(slm_faces(faces, "binary"), binarize(faces))
    assert torch.equal(slm_faces(faces, "grey"), grey_levels(faces))
    labels = label_maps(grey, 16, "grey")
    assert labels.shape == (1, 1, 16, 16) and torch.allclose(labels.mean(), grey.mean(), atol=1e-6)  # area mean
    assert set(label_maps(binarize(faces), 16).unique().tolist()) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="target"):
        slm_faces(faces, "colour")


def test_spt_unet_sizes_are_within_ten_percent_of_the_paper():
    from faceveil.restore.speckle.model import spt_unet

    counts = {v: sum(p.numel() for p in spt_unet(v).parameters()) for v in ("spt-unet", "spt-unet-b")}
    assert counts["spt-unet"] == pytest.approx(6.6e6, rel=0.1)
    assert counts["spt-unet-b"] == pytest.approx(4.0e6, rel=0.1)
    model = spt_unet("spt-unet-b", base_channels=8).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 1, 32, 40))
    assert out.shape == (2, 1, 32, 40) and float(out.min()) > 0 and float(out.max()) < 1
    with pytest.raises(ValueError, match="divisible by 8"):
        model(torch.rand(1, 1, 30, 32))


def test_position_encoding_follows_eq_4_with_base_1000():
    from faceveil.restore.speckle.model import position_encoding

    p = position_encoding(8, 5, 7).double()
    t = torch.arange(7, dtype=torch.float64)
    assert torch.allclose(p[0, 2], torch.sin(t), atol=1e-6) and torch.allclose(p[1, 2], torch.cos(t), atol=1e-6)
    assert torch.allclose(p[2, 0], torch.sin(t / 1000 ** 0.5), atol=1e-6)  # k = 2: 1000^(2 * 1 / 4)
    assert torch.allclose(p[4, :, 3], torch.sin(torch.arange(5, dtype=torch.float64)), atol=1e-6)  # rows


def test_attention_over_pixels_is_scaled_dot_product_attention():
    from faceveil.restore.speckle.model import Attention

    torch.manual_seed(0)
    attention = Attention(8, 2, tokens="pixels").eval()
    x, ctx = torch.rand(1, 8, 3, 4), torch.rand(1, 8, 3, 4)
    q, k, v = (conv(t).reshape(1, 2, 4, 12).transpose(-1, -2)
               for conv, t in ((attention.q, x), (attention.k, ctx), (attention.v, ctx)))
    reference = torch.nn.functional.scaled_dot_product_attention(q, k, v).transpose(-1, -2).reshape(1, 8, 3, 4)
    assert torch.allclose(attention(x, ctx), attention.out(reference), atol=1e-6)


def test_attention_over_channels_mixes_value_maps_convexly():
    from faceveil.restore.speckle.model import Attention

    attention = Attention(4, 1, tokens="channels")
    with torch.no_grad():
        for conv in (attention.q, attention.k, attention.v, attention.out):
            conv.weight.copy_(torch.eye(4)[:, :, None, None])
            conv.bias.zero_()
    x = torch.rand(2, 4, 6, 6)
    out = attention(x, x)
    # each output map is a softmax-weighted average of the 4 input maps (d_k x d_k tokens, Eq. 1)
    assert bool((out <= x.amax(1, keepdim=True) + 1e-6).all() and (out >= x.amin(1, keepdim=True) - 1e-6).all())
    with pytest.raises(ValueError, match="must match"):
        attention(x, x[:, :, :3])


def test_npcc_loss_is_minus_one_for_an_affine_match():
    from faceveil.restore.speckle.model import npcc_loss

    target = torch.rand(3, 1, 8, 8)
    assert float(npcc_loss(2 * target + 0.3, target)) == pytest.approx(-1.0, abs=1e-6)
    assert float(npcc_loss(1 - target, target)) == pytest.approx(1.0, abs=1e-6)


def test_speckle_dataset_splits_resume_and_stay_person_disjoint(tmp_path):
    from faceveil.data.protocols import DataConfig
    from faceveil.restore.speckle.dataset import SpeckleDataConfig, SpeckleDataset, generate

    config = SpeckleDataConfig(data=DataConfig(source="sample", protocol="view2-2fold", min_images=1),
                               grits=("1500",), seen_faces=6, unseen_faces=3, test_fraction=0.3, shard_size=4,
                               chip_size=64)
    folder = tmp_path / "speckle"
    data = generate(config, folder, progress=False)
    assert data.complete
    train, train_labels, train_rows = data.pairs("train", "1500")
    assert train.shape == (8, 1, 64, 64) and train_labels.shape == train.shape  # 4 faces x (0, 20 mm)
    assert set(torch.unique(train_labels).tolist()) == {0.0, 1.0}
    test = data.pairs("test", "1500")
    assert set(train_rows).isdisjoint(test[2]) and len(test[2]) == 4
    split = config.data.protocol_split()
    faces = data.pairs("faces", "1500")
    assert all(data.faces[r]["person"] not in split.train_people for r in faces[2]) and len(faces[2]) == 3
    assert all(data.faces[r]["person"] in split.train_people for r in train_rows)
    depth, diffuser = data.pairs("depth", "1500"), data.pairs("diffuser", "1500")
    assert len(depth[2]) == 6 and diffuser[2] == test[2][::2]
    same = [depth[2].index(r) for r in diffuser[2]]
    assert not torch.equal(depth[0][same], diffuser[0])  # another diffuser, another speckle
    # an interrupted generation resumes where it stopped and gives the same patterns
    name = SpeckleDataset.array_name("1500", 0)
    before = np.load(folder / name).copy()
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["arrays"][name]["done"] = 4
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert not SpeckleDataset(folder).complete
    with pytest.raises(ValueError, match="generated for 4 of 9"):
        SpeckleDataset(folder).pairs("train", "1500")
    assert np.array_equal(np.load(generate(config, folder, progress=False).folder / name), before)
    with pytest.raises(ValueError, match="other settings"):
        generate(SpeckleDataConfig(data=config.data, grits=("600",), seen_faces=6, unseen_faces=3), folder,
                 progress=False)
    with pytest.raises(ValueError, match="unknown split"):
        data.rows("validation")


def test_a_grey_dataset_keeps_grey_labels_and_binary_keys_do_not_change(tmp_path):
    import hashlib

    from faceveil.config import to_dict
    from faceveil.data.protocols import DataConfig
    from faceveil.restore.speckle.dataset import SpeckleDataConfig, generate

    binary = SpeckleDataConfig(data=DataConfig(source="sample", protocol="view2-2fold", min_images=1),
                               grits=("1500",), seen_faces=4, unseen_faces=2, test_fraction=0.3, chip_size=64)
    old = {k: v for k, v in json.loads(json.dumps(to_dict(binary))).items() if k != "target"}
    assert binary.key() == hashlib.sha1(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    grey = dataclasses.replace(binary, target="grey")
    assert grey.key() != binary.key()
    data = generate(grey, tmp_path / "grey", progress=False)
    speckle, labels, _ = data.pairs("train", "1500")
    assert data.target == "grey" and 0 <= float(labels.min()) and float(labels.max()) <= 1
    assert len(torch.unique(labels)) > 50
    with pytest.raises(ValueError, match="other settings"):
        generate(binary, tmp_path / "grey", progress=False)
    with pytest.raises(ValueError, match="target"):
        dataclasses.replace(binary, target="colour")


def test_train_restore_and_bench_speckle_on_the_sample(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "speckle", "--config", "smoke", "--out", str(run), "--quiet"]) == 0
    assert (run / "model.pt").is_file()
    assert main(["train", "speckle", "--config", "smoke", "--out", str(run), "--quiet"]) == 2  # a run is held
    photos, speckle, restored = tmp_path / "photos", tmp_path / "speckle", tmp_path / "restored"
    assert main(["sample", "--out", str(photos), "--people", "1"]) == 0
    assert main(["simulate", "speckle", str(photos), "--out", str(speckle), "--grit", "1500", "--distance", "40",
                 "--quiet"]) == 0
    assert main(["restore", "speckle", str(speckle), "--out", str(restored), "--model", str(run / "model.pt"),
                 "--quiet"]) == 0
    record = json.loads((restored / "result.json").read_text())
    assert record["grit"] == "1500" and all("_target" not in r["input"] for r in record["per_image"])
    face = np.asarray(Image.open(restored / record["per_image"][0]["output"]))
    assert face.shape == (64, 64) and set(np.unique(face)) <= {0, 255}
    from faceveil.restore.speckle import shipped_model

    missing = [g for g in GRITS if shipped_model(g) is None]
    if missing:  # a grit without a shipped network is refused with what to do
        assert main(["restore", "speckle", str(speckle), "--out", str(tmp_path / "none"), "--grit", missing[0]]) == 2
        assert "train speckle" in capsys.readouterr().err
    bench = tmp_path / "bench"
    assert main(["bench", "speckle", "--method", f"tiny={run / 'model.pt'}", "--out", str(bench),
                 "--speed-sizes", "32", "--repeats", "1", "--simulator-settings", "cpu", "--quiet"]) == 0
    result = json.loads((bench / "result.json").read_text())
    assert set(result["quality"]) == {"test", "depth", "faces", "diffuser"}
    q = result["quality"]["depth"]["tiny"]["1500"]
    assert -1 <= q["pcc"] <= 1 and 0 <= q["jaccard"] <= 1 and q["pairs"] == 6
    assert result["identity"]["faces"]["tiny"]["1500"]["faces"] == 3
    assert [r["model"] for r in result["models"]] == ["spt-unet", "spt-unet-b", "unet", "densenet"]
    assert (bench / "examples.png").is_file() and "Table 1 shape" in (bench / "table.md").read_text()


@pytest.mark.parametrize("name, kind, parameters_m", [("cpu-spt", "SpTUNet", 1.51), ("cpu-spt-b", "SpTUNet", 0.90),
                                                      ("cpu-unet", "SpeckleUNet", 1.49),
                                                      ("cpu-densenet", "SpeckleDenseFCN", 1.48),
                                                      ("cpu-spt-grey", "SpTUNet", 1.51),
                                                      ("cpu-unet-grey", "SpeckleUNet", 1.49)])
def test_shipped_configurations_build_the_networks_their_cards_state(name, kind, parameters_m):
    from faceveil.restore.speckle.model import build_network
    from faceveil.restore.speckle.train import load_train_config

    config = load_train_config(name, out_dir="runs/x")
    network = build_network(config.model.settings())
    assert type(network).__name__ == kind
    assert config.dataset.target == ("grey" if name.endswith("grey") else "binary")
    assert sum(p.numel() for p in network.parameters()) / 1e6 == pytest.approx(parameters_m, abs=0.01)


def test_a_model_section_with_settings_of_the_other_architecture_is_refused():
    from faceveil.restore.speckle.train import SpeckleModelConfig, load_train_config

    assert SpeckleModelConfig(architecture="unet").settings() == {"architecture": "unet", "base_channels": 30, "depth": 4}
    with pytest.raises(ValueError, match="base_channels|unknown"):
        load_train_config("smoke", out_dir="runs/x", model={"architecture": "unet", "base_channels": 14})
