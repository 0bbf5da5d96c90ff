"""The faces a restorer trains and is benchmarked on: every photo under the data root aligned once (one chip
cache for every split, training and benchmark), and the subset of a protocol split's training people."""

from __future__ import annotations

from collections import Counter

import torch

from ..data.chips import ChipSpec, FaceChips, load_face_chips
from ..data.folders import read_identity_folders
from ..data.lfw import LFW
from ..data.protocols import DataConfig, Split


def all_face_chips(data: DataConfig, spec: ChipSpec, progress: bool = True) -> FaceChips:
    """Every photo under the data root, aligned once and cached (:func:`~faceveil.data.chips.load_face_chips`
    of all identity folders in name order): the training people of any split, and the benchmark's pairs,
    are subsets of this one cache."""
    items = read_identity_folders(LFW(data.data_root()).image_dir, 1)
    return load_face_chips(items, spec, progress=progress)


def training_faces(data: DataConfig, split: Split, spec: ChipSpec, progress: bool = True) -> FaceChips:
    """The chips of the training people of ``split`` with at least ``data.min_images`` photos (and only the
    first ``data.max_identities`` of them, in name order)."""
    everyone = all_face_chips(data, spec, progress)
    names = [everyone.identities[i] for i in everyone.labels.tolist()]
    counts = Counter(names)
    people = sorted(p for p in set(split.train_people) if counts.get(p, 0) >= data.min_images)
    people = set(people[:data.max_identities])
    if not people:
        raise ValueError(f"no training person of split {split.name!r} has {data.min_images} photo(s) under "
                         f"{data.data_root()}")
    chosen = everyone.subset(torch.tensor([name in people for name in names]))
    kept = sorted(people)
    index = {name: i for i, name in enumerate(kept)}
    labels = torch.tensor([index[chosen.identities[i]] for i in chosen.labels.tolist()], dtype=torch.long)
    return FaceChips(chosen.chips, labels, kept, chosen.paths, chosen.detected, None, chosen.skipped)
