"""``faceveil bench optical`` and ``faceveil bench optical-sweep`` end to end on the embedded sample."""

from __future__ import annotations

import json

import pytest
import torch

from faceveil.bench.optical_sweep import grid
from faceveil.cli import main
from faceveil.eval.quality import LPIPSAlex

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_sweep_grid_runs_each_setting_once_in_order():
    assert grid([3, 5, 7], [1, 4], 4.001) == [(3, 4), (5, 4), (7, 4), (5, 1)]


def test_optical_bench_writes_both_systems_and_the_papers_figures(tmp_path):
    out, weights = tmp_path / "bench", tmp_path / "lpips.pt"
    state = {k: v.abs() if k.startswith("lin") else v for k, v in LPIPSAlex().state_dict().items()}
    torch.save(state, weights)  # untrained weights (linear layers >= 0 like LPIPS'): only the plumbing is tested
    argv = ["bench", "optical", "--image-size", "32", "--epochs", "1", "--binary-epochs", "1", "--attack-pairs",
            "8", "--attack-epochs", "1", "--attack-width", "4", "--judge-folds", "4", "--lpips-weights", str(weights),
            "--second-judge", "none", "--validation-people", "2", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["provenance"]["command"] == "faceveil " + " ".join(argv)
    assert [s["system"] for s in result["systems"]] == ["mem-fr", "loen"]
    protocol = result["protocol"]
    assert protocol["name"] == "view2-2fold" and len(protocol["splits"]) == 2
    first, second = protocol["splits"]
    assert not set(first["train_identities"]["names"]) & set(second["train_identities"]["names"])
    assert first["test_pairs"] + second["test_pairs"] == 120  # every pair, each scored by the model blind to it
    for system in result["systems"]:
        assert list(system["unet"]) == ["8"]
        assert 0 <= system["verification"]["accuracy_mean"] <= 1
        assert [s["split"] for s in system["splits"]] == ["view2-2fold/1", "view2-2fold/2"]
        assert all(s["seen_test_people"] == 0 and s["history"][-1]["binary_mask"] for s in system["splits"])
        assert all(0 <= s["history"][-1]["validation"]["auc"] <= 1 for s in system["splits"])
        assert system["privacy"]["lpips"] > 0 and "lpips" in system["wiener_true_psf"]
    assert result["paper"]["judge_on_encrypted"] == 0.6310
    assert result["judge_on_originals"]["accuracy_mean"] > 0.9  # the judge on the clean sample faces
    assert (result["judge_on_originals"]["folds"], result["judge_on_originals"]["pairs"]) == (4, 48)
    assert (out / "mem-fr" / "view2-2fold-1" / "mask.csv").is_file()
    assert (out / "training_curve.png").stat().st_size > 0 and (out / "mem-fr" / "view2-2fold-1" / "best.pt").is_file()
    assert result["judges"]["judge"]["in_training_loop"] is False  # the light back-end, no distillation


def test_optical_sweep_trains_one_run_per_setting(tmp_path):
    out = tmp_path / "sweep"
    assert main(["bench", "optical-sweep", "--image-size", "32", "--epochs", "1", "--kernel-sizes", "3", "5",
                 "--dilations", "1", "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "result.json").read_text())
    settings = [(r["kernel_size"], r["dilation_px"], r["psf_support_px"]) for r in result["rows"]]
    assert result["system_dilation_px"] == pytest.approx(2.096, abs=1e-3)  # 9.3 mm lenslet images on 4.4 mm pixels
    assert settings == [(3, 2.1, 9), (5, 2.1, 13), (5, 1, 7)]
    assert (out / "sweep.png").stat().st_size > 0
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["k3-d2.1", "k5-d1", "k5-d2.1"]


def test_optical_bench_rejects_bad_options_before_any_work(tmp_path):
    out = tmp_path / "bench"
    assert main(["bench", "optical", "--judge-folds", "11", "--out", str(out)]) == 2  # argparse: K is 1..10
    assert main(["bench", "optical", "--lpips-weights", str(tmp_path / "none.pt"), "--out", str(out)]) == 2
    assert main(["bench", "optical", "--attack-pairs", "500", "--out", str(out)]) == 2  # more than the faces
    assert not out.exists()  # refused before the output folder or any training


def test_optical_sweep_rejects_a_mask_eq_4_cannot_train_before_any_work(tmp_path):
    out = tmp_path / "sweep"
    assert main(["bench", "optical-sweep", "--kernel-sizes", "1", "--out", str(out)]) == 2
    assert main(["bench", "optical-sweep", "--dilations", "0", "--out", str(out)]) == 2
    assert not out.exists()
