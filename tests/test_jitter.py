"""Torch jitter of face chips: the same warp distribution as dlib's jitter_image."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from faceveil.data.images import load_rgb, to_tensor
from faceveil.data.sample import sample_root
from faceveil.faces.align import FaceAligner
from faceveil.faces.jitter import jitter_chips
from faceveil.recognition.base import AlignmentSpec

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def chip():
    photo = load_rgb(next(iter(sorted((sample_root() / "lfw").rglob("*.jpg")))))
    return FaceAligner(AlignmentSpec()).align(photo).chip


def _distance_to_original(jittered: np.ndarray, chip: np.ndarray) -> np.ndarray:
    """Mean absolute difference of each jittered chip to the chip or its mirror, whichever is nearer."""
    ref = chip.astype(np.float64)
    d = lambda a, b: np.abs(a.astype(np.float64) - b).mean(axis=(1, 2, 3))
    return np.minimum(d(jittered, ref), d(jittered, ref[:, ::-1]))


def test_warp_size_and_flip_rate_match_dlib(chip):
    k = 200
    ours = jitter_chips(to_tensor(chip), k, torch.Generator().manual_seed(0))[0]
    ours_u8 = (ours.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    theirs = np.stack(dlib.jitter_image(chip, num_jitters=k))
    d_ours, d_theirs = _distance_to_original(ours_u8, chip), _distance_to_original(theirs, chip)
    # the same distribution of warps moves pixels by the same amount on average (within 10 %)
    assert abs(d_ours.mean() - d_theirs.mean()) < 0.1 * d_theirs.mean()
    flipped = lambda j: (np.abs(j.astype(float) - chip[:, ::-1]).mean((1, 2, 3)) < np.abs(j.astype(float) - chip).mean((1, 2, 3))).mean()
    assert abs(flipped(ours_u8) - 0.5) < 0.12 and abs(flipped(theirs) - 0.5) < 0.12


def test_jitter_is_reproducible_and_checked(chip):
    x = to_tensor(chip)
    a = jitter_chips(x, 3, torch.Generator().manual_seed(5))
    b = jitter_chips(x, 3, torch.Generator().manual_seed(5))
    assert a.shape == (1, 3, 3, 150, 150) and torch.equal(a, b)
    assert not torch.equal(a, jitter_chips(x, 3, torch.Generator().manual_seed(6)))
    assert 0 <= float(a.min()) and float(a.max()) <= 1
    with pytest.raises(ValueError, match="square"):
        jitter_chips(torch.rand(1, 3, 10, 12), 2, torch.Generator())
    with pytest.raises(ValueError, match="copies"):
        jitter_chips(x, 0, torch.Generator())
