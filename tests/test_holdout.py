"""Person-disjoint validation carved out of training faces (faceveil.data.holdout)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from faceveil.data.chips import FaceChips
from faceveil.data.holdout import hold_out_people, labelled_pairs


def faces_of(counts: list[int]) -> FaceChips:
    labels = torch.cat([torch.full((n,), i) for i, n in enumerate(counts)])
    n = len(labels)
    return FaceChips(torch.zeros(n, 3, 4, 4, dtype=torch.uint8), labels, [f"p{i}" for i in range(len(counts))],
                     [Path(f"p{int(k)}/{i}.png") for i, k in enumerate(labels)], torch.ones(n, dtype=torch.bool))


def test_held_out_people_are_disjoint_from_training_and_have_pairs():
    faces = faces_of([1, 3, 2, 1, 4, 2])
    train, validation = hold_out_people(faces, 2, seed=3)
    held = set(validation.labels.tolist())
    assert len(held) == 2 and held.isdisjoint(train.labels.tolist())
    assert len(train) + len(validation) == len(faces)
    counts = torch.bincount(faces.labels)
    assert all(counts[k] >= 2 for k in held)  # people of one photo cannot give a genuine pair
    assert train.identities == validation.identities == faces.identities  # labels keep their meaning
    assert hold_out_people(faces, 2, seed=3)[1].paths == validation.paths  # seeded


def test_holding_out_more_people_than_have_two_photos_is_refused():
    with pytest.raises(ValueError, match="only 4 of the 6 training people"):
        hold_out_people(faces_of([1, 3, 2, 1, 4, 2]), 5)
    with pytest.raises(ValueError, match="no one to train on"):
        hold_out_people(faces_of([2, 2]), 2)


def test_labelled_pairs_are_balanced_correct_and_distinct():
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 3, 3])  # 3 + 1 + 1 = 5 genuine pairs
    a, b, same = labelled_pairs(labels, max_pairs=100)
    assert int(same.sum()) == 5 and len(same) == 10
    assert torch.equal(labels[a] == labels[b], same) and bool((a < b).all())
    assert len({(int(i), int(j)) for i, j in zip(a, b)}) == 10
    a, b, same = labelled_pairs(labels, max_pairs=4, seed=1)
    assert int(same.sum()) == 2 and len(same) == 4


def test_labelled_pairs_need_both_kinds():
    with pytest.raises(ValueError, match="validation pairs need"):
        labelled_pairs(torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="validation pairs need"):
        labelled_pairs(torch.tensor([4, 4, 4]))
