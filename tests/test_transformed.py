"""One evaluation of transformed faces (faceveil.eval.transformed) and its figures, with a tiny fake judge."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from faceveil.eval.transformed import (CLEAN, SAME, Downscale, FunctionTransform, Transform, compose, embed_chips,
                                       evaluate_transformed, verification_summary)
from faceveil.eval.verification import best_threshold, pair_scores, verification_report
from faceveil.recognition.base import AlignmentSpec, Embedder
from faceveil.report.plots import plot_condition_scores, plot_transformed

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N_PEOPLE, PER_PERSON = 20, 4


class PooledEmbedder(Embedder):
    """A deterministic fake judge: the 4 x 4 average-pooled RGB chip, centred (48-D), on 32 x 32 chips."""

    name, dim = "pooled", 48
    alignment = AlignmentSpec(size=(32, 32), method="template")

    def _embed_raw(self, chips):
        x = F.adaptive_avg_pool2d(chips, 4).flatten(1)
        return x - x.mean(1, keepdim=True)


def noise(name="noise", seed=0):
    """A transform that replaces every face by uniform noise (its own generator)."""
    generator = torch.Generator().manual_seed(seed)
    return FunctionTransform(name, lambda x: torch.rand(x.shape, generator=generator), {"seed": seed})


@pytest.fixture(scope="module")
def faces():
    """20 people x 4 chips (24 x 24: resampled for the 32 x 32 judge): a 4 x 4 pattern per person plus
    a little per-image noise; pairs (0, 1), (2, 3) of each person and as many impostors, in 10 folds."""
    g = torch.Generator().manual_seed(0)
    patterns = torch.rand(N_PEOPLE, 3, 4, 4, generator=g).repeat_interleave(PER_PERSON, 0)
    chips = (F.interpolate(patterns, size=(24, 24), mode="nearest")
             + 0.05 * torch.randn(N_PEOPLE * PER_PERSON, 3, 24, 24, generator=g)).clamp(0, 1)
    identities = np.repeat(np.arange(N_PEOPLE), PER_PERSON)
    first = np.arange(N_PEOPLE) * PER_PERSON
    a = np.concatenate([first, first + 2, first, first + 2])
    b = np.concatenate([first + 1, first + 3, np.roll(first, 1) + 2, np.roll(first, 3) + 1])
    labels = identities[a] == identities[b]
    folds = np.arange(a.size) % 10
    return chips, a, b, labels, folds, identities


def evaluate(faces, transforms, **kwargs):
    chips, a, b, labels, folds, identities = faces
    return evaluate_transformed(chips, a, b, labels, folds, PooledEmbedder(), transforms, identities=identities,
                                progress=False, **kwargs)


# ------------------------------------------------------------------------------------------------
# transforms


def test_downscale_by_4_of_112x96_chips_is_28x24_antialiased_bicubic_like_pil():
    chips = torch.rand(2, 3, 112, 96, generator=torch.Generator().manual_seed(1))
    low = Downscale(4, back_to_size=False)(chips)
    assert low.shape == (2, 3, 28, 24)
    assert [Downscale(f).low_size(112, 96) for f in (8, 16)] == [(14, 12), (7, 6)]
    pil = np.array(Image.fromarray(chips[0, 0].numpy(), mode="F").resize((24, 28), Image.BICUBIC))
    assert np.abs(low[0, 0].numpy() - pil).max() < 1e-5  # true antialiased bicubic: PIL's, MATLAB's
    plain = F.interpolate(chips, size=(28, 24), mode="bicubic", align_corners=False)  # aliased: reads 4 x 4 pixels
    assert (low - plain).abs().mean() > 0.05
    back = Downscale(4)(chips)
    up = np.array(Image.fromarray(low[0, 0].numpy(), mode="F").resize((96, 112), Image.BICUBIC))
    assert back.shape == chips.shape and np.abs(back[0, 0].numpy() - np.clip(up, 0, 1)).max() < 1e-5
    assert Downscale(size=(18, 16), back_to_size=False)(chips).shape == (2, 3, 18, 16)
    assert Downscale(4).record() == {"name": "downscale-x4", "type": "Downscale", "factor": 4.0, "size": None,
                                     "back_to_size": True, "kernel": "bicubic a=-0.5, antialiased (PIL, MATLAB)"}


def test_compose_applies_the_first_transform_first():
    add = FunctionTransform("add", lambda x: (x + 0.5).clamp(0, 1), {"offset": 0.5})
    half = FunctionTransform("half", lambda x: x / 2)
    x = torch.full((1, 1, 4, 4), 0.4)
    both = compose(add, half)
    assert torch.allclose(both(x), half(add(x))) and torch.allclose(both(x), torch.full_like(x, 0.45))
    assert not torch.allclose(compose(half, add)(x), both(x))
    assert both.name == "add->half"
    assert [step["name"] for step in both.record()["steps"]] == ["add", "half"]
    assert both.record()["steps"][0]["offset"] == 0.5


def test_transforms_check_their_settings_inputs_and_outputs():
    with pytest.raises(ValueError, match="factor must be >= 1"):
        Downscale(0.5)
    with pytest.raises(ValueError, match="exactly one of factor and size"):
        Downscale(2, size=(8, 8))
    with pytest.raises(ValueError, match="larger than the chips"):
        Downscale(size=(40, 8))(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match="JSON-serialisable"):
        FunctionTransform("f", lambda x: x, {"fn": print})
    with pytest.raises(ValueError, match="non-empty string"):
        FunctionTransform("", lambda x: x)
    with pytest.raises(ValueError, match="at least one"):
        compose()
    with pytest.raises(ValueError, match=r"output of transform 'bright' must have values in \[0, 1\]"):
        FunctionTransform("bright", lambda x: x + 1)(torch.rand(1, 3, 8, 8))
    with pytest.raises(ValueError, match="returned 1 images for 2 chips"):
        FunctionTransform("first", lambda x: x[:1])(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"chips must have values in \[0, 1\]"):
        Downscale(2)(torch.full((1, 3, 8, 8), 2.0))


def test_embed_chips_resamples_to_the_judges_size_antialiased_bilinear():
    judge = PooledEmbedder()
    chips = torch.rand(5, 3, 24, 20, generator=torch.Generator().manual_seed(2))
    expected = judge.embed(F.interpolate(chips, size=(32, 32), mode="bilinear", antialias=True).clamp(0, 1))
    assert torch.allclose(embed_chips(judge, chips, batch_size=2), expected, atol=1e-6)
    grey = chips[:, :1]
    assert torch.allclose(embed_chips(judge, grey), embed_chips(judge, grey.expand(-1, 3, -1, -1)))


# ------------------------------------------------------------------------------------------------
# the evaluation


def test_the_identity_transform_gives_the_clean_figures(faces):
    result = evaluate(faces, {"identity": FunctionTransform("identity", lambda x: x)})
    clean, same = result.conditions[CLEAN], result.conditions["identity"]
    assert list(result.conditions) == [CLEAN, "identity"]
    np.testing.assert_allclose(same.scores, clean.scores, atol=1e-12)
    for key in ("accuracy_mean", "auc", "eer", "tar_at_far", "fixed_threshold"):
        assert same.verification[key] == clean.verification[key]
    assert clean.verification["accuracy_mean"] > 0.95
    assert same.identification == clean.identification and clean.identification["ranks"]["1"]["mean"] > 0.95
    metrics = same.image_metrics
    assert metrics["identical_images"] == metrics["n_images"] and metrics["psnr"] is None
    assert metrics["ssim"] == pytest.approx(1.0) and metrics["judge_cosine"] == pytest.approx(1.0)
    assert not metrics["resized_for_metrics"] and clean.image_metrics is None
    assert same.settings == {"name": "identity", "type": "FunctionTransform"}


def test_faces_replaced_by_noise_drop_to_chance(faces):
    result = evaluate(faces, {"noise": noise()})
    clean, noisy = result.conditions[CLEAN], result.conditions["noise"]
    assert 0.3 < noisy.verification["accuracy_mean"] < 0.7 and abs(noisy.verification["auc"] - 0.5) < 0.15
    rank1 = noisy.identification["ranks"]["1"]["mean"]
    assert noisy.identification["chance_rank1"] == 1 / N_PEOPLE and rank1 < 3 / N_PEOPLE
    assert noisy.identification["n_subjects"] == N_PEOPLE
    assert noisy.identification["n_probes"] == N_PEOPLE * (PER_PERSON - 1)
    assert noisy.image_metrics["judge_cosine"] < 0.5 and noisy.image_metrics["ssim"] < 0.2
    assert noisy.image_metrics["psnr"] < 12 and noisy.image_metrics["identical_images"] == 0
    # the fixed threshold of the clean pairs accepts most genuine pairs there, not here
    assert clean.verification["fixed_threshold"]["tpr"] > 0.9 > noisy.verification["fixed_threshold"]["tpr"]


def test_the_fixed_threshold_is_the_best_threshold_of_the_clean_pairs(faces):
    chips, a, b, labels, folds, _ = faces
    result = evaluate(faces, {"down": Downscale(3), "noise": noise()})
    clean_scores = pair_scores(embed_chips(PooledEmbedder(), chips)[a], embed_chips(PooledEmbedder(), chips)[b])
    np.testing.assert_allclose(result.conditions[CLEAN].scores, clean_scores, atol=1e-6)
    expected = best_threshold(result.conditions[CLEAN].scores, labels)
    assert result.threshold == {"value": expected, "source": "best threshold on the clean pairs"}
    for c in result.conditions.values():
        assert c.verification["fixed_threshold"]["threshold"] == expected
        assert c.verification["accuracy_mean"] == verification_report(c.scores, labels, folds)["accuracy_mean"]
    given = evaluate(faces, {"noise": noise()}, clean_threshold=0.25)
    assert given.threshold == {"value": 0.25, "source": "given"}
    assert all(c.verification["fixed_threshold"]["threshold"] == 0.25 for c in given.conditions.values())


def test_the_gallery_is_clean_a_fixed_transform_or_the_same_transform(faces):
    flip = FunctionTransform("flip", lambda x: x.flip(-1))
    clean_gallery = evaluate(faces, {"flip": flip})
    same = evaluate(faces, {"flip": flip}, gallery_transform=SAME)
    fixed = evaluate(faces, {"flip": flip}, gallery_transform=flip)
    clean_scores = clean_gallery.conditions[CLEAN].scores
    # the fake judge is flip-equivariant: flipped against flipped scores like clean against clean
    np.testing.assert_allclose(same.conditions["flip"].scores, clean_scores, atol=1e-6)
    np.testing.assert_allclose(fixed.conditions["flip"].scores, clean_scores, atol=1e-6)
    assert np.abs(clean_gallery.conditions["flip"].scores - clean_scores).max() > 0.1
    assert same.settings["gallery"] == SAME and fixed.settings["gallery"]["name"] == "flip"
    assert clean_gallery.settings["gallery"] == CLEAN
    np.testing.assert_allclose(same.conditions[CLEAN].scores, clean_scores)  # clean stays clean on both sides


def test_without_identities_or_folds(faces):
    chips, a, b, labels, _, _ = faces
    a, b, labels = a[::8], b[::8], labels[::8]  # 5 genuine, 5 impostor pairs
    result = evaluate_transformed(chips, a, b, labels, None, PooledEmbedder(),
                                  {"down": Downscale(size=(6, 6), back_to_size=False)}, progress=False)
    down = result.conditions["down"]
    assert down.identification is None and "optimistic" in down.verification["accuracy_protocol"]
    assert down.image_metrics["resized_for_metrics"] and down.image_metrics["output_shapes"] == [[3, 6, 6]]
    assert down.image_metrics["n_images"] == np.unique(b).size  # the probes only
    assert result.settings["images_embedded"] == np.union1d(a, b).size


def test_the_report_is_json_and_the_table_and_figures_name_every_condition(faces, tmp_path):
    result = evaluate(faces, {"down": Downscale(4), "noise": noise()})
    text = json.dumps(result.report(), allow_nan=False)
    back = json.loads(text)
    assert list(back["conditions"]) == [CLEAN, "down", "noise"]
    assert back["conditions"]["down"]["settings"]["factor"] == 4.0
    assert back["settings"]["judge"]["name"] == "pooled" and back["settings"]["identification"]["runs"] == 10
    dist = back["conditions"]["noise"]["verification"]["score_distributions"]
    assert len(dist["edges"]) == 51 and dist["genuine_mean"] == pytest.approx(
        result.conditions["noise"].scores[result.labels].mean())
    table = result.format_table()
    assert all(name in table for name in (CLEAN, "down", "noise")) and "rank-1" in table
    paths = plot_transformed(result, tmp_path)
    assert [p.name for p in paths] == ["conditions_roc.png", "conditions_scores.png"]
    assert all(p.stat().st_size > 0 for p in paths)
    with pytest.raises(FileExistsError):
        plot_transformed(result, tmp_path)
    assert plot_transformed(result, tmp_path, overwrite=True) == paths
    with pytest.raises(ValueError, match="condition 'bad'"):
        plot_condition_scores({"bad": ([0.1, 0.2], [1, 1])}, tmp_path / "bad.png")


def test_verification_summary_is_the_report_with_the_distributions():
    scores, labels = np.array([0.9, 0.8, 0.3, 0.1]), np.array([1, 1, 0, 0])
    summary = verification_summary(scores, labels, threshold=0.5)
    assert {k: v for k, v in summary.items() if k != "score_distributions"} == verification_report(
        scores, labels, threshold=0.5)
    assert summary["score_distributions"]["genuine_mean"] == pytest.approx(0.85)
    assert summary["score_distributions"]["impostor_mean"] == pytest.approx(0.2)


def test_the_evaluation_checks_its_arguments(faces):
    chips, a, b, labels, folds, identities = faces
    judge, ok = PooledEmbedder(), {"noise": noise()}

    def run(**changes):
        args = dict(chips=chips, pairs_a=a, pairs_b=b, labels=labels, folds=folds, judge=judge,
                    probe_transforms=ok, identities=identities, progress=False)
        return evaluate_transformed(**{**args, **changes})

    with pytest.raises(ValueError, match=r"pairs_b must be a 1-D array with one entry per pair of pairs_a \(80\)"):
        run(pairs_b=b[:-1])
    with pytest.raises(ValueError, match="labels must be"):
        run(labels=labels[:5])
    with pytest.raises(ValueError, match="folds must be"):
        run(folds=folds[1:])
    with pytest.raises(ValueError, match=r"identities must be a 1-D array with one entry per chip \(80\)"):
        run(identities=identities[:-1])
    with pytest.raises(ValueError, match="pairs_a must index the 80 chips"):
        run(pairs_a=a + 80)
    with pytest.raises(ValueError, match="integer chip indices"):
        run(pairs_a=a.astype(float))
    with pytest.raises(ValueError, match="'clean' is reserved"):
        run(probe_transforms={CLEAN: noise()})
    with pytest.raises(ValueError, match="must be a Transform"):
        run(probe_transforms={"x": lambda x: x})
    with pytest.raises(ValueError, match="gallery_transform must be"):
        run(gallery_transform="clean")
    with pytest.raises(ValueError, match="judge must be a faceveil Embedder"):
        run(judge=lambda x: x)
    with pytest.raises(ValueError, match=r"chips must have values in \[0, 1\]"):
        run(chips=chips * 2)
    with pytest.raises(ValueError, match="batch_size"):
        run(batch_size=0)
    assert isinstance(noise(), Transform)
