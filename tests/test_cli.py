"""The ``faceveil`` command through its real entry point: outputs, refusals, error lines, signals, speed of --help."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceveil.cli import VERBS, main
from faceveil.data.lfw import LFW
from faceveil.data.sample import sample_root

PHOTO = next((sample_root() / "lfw").rglob("*.jpg"))
#: a directory no process can create files in, even as root
UNWRITABLE = Path("/proc/faceveil-test")


def _forbid_embedding(monkeypatch) -> None:
    """Make any embedding fail the test: the command must refuse before it works."""
    from faceveil.eval import pairs
    from faceveil.recognition import pipeline

    def must_not_run(*args, **kwargs):
        pytest.fail("embedded before checking the output")

    for module in (pipeline, pairs):
        monkeypatch.setattr(module, "embed_files", must_not_run)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("faceveil: error:") and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def lfw_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eval")
    code = main(["eval", "lfw", "--out", str(out), "--quiet"])
    return code, out


@pytest.fixture()
def noise_photos(tmp_path):
    rng = np.random.default_rng(0)
    paths = []
    for name in ("noise1.png", "noise2.png"):
        Image.fromarray(rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)).save(tmp_path / name)
        paths.append(tmp_path / name)
    return paths


def test_eval_lfw_on_the_sample_writes_the_result_and_plots(lfw_run):
    code, out = lfw_run
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    for key in ("accuracy_mean", "accuracy_std", "auc", "eer", "tar_at_far", "fallbacks", "provenance"):
        assert key in result
    for key in ("command", "data", "seed", "version", "machine"):
        assert key in result["provenance"]
    assert result["provenance"]["command"] == f"faceveil eval lfw --out {out} --quiet"
    assert result["n_pairs"] == 120 and len(result["fold_accuracies"]) == 10
    assert result["provenance"]["data"]["embedded_sample"] is True
    # dlib separates these 40 identities well; 2 of the 129 images have no HOG detection
    assert result["accuracy_mean"] >= 0.9 and result["auc"] >= 0.95
    assert result["fallbacks"] == len(result["fallback_images"]) == 2
    assert (out / "roc.png").stat().st_size > 1000 and (out / "scores.png").stat().st_size > 1000


def test_eval_refuses_to_overwrite_and_rerun_uses_the_cache(lfw_run, capsys):
    _, out = lfw_run
    assert main(["eval", "lfw", "--out", str(out), "--quiet"]) == 2
    assert "--overwrite" in _error_line(capsys)
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
    assert json.loads(str(data["provenance"]))["command"].startswith("faceveil embed ")
    assert main(["embed", str(same.path_a), "--out", str(npz)]) == 2
    capsys.readouterr()
    assert main(["compare", str(same.path_a), str(same.path_b)]) == 0
    assert "same person" in capsys.readouterr().out
    assert main(["compare", str(diff.path_a), str(diff.path_b)]) == 0
    assert "different people" in capsys.readouterr().out


def test_compare_gives_no_verdict_without_a_face(noise_photos, tmp_path, capsys):
    a, b = noise_photos
    assert main(["compare", str(a), str(b)]) == 2
    err = _error_line(capsys)
    assert f"no face detected in {a} and {b}" in err
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tiny)
    assert main(["compare", str(PHOTO), str(tiny)]) == 2
    err = _error_line(capsys)
    assert str(tiny) in err and str(PHOTO) not in err.split("no face detected in")[1]
    assert main(["compare", str(a), str(b), "--allow-fallback"]) == 0
    out = capsys.readouterr().out
    assert out.index("warning: no face detected") < out.index("cosine similarity")


@pytest.mark.parametrize("value", ["nan", "2", "-1.5", "inf"])
def test_compare_refuses_thresholds_outside_the_cosine_range(value, capsys):
    assert main(["compare", str(PHOTO), str(PHOTO), "--threshold", value]) == 2
    assert "must be a number in [-1, 1]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["eval", "lfw", "--root", "/nonexistent", "--out", "{tmp}/o"], "LFW root not found"),
        (["embed", "/nonexistent.jpg", "--out", "{tmp}/e.npz"], "input not found"),
        (["embed", "{photo}", "--out", "{tmp}/e.txt"], "must end with .npz"),
        (["compare", "/nonexistent.jpg", "{photo}"], "image not found"),
        (["eval", "lfw", "--model", "nope", "--out", "{tmp}/o"], "unknown model 'nope'"),
        (["eval", "lfw", "--upsample", "7", "--out", "{tmp}/o"], "--upsample must be 0-3"),
        (["eval", "lfw", "--device", "cuda", "--out", "{tmp}/o"], "the native dlib judge runs on the CPU only"),
        (["eval", "lfw", "--out", "{file}"], "exists and is not a folder"),
        (["eval", "lfw", "--out", "{file}", "--overwrite"], "exists and is not a folder"),
        (["eval", "lfw", "--out", str(UNWRITABLE / "o")], "cannot create"),
        (["embed", "{photo}", "--out", str(UNWRITABLE / "e.npz")], "cannot create"),
        (["embed", "{photo}", "--out", "{tmp}/dir.npz", "--overwrite"], "is a folder"),
        (["embed", "{photo}", "--out", "{tmp}/e.npz", "--cache", "{tmp}"], "is a folder"),
        (["embed", "{photo}", "--out", "{tmp}/e.npz", "--cache", "{file}"], "cannot be used"),
        (["protect", "dp", "--method", "rdp", "--epsilon", "1", "{photo}", "--out", "{file}"],
         "exists and is not a folder"),
        (["bench", "dp", "--out", "{file}"], "exists and is not a folder"),
        (["bench", "optical-sweep", "--out", "{file}"], "exists and is not a folder"),
    ],
)
def test_bad_input_gives_one_clear_line_and_leaves_nothing(argv, message, tmp_path, capsys):
    (tmp_path / "dir.npz").mkdir()
    file = tmp_path / "notes.txt"
    file.write_text("not a database, not a folder")
    argv = [a.format(tmp=tmp_path, photo=PHOTO, file=file) for a in argv]
    assert main(argv) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "o").exists() and not (tmp_path / "e.npz").exists()
    assert file.read_text() == "not a database, not a folder"


EVERY_OUT = [
    ["eval", "lfw"], ["embed", "{photo}"], ["sample"], ["train", "optical", "--config", "smoke"],
    ["protect", "dp", "--method", "rdp", "--epsilon", "1", "{photo}"], ["protect", "optical", "{photo}"],
    ["attack", "deconv", "--method", "wiener", "--encrypted", "{tmp}/e", "--original", "{tmp}/s"],
    ["bench", "dp"], ["bench", "optical"], ["bench", "optical-sweep"], ["bench", "lfw-speed"],
]


@pytest.mark.parametrize("argv", EVERY_OUT, ids=lambda a: " ".join(a[:2]))
def test_every_command_refuses_an_unwritable_or_wrong_out_at_once(argv, tmp_path, capsys, monkeypatch):
    """A file where the output folder should be, or a place no one can write, fails before any work."""
    _forbid_embedding(monkeypatch)
    for folder in ("e", "s"):
        (tmp_path / folder).mkdir()
        Image.open(PHOTO).resize((80, 80)).save(tmp_path / folder / "x.png")
    file = tmp_path / "taken"
    file.write_text("keep me")
    argv = [a.format(photo=PHOTO, tmp=tmp_path) for a in argv]
    out_file = "taken.npz" if argv[0] == "embed" else "taken"
    if argv[0] == "embed":
        (tmp_path / out_file).write_text("keep me")
    unwritable = UNWRITABLE / ("o.npz" if argv[0] == "embed" else "o")
    for out, message in ((str(tmp_path / out_file), "exists"), (str(unwritable), "cannot create")):
        assert main(argv + ["--out", out]) == 2
        assert message in _error_line(capsys)
    assert file.read_text() == "keep me"


def test_an_unwritable_cache_folder_is_one_line(tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("FACEVEIL_CACHE", str(blocker / "cache"))
    assert main(["embed", str(PHOTO), "--out", str(tmp_path / "e.npz")]) == 2
    assert "cannot create $FACEVEIL_CACHE" in _error_line(capsys)
    assert not (tmp_path / "e.npz").exists()


def test_a_trained_model_is_not_scored_on_the_people_it_trained_on(tmp_path, capsys):
    """train --max-steps 2 on the sample, then eval: refused with the overlap; allowed and recorded."""
    run = tmp_path / "run"
    assert main(["train", "optical", "--config", "smoke", "--max-steps", "2", "--out", str(run), "--quiet"]) == 0
    assert "stopped after --max-steps 2" in capsys.readouterr().out
    model = f"checkpoint:{run / 'model.pt'}"
    assert main(["eval", "lfw", "--model", model, "--out", str(tmp_path / "eval"), "--quiet"]) == 2
    err = _error_line(capsys)
    assert "trained on 20 of the 40 people these pairs use" in err and "--allow-seen-identities" in err
    assert not (tmp_path / "eval").exists()
    assert main(["eval", "lfw", "--model", model, "--allow-seen-identities", "--out", str(tmp_path / "eval"),
                 "--quiet"]) == 0
    result = json.loads((tmp_path / "eval" / "result.json").read_text())
    assert result["identities"] == {"seen_identities": 20, "scored_identities": 40, "allowed": True}
    assert "not person-disjoint" in capsys.readouterr().out
    assert main(["train", "optical", "--config", "smoke", "--out", str(run)]) == 2
    assert "--resume" in _error_line(capsys)
    assert main(["train", "optical", "--config", "smoke", "--max-steps", "3", "--resume", "--out", str(run),
                 "--quiet"]) == 0


def test_train_deconv_stops_resumes_and_its_unet_attacks(tmp_path, capsys):
    run, encrypted, scenes = tmp_path / "unet", tmp_path / "enc", tmp_path / "scenes"
    assert main(["train", "deconv", "--config", "smoke", "--max-steps", "1", "--out", str(run), "--quiet"]) == 0
    assert main(["train", "deconv", "--config", "smoke", "--resume", "--out", str(run), "--quiet"]) == 0
    from faceveil.attack.deconv import load_attack
    from faceveil.train.checkpoint import read_checkpoint

    payload = read_checkpoint(run / "checkpoint.pt")
    assert payload["provenance"]["protocol"]["split"] == "view2-2fold/1"
    assert len(payload["history"]) == 2  # both smoke epochs, the first one resumed mid-way
    unet, config, payload = load_attack(run / "unet.pt")
    assert config.pairs == 40 and config.base_channels == 8
    trained = set(payload["provenance"]["protocol"]["train_identities"]["names"])
    photos = tmp_path / "photos"
    assert main(["sample", "--out", str(photos), "--people", "2"]) == 0  # Alec_Baldwin, Ari_Fleischer
    assert main(["protect", "optical", str(photos), "--out", str(encrypted), "--scenes", str(scenes), "--judge",
                 "none", "--quiet"]) == 0
    capsys.readouterr()
    argv = ["attack", "deconv", "--encrypted", str(encrypted), "--original", str(scenes), "--unet",
            str(run / "unet.pt"), "--out", str(tmp_path / "attack"), "--quiet"]
    assert "Ari_Fleischer" in trained and "Alec_Baldwin" not in trained
    assert main(argv) == 2
    assert "trained on 1 of the 2 people" in _error_line(capsys)
    assert main(argv + ["--allow-seen-identities"]) == 0
    result = json.loads((tmp_path / "attack" / "result.json").read_text())
    assert result["n"] == 8 and result["attack"]["unet"] == str(run / "unet.pt")
    assert result["identities"] == {"seen_identities": 1, "scored_identities": 2, "allowed": True}
    assert main(["attack", "deconv", "--encrypted", str(encrypted), "--original", str(scenes), "--method", "wiener",
                 "--unet", str(run / "unet.pt"), "--out", str(tmp_path / "a2")]) == 2
    assert "--method unet" in _error_line(capsys)


@pytest.mark.parametrize("argv, message", [(["embed", "{photo}", "--jitter", "-1"], "must be an integer >= 0"),
                                           (["embed", "{photo}", "--workers", "0"], "must be an integer >= 1")])
def test_bad_numbers_are_usage_errors_without_tracebacks(argv, message, tmp_path):
    argv = [a.format(photo=PHOTO) for a in argv] + ["--out", str(tmp_path / "e.npz")]
    done = subprocess.run([sys.executable, "-m", "faceveil", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr


def test_a_dlib_judge_refusing_its_arguments_leaves_no_traceback():
    code = ("from faceveil.recognition.dlib_native import DlibEmbedder\n"
            "try:\n    DlibEmbedder(jitter=-1)\nexcept ValueError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "jitter must be an integer >= 0" in done.stdout and "Exception ignored" not in done.stderr


def test_outputs_are_checked_before_any_work(tmp_path, capsys, monkeypatch):
    """A read-only --out fails at once: no embedding is computed, no empty folder stays behind."""
    _forbid_embedding(monkeypatch)
    for argv in (["eval", "lfw", "--out", str(UNWRITABLE / "run")],
                 ["embed", str(PHOTO), "--out", str(UNWRITABLE / "e.npz")]):
        assert main(argv) == 2
        assert "cannot create" in _error_line(capsys)
    nested = tmp_path / "a" / "b"
    assert main(["eval", "lfw", "--root", str(tmp_path / "missing"), "--out", str(nested)]) == 2
    _error_line(capsys)
    assert not (tmp_path / "a").exists()


def test_bench_dp_checks_its_extra_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "diffprivlib", None)  # as if the [bench] extra were missing
    assert main(["bench", "dp", "--out", str(tmp_path / "dp")]) == 2
    assert "diffprivlib" in _error_line(capsys)
    assert not (tmp_path / "dp").exists()


def test_on_error_skip_reports_unreadable_files(tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(PHOTO).save(photos / "good.jpg")
    (photos / "broken.jpg").write_bytes(b"not a jpeg")
    assert main(["embed", str(photos), "--out", str(tmp_path / "e.npz"), "--quiet"]) == 2
    assert "broken.jpg" in _error_line(capsys)
    assert main(["embed", str(photos), "--out", str(tmp_path / "e.npz"), "--on-error", "skip", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "skipped" in out and "1 unreadable file(s) skipped" in out
    data = np.load(tmp_path / "e.npz")
    assert [Path(p).name for p in data["paths"]] == ["good.jpg"]
    assert [Path(p).name for p in data["skipped"]] == ["broken.jpg"]


def test_protect_dp_says_when_it_protects_nothing(tmp_path, noise_photos, capsys):
    photos = tmp_path / "in"
    (photos / "a").mkdir(parents=True)
    Image.open(PHOTO).save(photos / "a" / "face.png")
    Image.open(noise_photos[0]).save(photos / "a" / "noise.png")
    out = tmp_path / "out"
    assert main(["protect", "dp", "--method", "rdp-na", "--epsilon", "0.6", "--seed", "1", str(photos),
                 "--out", str(out), "--keep-names", "--quiet"]) == 0
    console = capsys.readouterr().out
    result = json.loads((out / "result.json").read_text())
    rows = {Path(r["input"]).name: r for r in result["per_image"]}  # --keep-names records the inputs
    assert rows["noise.png"]["face_detected"] is False and "no face detected in" in console
    face = rows["face.png"]
    assert 0 <= face["pixels_changed"] <= 160 * 160 and face["judge_similarity"] is not None
    assert result["nearly_unchanged"] == sum(r["pixels_changed_fraction"] < 0.01 for r in result["per_image"])
    if face["pixels_changed_fraction"] < 0.01:
        assert "pixels changed" in console
    if face["judge_similarity"] >= result["judge"]["threshold"]:
        assert "the judge still matches" in console
    assert "<secret>" in result["provenance"]["command"] and "--seed 1" not in result["provenance"]["command"]
    sidecar = json.loads((out / "a" / "face.json").read_text())
    assert "account" not in sidecar and "pixels_changed" not in sidecar  # the operator's facts stay in result.json


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        found += [int(c) for c in children]
    return found


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_signals_end_the_run_cleanly_and_stop_the_workers(sig, code, word, tmp_path):
    """A native-dlib run with two workers, stopped in the middle: one line, the exit status, no orphans."""
    env = dict(os.environ, FACEVEIL_CACHE=str(tmp_path / "cache"))
    process = subprocess.Popen([sys.executable, "-m", "faceveil", "embed", str(sample_root() / "lfw"), "--workers",
                                "2", "--batch-size", "8", "--out", str(tmp_path / "e.npz"), "--quiet"],
                               stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 120
    workers: list[int] = []
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.2)
        workers = _children(process.pid)
    assert len(workers) >= 2, "the dlib workers did not start"
    process.send_signal(sig)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code
    assert word in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    time.sleep(1)
    assert not [w for w in workers if _alive(w)]


@pytest.mark.parametrize("argv", [["--help"]] + [[verb, "--help"] for verb in VERBS] +
                         [["eval", "lfw", "--help"], ["protect", "dp", "--help"], ["protect", "optical", "--help"],
                          ["bench", "dp", "--help"], ["bench", "optical", "--help"], ["train", "optical", "--help"],
                          ["train", "deconv", "--help"],
                          ["attack", "deconv", "--help"], ["audit", "dp", "--help"], ["bench", "dp-privacy", "--help"],
                          ["bench", "dp-speed", "--help"], ["degrade", "occlude", "--help"],
                          ["degrade", "mask", "--help"], ["restore", "inpaint", "--help"], ["train", "inpaint", "--help"],
                          ["bench", "inpaint", "--help"], ["simulate", "speckle", "--help"], ["train", "speckle", "--help"],
                          ["restore", "speckle", "--help"], ["bench", "speckle", "--help"]])
def test_help_imports_no_heavy_package_and_speaks_in_method_names(argv):
    code = ("import sys\nfrom faceveil.cli import main\ncode = main(sys.argv[1:])\n"
            "heavy = [m for m in ('torch', 'dlib', 'matplotlib') if m in sys.modules]\n"
            "print('HEAVY', heavy)\nsys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    text = done.stdout.lower()
    assert "seed 00" not in text and "eq. " not in text


def test_the_option_choices_match_the_library():
    from faceveil.bench.dp import FEATURE_MODELS, PAPER_EPSILONS
    from faceveil.cli import bench, protect_dp, train
    from faceveil.data.protocols import PROTOCOLS
    from faceveil.protect.dp.features import RANKINGS
    from faceveil.protect.dp.methods import METHODS
    from faceveil.protect.optical import SYSTEMS

    assert protect_dp.DP_METHODS == (*bench.DP_METHODS, "dp-pix") and bench.DP_METHODS == tuple(METHODS)
    assert protect_dp.DP_RANKINGS == tuple(RANKINGS)
    from faceveil.attack.dp_targets import AUDITED_METHODS
    from faceveil.cli import audit
    assert audit.AUDITED_METHODS == bench.DP_AUDITED_METHODS == protect_dp.DP_METHODS == AUDITED_METHODS
    assert bench.DP_FEATURE_MODELS == tuple(FEATURE_MODELS) and bench.DP_PAPER_EPSILONS == tuple(PAPER_EPSILONS)
    assert bench.OPTICAL_SYSTEMS == tuple(SYSTEMS)
    assert train.PROTOCOLS == tuple(PROTOCOLS)
    from faceveil.cli import models
    from faceveil.recognition.tfjs.models import MODELS

    assert models.NPM_MODEL_NAMES == bench.NPM_MODELS == tuple(MODELS)
