"""Seed 002: the damages, the generators and discriminator, GAN training, the inpainters, the commands, the bench."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from faceveil.cli import main
from faceveil.data.sample import sample_root
from faceveil.eval.quality import LPIPSAlex
from faceveil.eval.transformed import FunctionTransform, apply_transform, compose
from faceveil.restore.inpaint.damage import (HOLE_BINS, NOISE_MEAN, NOISE_STD, algorithm1_mask, algorithm1_masks,
                                             chip_landmarks, erase, face_region, irregular_mask, irregular_mask_set,
                                             occlude)
from faceveil.restore.inpaint.model import (PAPER_WIDTHS, Autoencoder, Discriminator, InpaintUNet, VNet,
                                            build_generator, load_model, parameter_count, save_model)
from faceveil.restore.inpaint.restorer import Damage, NetworkInpainter, OpenCVInpainter, Reconstruction
from faceveil.restore.inpaint.train import InpaintTask, load_train_config, smoothed

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _faces(n=2, size=64) -> torch.Tensor:
    """The first photos of the sample people, resized: (n, 3, size, size) in [0, 1]."""
    photos = sorted(sample_root().glob("lfw/*/*.jpg"))[:n]
    images = [np.asarray(Image.open(p).convert("RGB").resize((size, size), Image.BICUBIC)) for p in photos]
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255


def test_algorithm1_is_reproducible_starts_at_a_landmark_and_stays_in_the_face():
    region = face_region(128)
    landmarks = chip_landmarks(128)
    for seed in range(20):
        mask = algorithm1_mask(128, np.random.default_rng(seed))
        assert np.array_equal(mask, algorithm1_mask(128, np.random.default_rng(seed)))
        assert mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}
        assert not mask[~region].any()  # inside the face region only
        assert any(mask[int(y), int(x)] for x, y in landmarks)  # the start square sits on a landmark
        assert 0.005 < mask.mean() < 0.12  # a 20 px square and 30 segments of 8-13 px at 256, scaled by 0.5
    assert not np.array_equal(algorithm1_mask(128, np.random.default_rng(0)),
                              algorithm1_mask(128, np.random.default_rng(1)))
    code = [algorithm1_mask(128, np.random.default_rng(s), "code") for s in range(20)]
    assert all(not m[~region].any() for m in code)
    assert algorithm1_masks(3, 64, seed=5).shape == (3, 1, 64, 64)
    assert torch.equal(algorithm1_masks(3, 64, seed=5), algorithm1_masks(3, 64, seed=5))
    with pytest.raises(ValueError, match="variant"):
        algorithm1_mask(128, np.random.default_rng(0), "diagonal")


def test_occlusion_noise_is_n_128_35_added_or_replacing_and_leaves_the_rest():
    images = torch.full((2, 3, 64, 64), 0.25)
    masks = torch.zeros(2, 1, 64, 64)
    masks[:, :, 8:56, 8:56] = 1
    hole = masks.expand(-1, 3, -1, -1) > 0
    replaced = occlude(images, masks, torch.Generator().manual_seed(0), "replace")
    added = occlude(torch.zeros_like(images), masks, torch.Generator().manual_seed(0), "add")
    assert torch.equal(replaced[~hole], images[~hole])
    values = replaced[hole] * 255
    assert abs(float(values.mean()) - NOISE_MEAN) < 1.0 and abs(float(values.std()) - NOISE_STD) < 1.0
    assert torch.allclose(added[hole], replaced[hole])  # added to black is the noise itself
    brighter = occlude(images, masks, torch.Generator().manual_seed(0), "add")
    assert float(brighter[hole].mean()) > float(replaced[hole].mean())  # added: on top of the face
    assert float(brighter.max()) <= 1 and float(brighter.min()) >= 0
    assert torch.equal(erase(images, masks)[hole], torch.ones(int(hole.sum())))
    with pytest.raises(ValueError, match=r"masks must be \(N, 1, H, W\)"):
        occlude(images, masks[:1])


def test_irregular_masks_fall_in_their_hole_ratio_bins_and_the_set_is_fixed():
    rng = np.random.default_rng(0)
    for lo, hi in HOLE_BINS:
        for _ in range(3):
            ratio = float(irregular_mask(64, rng, (lo, hi)).mean())
            assert lo < ratio <= hi
    masks = irregular_mask_set(64, 10, seed=3)
    again = irregular_mask_set(64, 10, seed=3)
    assert torch.equal(masks.masks, again.masks) and masks.bins.tolist() == [0, 1, 2, 3, 4] * 2
    ratios = masks.masks.mean((1, 2, 3))
    assert all(HOLE_BINS[b][0] < float(r) <= HOLE_BINS[b][1] for r, b in zip(ratios, masks.bins.tolist()))
    repeated, bins = masks.for_images(23)
    assert torch.equal(repeated[20], masks.masks[0]) and bins[13] == masks.bins[3]  # index reset when exhausted
    with pytest.raises(ValueError, match="hole_bin"):
        irregular_mask(64, rng, (0.5, 0.2))


def test_generators_have_the_papers_shape_and_each_modification_changes_what_it_says():
    assert 32.5e6 < parameter_count(VNet(PAPER_WIDTHS)) < 33.0e6  # 64-128-256-512-512: the seed's ~26-30 M
    x = torch.rand(2, 3, 64, 64)
    torch.set_grad_enabled(False)
    for model in (VNet((4, 8, 8)), InpaintUNet(4, 2), Autoencoder((4, 8, 8, 8), 64, latent=16),
                  Autoencoder((4, 8, 8, 8), 64, dense=False, strided=True, skips=True)):
        y = model(x)
        assert y.shape == (2, 3, 64, 64) and 0 <= float(y.min()) and float(y.max()) <= 1
        rebuilt = build_generator(model.settings())
        assert type(rebuilt) is type(model) and parameter_count(rebuilt) == parameter_count(model)
    base = Autoencoder((4, 8, 8, 8), 64)
    kinds = lambda m, t: sum(isinstance(layer, t) for layer in m.modules())  # noqa: E731
    assert kinds(base, torch.nn.Linear) == 2 and kinds(base, torch.nn.MaxPool2d) == 4
    assert kinds(Autoencoder((4, 8, 8, 8), 64, dense=False), torch.nn.Linear) == 0
    assert kinds(Autoencoder((4, 8, 8, 8), 64, strided=True), torch.nn.MaxPool2d) == 0
    assert base.merge is None and len(Autoencoder((4, 8, 8, 8), 64, skips=True).merge) == 4
    assert VNet((4, 8, 8), in_channels=4)(torch.rand(1, 4, 32, 32)).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="divisible by 4"):
        VNet((4, 8, 8))(torch.rand(1, 3, 30, 30))
    with pytest.raises(ValueError, match="built for 64x64"):
        base(torch.rand(1, 3, 32, 32))
    logits = Discriminator((4, 8), 64)(x)
    assert logits.shape == (2,)
    torch.set_grad_enabled(True)


def test_gan_losses_use_keras_label_smoothing_and_one_generator_pass(tmp_path):
    assert smoothed(1.0, 0.25) == 0.875 and smoothed(0.0, 0.25) == 0.125
    config = load_train_config("smoke", out_dir=str(tmp_path))
    assert (config.mse_weight, config.label_smoothing, config.generator_lr, config.discriminator_lr,
            config.beta1) == (100.0, 0.25, 1e-4, 2.5e-4, 0.5)

    class Faces:
        chips = (torch.rand(4, 3, 32, 32) * 255).to(torch.uint8)

        def images(self, index):
            return self.chips[index].float() / 255

        def __len__(self):
            return 4

    task = InpaintTask(config, Faces())
    models = task.build()
    batch = task.batch(torch.arange(4), torch.Generator().manual_seed(0), torch.device("cpu"))
    assert set(batch) == {"clean", "damaged", "mask"} and batch["mask"].sum() > 0
    outside = batch["mask"].expand(-1, 3, -1, -1) < 0.5
    assert torch.equal(batch["damaged"][outside], batch["clean"][outside])
    d = task.losses(models, batch, "discriminator", None)
    assert set(d) == {"total", "accuracy"} and "fake" in batch and batch["fake"].requires_grad
    models["discriminator"].eval()  # no dropout: the same logits twice
    g = task.losses(models, batch, "generator", None)
    assert torch.allclose(g["total"], g["adversarial"] + 100 * g["mse"])
    judged = models["discriminator"](batch["fake"])
    expected = torch.nn.functional.binary_cross_entropy(torch.sigmoid(judged), torch.full_like(judged, 0.875))
    assert torch.allclose(g["adversarial"], expected, atol=1e-5)
    assert list(task.optimizers(models)) == ["discriminator", "generator"]
    with pytest.raises(ValueError, match="model: "):
        load_train_config("smoke", out_dir=str(tmp_path), chip_size=34)  # the 3-level V-Net needs multiples of 4


def test_the_model_file_round_trips_in_half_precision_and_refuses_edited_settings(tmp_path):
    model = VNet((4, 8, 8))
    chip = {"method": "dlib-chip", "size": [32, 32], "padding": 0.25}
    save_model(tmp_path / "m.pt", model, chip, {"mask_input": False})
    loaded, payload = load_model(tmp_path / "m.pt")
    x = torch.rand(1, 3, 32, 32)
    assert (loaded(x) - model(x)).abs().max() < 5e-3 and payload["chip"] == chip
    payload["model"]["widths"] = [4, 8, 16]
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="do not build a network that matches"):
        load_model(tmp_path / "edited.pt")


def test_inpainters_and_the_benchmark_transforms():
    faces = _faces(3, 32)
    masks = torch.zeros(3, 1, 32, 32)
    masks[:, :, 10:20, 12:22] = 1
    flat = torch.full((1, 3, 32, 32), 0.4)
    for method in ("telea", "ns"):
        inpainter = OpenCVInpainter(method)
        out = inpainter.restore(faces, masks)
        outside = masks.expand(-1, 3, -1, -1) < 0.5
        assert (out[outside] - faces[outside]).abs().max() <= 0.5 / 255 + 1e-6  # only the holes change
        assert (inpainter.restore(erase(flat, masks[:1]), masks[:1]) - 0.4).abs().max() < 2 / 255  # a flat fill
        with pytest.raises(ValueError, match="needs the masks"):
            inpainter.restore(faces)
    model = VNet((4, 8, 8))
    network = NetworkInpainter(model, {"chip": {"size": [32, 32]}, "model": model.settings()})
    assert network.restore(_faces(2, 48)).shape == (2, 3, 48, 48)  # resampled to the model's size and back

    damage = Damage("algorithm1", 32, seed=1)
    rows = np.array([0, 1, 2])
    damaged = apply_transform(damage, faces, rows)
    assert torch.equal(damaged, apply_transform(damage, faces, rows))  # one fixed damage per chip
    assert not torch.equal(damage.masks([0]), damage.masks([1]))
    with pytest.raises(ValueError, match="depends on which chips it gets"):
        damage(faces)
    composite = Reconstruction(damage, network, composite=True)
    whole = apply_transform(Reconstruction(damage, network), faces, rows)
    pasted = apply_transform(composite, faces, rows)
    hole = damage.masks(rows).expand(-1, 3, -1, -1) > 0.5
    assert torch.equal(pasted[~hole], faces[~hole]) and torch.equal(pasted[hole], whole[hole])
    calls = []

    class Counting(OpenCVInpainter):
        def restore(self, damaged, masks=None):
            calls.append(len(damaged))
            return super().restore(damaged, masks)

    counting, cache = Counting("telea"), {}
    kept = apply_transform(Reconstruction(damage, counting, cache=cache), faces, rows)
    again = apply_transform(Reconstruction(damage, counting, composite=True, cache=cache), faces[1:], rows[1:])
    assert calls == [3] and sorted(cache) == [0, 1, 2]  # one inpainting pass, shared by the composite
    assert torch.equal(kept, (kept * 255).round() / 255) and torch.equal(again[~hole[1:]], faces[1:][~hole[1:]])
    mask_set = irregular_mask_set(32, 5, seed=0)
    irregular = Damage("irregular", 32, mask_set=mask_set)
    assert torch.equal(irregular.masks([7]), mask_set.masks[2:3]) and irregular.hole_bins([7]).tolist() == [2]
    chained = compose(damage, FunctionTransform("half", lambda x: x / 2))
    assert torch.allclose(apply_transform(chained, faces, rows), damaged / 2)
    with pytest.raises(ValueError, match="depends on which chips it gets"):
        chained(faces)


def test_degrade_occlude_and_mask_pair_images_with_masks_and_restore_reads_them(tmp_path, capsys):
    photos, occluded, holes = tmp_path / "photos", tmp_path / "occluded", tmp_path / "holes"
    assert main(["sample", "--out", str(photos), "--people", "1"]) == 0
    assert main(["degrade", "occlude", str(photos), "--out", str(occluded), "--chip-size", "64", "--quiet"]) == 0
    images = sorted(p for p in occluded.rglob("*.png") if not p.stem.endswith("_mask"))
    assert images and all(p.with_name(p.stem + "_mask.png").is_file() for p in images)
    first = np.asarray(Image.open(images[0])).copy()
    assert main(["degrade", "occlude", str(photos), "--out", str(occluded), "--chip-size", "64", "--quiet",
                 "--overwrite"]) == 0
    assert np.array_equal(first, np.asarray(Image.open(images[0])))  # seeded: the same command, the same damage
    assert main(["degrade", "mask", str(photos), "--out", str(holes), "--chip-size", "64", "--hole-ratio", "0.3-0.4",
                 "--quiet"]) == 0
    for mask in holes.rglob("*_mask.png"):
        assert 0.3 < (np.asarray(Image.open(mask))[..., 0] > 127).mean() <= 0.4
    manifest = json.loads((holes / "result.json").read_text())
    assert manifest["hole_ratio"] == [0.3, 0.4] and "mask" in manifest["per_image"][0]

    restored = tmp_path / "restored"
    assert main(["restore", "inpaint", str(holes), "--method", "telea", "--out", str(restored), "--quiet"]) == 0
    outputs = sorted(restored.rglob("*.png"))
    assert len(outputs) == len(images)  # the masks are not inputs
    damaged, mask = np.asarray(Image.open(sorted(holes.rglob("*[0-9].png"))[0])), None
    mask = np.asarray(Image.open(sorted(holes.rglob("*_mask.png"))[0]))[..., 0] > 127
    out = np.asarray(Image.open(outputs[0]))
    assert np.array_equal(out[~mask], damaged[~mask]) and not np.array_equal(out[mask], damaged[mask])
    capsys.readouterr()
    bare = tmp_path / "bare"
    bare.mkdir()
    Image.open(images[0]).save(bare / "face.png")
    assert main(["restore", "inpaint", str(bare), "--method", "ns", "--out", str(tmp_path / "x")]) == 2
    assert "needs a mask for every image" in capsys.readouterr().err
    assert main(["restore", "inpaint", str(bare), "--method", "ns", "--mask", str(images[0]), str(images[0]),
                 "--out", str(tmp_path / "y")]) == 2
    assert "one per input" in capsys.readouterr().err
    Image.new("L", (10, 10)).save(tmp_path / "small_mask.png")
    assert main(["restore", "inpaint", str(bare), "--method", "ns", "--mask", str(tmp_path / "small_mask.png"),
                 "--out", str(tmp_path / "z")]) == 2
    assert "is 10x10, its image 64x64" in capsys.readouterr().err


def test_train_inpaint_then_bench_scores_each_probe_with_the_model_that_never_saw_its_person(tmp_path, capsys):
    runs = []
    for split in (0, 1):
        runs.append(tmp_path / f"s{split}")
        assert main(["train", "inpaint", "--config", "smoke", "--split", str(split), "--out", str(runs[-1]),
                     "--quiet"]) == 0
    model, payload = load_model(runs[0] / "model.pt")
    config = load_train_config("smoke", out_dir=str(runs[0]))
    trained = set(payload["provenance"]["protocol"]["train_identities"]["names"])
    split = config.data.protocol_split()
    assert trained and trained <= set(split.train_people) and not trained & split.test_people
    assert payload["damage"] == "algorithm1" and set(payload["history"][-1]["loss"]) >= {
        "discriminator/total", "generator/adversarial", "generator/mse"}

    models = ",".join(str(r / "model.pt") for r in runs)
    lpips_model = LPIPSAlex()  # random weights (non-negative lin layers, as trained LPIPS has): the path runs
    for i in range(5):
        getattr(lpips_model, f"lin{i}").model[1].weight.data.abs_()
    torch.save(lpips_model.state_dict(), tmp_path / "lpips.pth")
    base = ["bench", "inpaint", "--judges", "dlib-torch", "--chip-size", "32", "--masks", "5", "--baselines", "telea",
            "--quality-images", "6", "--examples", "2", "--quiet"]
    assert main(base + ["--method", f"tiny={models}", "--quality-method", f"one={runs[0] / 'model.pt'}",
                        "--lpips-weights", str(tmp_path / "lpips.pth"), "--out", str(tmp_path / "b")]) == 0
    result = json.loads((tmp_path / "b" / "result.json").read_text())
    conditions = result["evaluations"]["dlib-torch"]["conditions"]
    assert set(conditions) == {"clean", *(f"{d}/{m}" for d in ("algorithm1", "irregular")
                                          for m in ("damaged", "tiny", "tiny-inpainted", "telea"))}
    clean, damaged = conditions["clean"], conditions["irregular/damaged"]
    assert clean["acc"] > damaged["acc"] and clean["judge_cosine"] is None and damaged["judge_cosine"] < 1
    assert [b["bin"] for b in damaged["per_hole_ratio"]] == [list(b) for b in HOLE_BINS]
    quality = result["quality"]["irregular"]
    assert quality["irregular/telea"]["psnr"] > quality["irregular/damaged"]["psnr"]
    assert quality["irregular/damaged"]["lpips"] > 0 and "| LPIPS |" in (tmp_path / "b" / "table.md").read_text()
    assert quality["irregular/one"]["images"] <= 6 and result["quality_images_of"]["irregular/one"] >= 1
    assert result["protocol"]["pairs"] == sum(s["test_pairs"] for s in result["protocol"]["splits"])
    assert all((tmp_path / "b" / name).is_file() for name in ("examples.png", "distributions.png", "table.md"))
    assert "### Rank of each reconstruction" in (tmp_path / "b" / "table.md").read_text()
    capsys.readouterr()
    same = ",".join(str(runs[0] / "model.pt") for _ in runs)
    assert main(base + ["--method", f"tiny={same}", "--out", str(tmp_path / "c")]) == 2
    assert "is free of the people of" in capsys.readouterr().err
    assert main(["restore", "inpaint", str(sample_root() / "lfw"), "--model", str(runs[0] / "model.pt"), "--out",
                 str(tmp_path / "r"), "--composite"]) == 2
    assert "--composite needs a mask" in capsys.readouterr().err


def test_the_shipped_configurations_are_the_documented_runs(tmp_path):
    cpu = load_train_config("cpu", out_dir=str(tmp_path))
    paper = load_train_config("paper", out_dir=str(tmp_path))
    assert (cpu.model.architecture, cpu.model.widths, cpu.chip_size, cpu.batch_size) == ("vnet", (16, 32, 64, 128, 128),
                                                                                         128, 16)
    assert cpu.data.protocol == "view2-2fold" and cpu.damage == "algorithm1" and cpu.noise == "add"
    assert (paper.model.widths, paper.chip_size, paper.batch_size, paper.epochs) == (PAPER_WIDTHS, 256, 32, 20)
    family = {name: load_train_config(f"cpu-table1-{name}", out_dir=str(tmp_path))
              for name in ("base", "no-dense", "strided", "skips", "unet", "vnet")}
    assert {c.epochs for c in family.values()} == {1} and family["vnet"].model == cpu.model
    flags = {name: (c.model.dense, c.model.strided, c.model.skips) for name, c in family.items()
             if c.model.architecture == "autoencoder"}
    assert flags == {"base": (True, False, False), "no-dense": (False, False, False),
                     "strided": (True, True, False), "skips": (True, False, True)}
