"""A person-disjoint validation set carved out of the training faces, and the pairs that verify it.

A training run that must know when its recogniser stops improving cannot look at the protocol's test
pairs (their people are the ones it is scored on). :func:`hold_out_people` sets a few training people
aside instead: the run never trains on them, and :func:`labelled_pairs` builds genuine and impostor
pairs among their photos, which :meth:`faceveil.train.Task.validate` verifies after every epoch.
"""

from __future__ import annotations

import torch

from .._checks import check_int
from .chips import FaceChips


def hold_out_people(faces: FaceChips, people: int, seed: int = 0) -> tuple[FaceChips, FaceChips]:
    """(training faces, validation faces): ``people`` identities with at least two photos, drawn with
    ``seed``, and all their photos go to validation; labels keep indexing ``faces.identities``.

    Raises:
        ValueError: fewer than ``people`` identities have two photos, or none would be left to train on.
    """
    check_int(people, "people", 1)
    counts = torch.bincount(faces.labels, minlength=len(faces.identities))
    eligible = torch.nonzero(counts >= 2).flatten()
    if len(eligible) < people:
        raise ValueError(f"{people} validation people asked for, but only {len(eligible)} of the "
                         f"{len(faces.identities)} training people have two photos or more")
    chosen = eligible[torch.randperm(len(eligible), generator=torch.Generator().manual_seed(seed))[:people]]
    held = torch.isin(faces.labels, chosen)
    if bool(held.all()):
        raise ValueError(f"holding out {people} people leaves no one to train on")
    return faces.subset(~held), faces.subset(held)


def labelled_pairs(labels: torch.Tensor, max_pairs: int = 1000, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Genuine and impostor pairs among photos with identity ``labels`` (N,): (a (P,), b (P,), same (P,) bool).

    Every genuine pair (i < j, same label) when there are at most ``max_pairs`` // 2 of them, else a
    seeded sample of that many; then as many impostor pairs (different labels, drawn with ``seed``), so
    chance is 50 %.

    Raises:
        ValueError: no two photos share a label, or all photos do (no impostor pair).
    """
    check_int(max_pairs, "max_pairs", 2)
    generator = torch.Generator().manual_seed(seed)
    i, j = torch.triu_indices(len(labels), len(labels), offset=1)
    same = labels[i] == labels[j]
    if not bool(same.any()) or bool(same.all()):
        raise ValueError("validation pairs need photos of one person and photos of different people")
    genuine = torch.nonzero(same).flatten()
    genuine = genuine[torch.randperm(len(genuine), generator=generator)[: max_pairs // 2]]
    impostor = torch.nonzero(~same).flatten()
    impostor = impostor[torch.randperm(len(impostor), generator=generator)[: len(genuine)]]
    chosen = torch.cat([genuine, impostor])
    return i[chosen], j[chosen], same[chosen]
