"""Seed 003: the degradation, EDSR, the identity loss, training, the model file, the commands and the bench."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from faceveil.cli import main
from faceveil.data.resample import bicubic_resize, low_resolution_size
from faceveil.data.sample import sample_root
from faceveil.eval.transformed import CrossFitted, FunctionTransform
from faceveil.restore.superres.losses import differentiable_judge, identity_features, identity_loss, image_loss
from faceveil.restore.superres.model import EDSR, edsr_16_64, edsr_32_256, load_model, save_model
from faceveil.restore.faces import training_faces
from faceveil.restore.superres.train import SuperResTask, load_train_config

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _face(size=112, person=0) -> torch.Tensor:
    """The first photo of a sample person, resized, as an RGB image (1, 3, size, size) in [0, 1]."""
    folder = sorted(p for p in (sample_root() / "lfw").iterdir() if p.is_dir())[person]
    photo = sorted(folder.glob("*.jpg"))[0]
    image = np.asarray(Image.open(photo).convert("RGB").resize((size, size), Image.BICUBIC))
    return torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 255


def test_bicubic_resize_is_pils_antialiased_bicubic_and_a_plain_resize_is_not():
    face = _face()
    for size in ((7, 6), (14, 12), (28, 24), (16, 16), (224, 200)):
        ours = bicubic_resize(face, size)
        pil = [np.asarray(Image.fromarray(face[0, c].numpy(), mode="F").resize(size[::-1], Image.BICUBIC))
               for c in range(3)]
        assert np.abs(ours[0].numpy() - np.clip(np.stack(pil), 0, 1)).max() < 1e-5, size
    plain = F.interpolate(face, size=(7, 6), mode="bicubic", align_corners=False).clamp(0, 1)
    assert (plain - bicubic_resize(face, (7, 6))).abs().max() > 0.1  # 4 x 4 taps at factor 16: aliased
    assert low_resolution_size(112, 96, 16) == (7, 6) and low_resolution_size(112, 112, 8) == (14, 14)
    assert bicubic_resize(face, 112) is face
    with pytest.raises(ValueError, match="factor must be >= 1"):
        low_resolution_size(112, 96, 0.5)
    with pytest.raises(ValueError, match="size must be"):
        bicubic_resize(face, (0, 4))


def test_edsr_is_x4_without_batch_norm_with_the_papers_sizes():
    model = edsr_16_64()
    x = torch.rand(2, 3, 7, 6)
    y = model(x)
    assert y.shape == (2, 3, 28, 24) and 0 <= float(y.detach().min()) and float(y.detach().max()) <= 1
    assert sum(p.numel() for p in model.parameters()) == 1_517_571  # about 1.5 M (EDSR baseline, no mean shift)
    assert 43.0e6 < sum(p.numel() for p in edsr_32_256().parameters()) < 43.2e6  # EDSR's 43 M
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert sum(isinstance(m, torch.nn.PixelShuffle) for m in model.modules()) == 2
    assert model.body[0].res_scale == 0.1
    with pytest.raises(ValueError, match=r"expects \(N, 3, h, w\)"):
        model(torch.rand(1, 1, 7, 7))


def test_the_model_file_round_trips_in_half_precision_and_refuses_edited_settings(tmp_path):
    torch.manual_seed(0)
    model = EDSR(2, 8)
    path = save_model(tmp_path / "m.pt", model, {"method": "dlib-chip", "size": [112, 112], "padding": 0.25})
    loaded, payload = load_model(path)
    x = torch.rand(1, 3, 7, 7)
    assert (loaded(x) - model(x)).abs().max() < 2e-3  # float16 weights
    assert payload["chip"]["size"] == [112, 112] and loaded.settings() == model.settings()
    payload["model"]["filters"] = 16
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(ValueError, match="do not build a network that matches the stored weights"):
        load_model(tmp_path / "edited.pt")


def test_identity_loss_is_zero_for_the_face_itself_and_trains_only_the_restorer():
    judge = differentiable_judge("dlib-torch")
    face = _face()
    with torch.no_grad():
        target = identity_features(judge, face)
    assert float(identity_loss(judge, face, target)) < 1e-6
    sr = bicubic_resize(bicubic_resize(face, (7, 7)), (28, 28)).requires_grad_(True)
    loss = identity_loss(judge, sr, target)
    sharper = bicubic_resize(bicubic_resize(face, (28, 28)), (112, 112))
    # less detail, less identity
    assert float(loss.detach()) > 1.5 * float(identity_loss(judge, sharper, target)) > 0.01
    loss.backward()
    assert sr.grad is not None and float(sr.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in judge.module.parameters())
    assert float(image_loss(face, face)) == 0
    assert abs(float(image_loss(face, 1 - face)) - float((1 - 2 * face).abs().mean())) < 1e-6
    with pytest.raises(ValueError, match="differ in shape"):
        image_loss(face, sr)


def test_each_batch_draws_one_factor_and_its_target_is_hr_at_four_times_the_input(tmp_path):
    config = load_train_config("smoke", out_dir=str(tmp_path))
    faces = training_faces(config.data, config.data.protocol_split(), config.chip(), progress=False)
    task = SuperResTask(config, faces, judge=object())  # the judge is not called by batch()
    generator = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(30):
        lr, mr, hr = task.batch(torch.arange(4), generator, torch.device("cpu"))
        assert mr.shape[-1] == 4 * lr.shape[-1] and hr.shape[-2:] == (112, 112)
        seen.add(lr.shape[-1])
        if lr.shape[-1] == 28:
            assert torch.equal(mr, hr)  # factor 4: the target is the HR itself
        else:
            assert torch.allclose(mr, bicubic_resize(hr, mr.shape[-2:]))
    assert seen == {7, 14, 28}
    again = SuperResTask(config, faces, judge=object()).batch(torch.arange(4), torch.Generator().manual_seed(0), "cpu")
    first = SuperResTask(config, faces, judge=object()).batch(torch.arange(4), torch.Generator().manual_seed(0), "cpu")
    assert all(torch.equal(a, b) for a, b in zip(again, first))
    milestones = task.optimizers(task.build())["srnet"].config.milestones
    assert milestones == (round(task.total_steps() / 2),)


def test_train_superres_resumes_records_its_people_and_its_model_restores(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "superres", "--config", "smoke", "--max-steps", "3", "--out", str(run), "--quiet"]) == 0
    assert "stopped after --max-steps 3" in capsys.readouterr().out
    assert main(["train", "superres", "--config", "smoke", "--resume", "--out", str(run), "--quiet"]) == 0
    model, payload = load_model(run / "model.pt")
    config = load_train_config("smoke", out_dir=str(run))
    split = config.data.protocol_split()
    trained = set(payload["provenance"]["protocol"]["train_identities"]["names"])
    assert trained and trained <= set(split.train_people) and not trained & split.test_people
    assert payload["identity_weight"] == 0.5 and payload["history"][-1]["steps"] == 20
    assert set(payload["history"][-1]["loss"]) == {"l1", "identity", "total"}

    photos, low, restored = tmp_path / "photos", tmp_path / "low", tmp_path / "restored"
    assert main(["sample", "--out", str(photos), "--people", "1"]) == 0
    assert main(["degrade", "downscale", str(photos), "--factor", "16", "--out", str(low), "--quiet"]) == 0
    pngs = sorted(low.rglob("*.png"))
    assert pngs and all(Image.open(p).size == (7, 7) for p in pngs)
    assert not list(low.rglob("*.json"))[1:] and (low / "result.json").is_file()  # one manifest, no sidecars
    assert main(["restore", "superres", str(low), "--model", str(run / "model.pt"), "--out", str(restored),
                 "--quiet"]) == 0
    out = sorted(restored.rglob("*.png"))
    assert len(out) == len(pngs) and all(Image.open(p).size == (112, 112) for p in out)
    manifest = json.loads((restored / "result.json").read_text())
    assert manifest["images"] == len(pngs) and manifest["per_image"][0]["input_size"] == [7, 7]
    capsys.readouterr()
    assert main(["restore", "superres", str(low), "--model", str(run / "model.pt"), "--out", str(tmp_path / "c"),
                 "--device", "cuda"]) == 2 or torch.cuda.is_available()
    assert main(["degrade", "downscale", str(photos), "--size", "200x8", "--out", str(tmp_path / "d")]) == 2
    assert "not a down-sampling" in capsys.readouterr().err


def test_cross_fitted_transforms_apply_each_groups_own_and_refuse_bare_images():
    plus = FunctionTransform("plus", lambda x: (x + 0.5).clamp(0, 1))
    zero = FunctionTransform("zero", lambda x: torch.zeros_like(x))
    crossed = CrossFitted("crossed", {0: plus, 1: zero}, np.array([0, 1, 0, 1]))
    chips = torch.full((4, 3, 4, 4), 0.25)
    out = crossed.apply_rows(chips[[0, 1, 3]], np.array([0, 1, 3]))
    assert torch.allclose(out[0], torch.full((3, 4, 4), 0.75)) and float(out[1:].abs().max()) == 0
    with pytest.raises(ValueError, match="depends on which chips it gets"):
        crossed(chips)
    with pytest.raises(ValueError, match=r"no transform for group\(s\) \[2\]"):
        CrossFitted("c", {0: plus}, np.array([0, 2])).apply_rows(chips[:2], np.array([0, 1]))
    assert crossed.record()["chips_per_group"] == {"0": 2, "1": 2}


def test_bench_superres_scores_each_probe_with_the_model_that_never_saw_its_person(tmp_path, capsys):
    runs = []
    for split in (0, 1):
        runs.append(tmp_path / f"s{split}")
        assert main(["train", "superres", "--config", "smoke", "--split", str(split), "--out", str(runs[-1]),
                     "--quiet"]) == 0
    models = ",".join(str(r / "model.pt") for r in runs)
    base = ["bench", "superres", "--judges", "dlib-torch", "--sizes", "7", "28", "--identification-sizes", "7",
            "--runs", "2", "--examples", "2", "--speed-images", "4", "--quiet"]
    assert main(base + ["--method", f"tiny={models}", "--out", str(tmp_path / "b")]) == 0
    result = json.loads((tmp_path / "b" / "result.json").read_text())
    conditions = result["evaluations"]["dlib-torch"]["conditions"]
    assert set(conditions) == {"clean", "bicubic@7", "tiny@7", "bicubic@28", "tiny@28"}
    assert conditions["bicubic@28"]["accuracy"] > conditions["bicubic@7"]["accuracy"]
    assert conditions["bicubic@28"]["psnr"] > conditions["bicubic@7"]["psnr"]
    assert conditions["bicubic@7"]["rank1"] is not None and conditions["clean"]["rank1"] > 0.5
    crossed = result["evaluations"]["dlib-torch"]["full"]["conditions"]["tiny@7"]["settings"]
    assert set(crossed["chips_per_group"]) == {"0", "1"} and min(crossed["chips_per_group"].values()) > 0
    assert result["protocol"]["pairs"] == sum(s["test_pairs"] for s in result["protocol"]["splits"])
    assert all((tmp_path / "b" / name).is_file() for name in ("examples.png", "accuracy.png"))
    assert "| bicubic |" in (tmp_path / "b" / "table.md").read_text()
    capsys.readouterr()
    same = ",".join(str(runs[0] / "model.pt") for _ in runs)
    assert main(base + ["--method", f"tiny={same}", "--out", str(tmp_path / "c")]) == 2
    assert "is free of the people of view2-2fold/2" in capsys.readouterr().err


def test_the_shipped_configurations_are_the_documented_runs(tmp_path):
    cpu, no_identity, paper = (load_train_config(name, out_dir=str(tmp_path)) for name in ("cpu", "cpu-id0", "paper"))
    assert (cpu.model.blocks, cpu.model.filters, cpu.identity_weight, cpu.batch_size) == (16, 64, 0.5, 16)
    assert no_identity.identity_weight == 0 and {**vars(no_identity), "identity_weight": 0.5} == vars(cpu)
    assert (paper.model.blocks, paper.model.filters, paper.batch_size, paper.device) == (32, 256, 64, "cuda")
    assert cpu.factors == (4, 8, 16) and cpu.halve_at == (0.5,) and cpu.learning_rate == 1e-4
    assert cpu.data.protocol == "view2-2fold" and cpu.data.min_images == 1
    with pytest.raises(ValueError, match="each of factors"):
        load_train_config("smoke", out_dir=str(tmp_path), factors=[2, 4])
    with pytest.raises(ValueError, match="halve_at"):
        load_train_config("smoke", out_dir=str(tmp_path), halve_at=[0.7, 0.2])
    with pytest.raises(ValueError, match="identity_judge"):
        load_train_config("smoke", out_dir=str(tmp_path), identity_judge="vgg-face")


def test_degrade_downscale_of_aligned_chips_is_the_bicubic_down_sampling(tmp_path):
    chip = (_face(112)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    (tmp_path / "in").mkdir()
    Image.fromarray(chip).save(tmp_path / "in" / "face.png")
    assert main(["degrade", "downscale", str(tmp_path / "in"), "--aligned", "--size", "14x12", "--out",
                 str(tmp_path / "out"), "--quiet"]) == 0
    low = np.asarray(Image.open(tmp_path / "out" / "face.png")).astype(float)
    expected = bicubic_resize(torch.from_numpy(chip).permute(2, 0, 1)[None].float() / 255, (14, 12))
    assert low.shape == (14, 12, 3)
    assert np.abs(low - expected[0].permute(1, 2, 0).numpy() * 255).max() <= 0.5 + 1e-6
    manifest = json.loads((tmp_path / "out" / "result.json").read_text())
    assert manifest["low_resolution"] == [14, 12] and manifest["per_image"][0]["face_detected"] is None
