"""The ``faceveil`` command on the embedded sample: outputs, refusals and error messages."""

from __future__ import annotations

import json

import numpy as np
import pytest

from faceveil.cli import main
from faceveil.data.lfw import LFW
from faceveil.data.sample import sample_root


@pytest.fixture(scope="module")
def lfw_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    code = main(["eval", "lfw", "--out", str(out), "--quiet"])
    return code, out


def test_eval_lfw_on_the_sample_writes_the_result_and_plots(lfw_run, capsys):
    code, out = lfw_run
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    for key in ("accuracy_mean", "accuracy_std", "auc", "eer", "tar_at_far", "fallbacks", "command", "data",
                "seed", "version"):
        assert key in result
    assert result["n_pairs"] == 120 and len(result["fold_accuracies"]) == 10
    assert result["data"]["embedded_sample"] is True
    # dlib separates these 40 identities well; 2 of the 129 images have no HOG detection
    assert result["accuracy_mean"] >= 0.9 and result["auc"] >= 0.95
    assert result["fallbacks"] == len(result["fallback_images"]) == 2
    assert (out / "roc.png").stat().st_size > 1000 and (out / "scores.png").stat().st_size > 1000


def test_eval_refuses_to_overwrite_and_rerun_uses_the_cache(lfw_run, capsys):
    _, out = lfw_run
    assert main(["eval", "lfw", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main(["eval", "lfw", "--out", str(out), "--quiet", "--overwrite"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["timing"]["images_from_cache"] == result["n_images"]


def test_embed_and_compare(tmp_path, capsys):
    pairs = LFW(sample_root()).pairs()
    same = next(p for p in pairs if p.same)
    diff = next(p for p in pairs if not p.same)
    npz = tmp_path / "e.npz"
    assert main(["embed", str(same.path_a), str(same.path_b), "--out", str(npz), "--quiet"]) == 0
    data = np.load(npz)
    assert data["embeddings"].shape == (2, 128)
    assert np.allclose(np.linalg.norm(data["embeddings"], axis=1), 1, atol=1e-5)
    assert [p.endswith(".jpg") for p in data["paths"]] == [True, True]
    assert main(["embed", str(same.path_a), "--out", str(npz)]) == 2
    capsys.readouterr()
    assert main(["compare", str(same.path_a), str(same.path_b)]) == 0
    assert "same person" in capsys.readouterr().out
    assert main(["compare", str(diff.path_a), str(diff.path_b)]) == 0
    assert "different people" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "lfw", "--root", "/nonexistent", "--out", "{tmp}/o"], "LFW root not found"),
        (["embed", "/nonexistent.jpg", "--out", "{tmp}/e.npz"], "input not found"),
        (["embed", "{sample}", "--out", "{tmp}/e.txt"], "must end with .npz"),
        (["compare", "/nonexistent.jpg", "{sample}"], "image not found"),
        (["eval", "lfw", "--model", "nope", "--out", "{tmp}/o"], "unknown model 'nope'"),
        (["eval", "lfw", "--upsample", "7", "--out", "{tmp}/o"], "upsample must be"),
    ],
)
def test_bad_input_gives_one_clear_line(argv, message, tmp_path, capsys):
    photo = str(next((sample_root() / "lfw").rglob("*.jpg")))
    argv = [a.format(tmp=tmp_path, sample=photo) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("faceveil: error:") and message in err
    assert not (tmp_path / "o" / "result.json").exists() and not (tmp_path / "e.npz").exists()
