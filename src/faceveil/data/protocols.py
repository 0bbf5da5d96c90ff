"""Person-disjoint evaluation protocols: which people a model may train on, and which pairs score it.

LFW's View 1 DevTrain people appear in 2,985 of the 4,281 identities of View 2's pairs, so a model trained
on DevTrain and scored on View 2 is measured on faces it saw. Every :class:`Split` here trains on people
that no scored pair uses, by construction and checked when it is built:

* ``"view2-10fold"``: split k trains on the people of the nine other View 2 folds and scores fold k's
  pairs (10 splits, the LFW "image-restricted, outside training data" protocol);
* ``"view2-2fold"``: cross-fitting: split 1 trains on the people of folds 1-5 and scores the pairs of
  folds 6-10, split 2 the other way round; together they score all 6,000 pairs once, each pair keeping
  its original fold, so the 10-fold accuracy protocol still runs over their union;
* ``"view1"``: trains on the people of ``peopleDevTrain.txt``, scores ``pairsDevTest.txt``.

The people of a View 2 fold come from ``people.txt``; where it is absent (the embedded sample) they are
the names of the fold's pairs, and a person in two folds is an error. Only people with images on disk
are trained on. :func:`folder_split` makes one such split for any identity folder.

:class:`DataConfig` selects a model's training photos through a protocol split (JSON-readable; a config
of the former ``"lfw-dev-train"`` source reads as ``source="lfw", protocol="view1"``).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .._checks import check_choice, check_int, check_open_unit
from .folders import read_identity_folders
from .identities import identity_record
from .lfw import LFW, Pair
from .sample import sample_root

PROTOCOLS = ("view2-10fold", "view2-2fold", "view1")
SOURCES = ("lfw", "folders", "sample")
#: the former source of the optical training photos: LFW View 1 DevTrain, i.e. the "view1" protocol
LEGACY_DEV_TRAIN = "lfw-dev-train"


def pair_people(pairs: Iterable[Pair]) -> set[str]:
    """The names of the people of ``pairs`` (the parent folder names of their images)."""
    return {path.parent.name for pair in pairs for path in (pair.path_a, pair.path_b)}


@dataclass(frozen=True)
class Split:
    """One train/test split of a protocol.

    Attributes:
        name: ``"<protocol>/<k>"`` (k 1-based), e.g. ``"view2-2fold/1"``.
        train_people: the sorted names a model may train on.
        test_pairs: the pairs that score it (:class:`~faceveil.data.lfw.Pair`, with their original folds).

    Raises:
        ValueError: a test pair uses a training person (the message counts and names them).
    """

    name: str
    train_people: tuple[str, ...]
    test_pairs: list[Pair] = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_people", tuple(sorted(set(self.train_people))))
        if not self.test_pairs:
            raise ValueError(f"split {self.name!r} has no test pairs")
        overlap = sorted(set(self.train_people) & self.test_people)
        if overlap:
            shown = ", ".join(overlap[:5]) + (", ..." if len(overlap) > 5 else "")
            raise ValueError(f"split {self.name!r} is not person-disjoint: {len(overlap)} training people appear "
                             f"in its test pairs ({shown})")

    @property
    def protocol(self) -> str:
        """The protocol's name (``name`` up to the ``/``)."""
        return self.name.partition("/")[0]

    @property
    def test_people(self) -> set[str]:
        """The names of the people of the test pairs."""
        return pair_people(self.test_pairs)

    def record(self) -> dict:
        """The split as checkpoints and ``result.json`` record it: ``{"protocol", "split",
        "train_identities": identity_record (count, digest, names), "test_pairs", "test_people"}``."""
        return {"protocol": self.protocol, "split": self.name, "train_identities": identity_record(self.train_people),
                "test_pairs": len(self.test_pairs), "test_people": len(self.test_people)}


def _view2_fold_people(lfw: LFW, pairs: list[Pair]) -> list[set[str]]:
    """The people of each View 2 fold: from people.txt, else from the fold's pairs (checked disjoint)."""
    try:
        return [{name for name, _ in fold} for fold in lfw.people("view2")]
    except FileNotFoundError:
        pass
    n_folds = max(pair.fold for pair in pairs) + 1
    folds: list[set[str]] = [set() for _ in range(n_folds)]
    for pair in pairs:
        folds[pair.fold] |= pair_people([pair])
    for k, people in enumerate(folds):
        for j in range(k + 1, n_folds):
            shared = sorted(people & folds[j])
            if shared:
                raise ValueError(f"{lfw.root} has no people.txt and its pairs.txt folds {k + 1} and {j + 1} share "
                                 f"{len(shared)} people ({', '.join(shared[:5])}): the folds are not person-disjoint")
    return folds


def _on_disk(lfw: LFW, people: Iterable[str]) -> list[str]:
    return [name for name in people if (lfw.image_dir / name).is_dir()]


def lfw_protocol(root: str | Path, name: str, on_missing: str = "error") -> list[Split]:
    """The splits of protocol ``name`` (one of :data:`PROTOCOLS`) on the LFW copy at ``root``.

    Args:
        root: an LFW root (``lfw/`` and the protocol files), e.g. the embedded sample's.
        name: ``"view2-10fold"`` (10 splits), ``"view2-2fold"`` (2) or ``"view1"`` (1).
        on_missing: pairs whose images are missing: see :func:`faceveil.data.lfw.read_pairs`.

    Raises:
        FileNotFoundError: a protocol file the protocol needs is missing.
        ValueError: an unknown protocol, or View 2 folds that share people.
    """
    check_choice(name, "protocol", PROTOCOLS)
    lfw = LFW(root)
    if name == "view1":
        (train,) = lfw.people("dev-train")
        return [Split("view1/1", tuple(_on_disk(lfw, (n for n, _ in train))), lfw.pairs("dev-test", on_missing))]
    pairs = lfw.pairs("view2", on_missing)
    folds = _view2_fold_people(lfw, pairs)
    n_folds = len(folds)
    if name == "view2-10fold":
        groups = [{k} for k in range(n_folds)]
    else:
        if n_folds < 2:
            raise ValueError(f"protocol view2-2fold needs at least 2 folds, {lfw.root} has {n_folds}")
        half = set(range(n_folds // 2))
        groups = [set(range(n_folds)) - half, half]  # split 1 scores the second half
    splits = []
    for k, scored in enumerate(groups, start=1):
        train = set().union(*(folds[j] for j in range(n_folds) if j not in scored))
        splits.append(Split(f"{name}/{k}", tuple(_on_disk(lfw, train)), [p for p in pairs if p.fold in scored]))
    return splits


def _draw(rng: random.Random, count: int, draw_one) -> list[tuple[Path, Path]]:
    """Up to ``count`` distinct results of ``draw_one()`` (a sorted path pair), in drawing order."""
    found: dict[tuple[Path, Path], None] = {}
    for _ in range(50 * count):
        if len(found) == count:
            break
        found.setdefault(draw_one(), None)
    return list(found)


def folder_split(root: str | Path, test_fraction: float = 0.2, seed: int = 0, pairs_per_fold: int = 300,
                 folds: int | None = None) -> Split:
    """A person-disjoint split of an identity folder (``root/<identity>/<image>``), with test pairs.

    The identities are shuffled by ``seed``; ``test_fraction`` of them are test people, dealt round-robin
    into ``folds`` person-disjoint folds (None: 10, or as many as give every fold two people). Each fold gets up to ``pairs_per_fold`` distinct matched pairs
    (two images of one person, drawn among its people with two or more images) and as many mismatched
    pairs (one image each of two of its people), all drawn with ``seed``: the same seed gives the same
    split. The split is named ``"folder-split/seed<seed>"``.

    Raises:
        FileNotFoundError: no images under ``root``.
        ValueError: bad arguments, or too few people for ``folds`` folds of two people and one training
            person, or a fold without any matched pair.
    """
    check_open_unit(test_fraction, "test_fraction")
    check_int(seed, "seed", 0)
    check_int(pairs_per_fold, "pairs_per_fold", 1)
    photos: dict[str, list[Path]] = {}
    for path, person in read_identity_folders(LFW(root).image_dir):
        photos.setdefault(person, []).append(path)
    people = sorted(photos)
    n_test = round(test_fraction * len(people))
    folds = min(10, max(1, n_test // 2)) if folds is None else check_int(folds, "folds", 1)
    if n_test < 2 * folds or n_test == len(people):
        raise ValueError(f"{root} has {len(people)} identities: test_fraction {test_fraction} gives {n_test} test "
                         f"people; {folds} fold(s) need at least {2 * folds}, and one person must remain to train on")
    rng = random.Random(seed)
    rng.shuffle(people)
    test, train = people[:n_test], people[n_test:]
    pairs = []
    for k in range(folds):
        members = sorted(test[k::folds])
        several = [name for name in members if len(photos[name]) >= 2]
        if not several:
            raise ValueError(f"fold {k + 1} of the folder split of {root} has no test person with two images")
        matched = _draw(rng, pairs_per_fold, lambda: tuple(sorted(rng.sample(photos[rng.choice(several)], 2))))
        mismatched = _draw(rng, len(matched), lambda: tuple(sorted(
            rng.choice(photos[name]) for name in rng.sample(members, 2))))
        pairs += [Pair(a, b, True, k) for a, b in matched] + [Pair(a, b, False, k) for a, b in mismatched]
    return Split(f"folder-split/seed{seed}", tuple(train), pairs)


def training_items(split: Split, root: str | Path, min_images: int = 2,
                   max_identities: int | None = None) -> list[tuple[Path, str]]:
    """(photo, name) of the training people of ``split`` with at least ``min_images`` photos under ``root``
    (an LFW root or an identity folder), sorted by name then file; only the first ``max_identities``
    such people (in name order) if given.

    Raises:
        FileNotFoundError: no training person has ``min_images`` photos.
    """
    check_int(min_images, "min_images", 1)
    if max_identities is not None:
        check_int(max_identities, "max_identities", 1)
    train = set(split.train_people)
    items = [(path, person) for path, person in read_identity_folders(LFW(root).image_dir, min_images)
             if person in train]
    keep = set(list(dict.fromkeys(person for _, person in items))[:max_identities])
    items = [(path, person) for path, person in items if person in keep]
    if not items:
        raise FileNotFoundError(f"no training person of split {split.name!r} has at least {min_images} photos "
                                f"under {root}")
    return items


@dataclass(frozen=True)
class DataConfig:
    """Where a model's training photos come from: the training people of one protocol split.

    Attributes:
        source: ``"lfw"`` (an LFW copy at ``root``), ``"folders"`` (``root/<identity>/<image>``) or
            ``"sample"`` (the embedded LFW sample). ``"lfw-dev-train"`` (former configs) reads as
            ``"lfw"`` with protocol ``"view1"``.
        root: the LFW root or the identity-folder root (unused for ``"sample"``).
        protocol: one of :data:`PROTOCOLS` (``"lfw"`` and ``"sample"``; the sample has no View 1).
        split: 0-based index of the protocol's split; for ``"folders"`` the seed of :func:`folder_split`.
        min_images: drop identities with fewer photos.
        max_identities: keep only the first identities (in name order), None for all.
        detector: face detector of the alignment (``"hog"``, ``"cnn"``, ``"hog+cnn"``).
    """

    source: str = "sample"
    root: str | None = None
    protocol: str = "view2-2fold"
    split: int = 0
    min_images: int = 2
    max_identities: int | None = None
    detector: str = "hog"

    def __post_init__(self) -> None:
        if self.source == LEGACY_DEV_TRAIN:
            object.__setattr__(self, "source", "lfw")
            object.__setattr__(self, "protocol", "view1")
        check_choice(self.source, "data source", SOURCES)
        if self.source != "sample" and not self.root:
            raise ValueError(f"data source {self.source!r} needs a root folder")
        check_choice(self.protocol, "protocol", PROTOCOLS)
        check_int(self.split, "split", 0)
        check_int(self.min_images, "min_images", 1)
        if self.max_identities is not None:
            check_int(self.max_identities, "max_identities", 1)
        check_choice(self.detector, "detector", ("hog", "cnn", "hog+cnn"))

    def data_root(self) -> Path:
        """The folder the photos are read from."""
        return sample_root() if self.source == "sample" else Path(self.root).expanduser()

    def protocol_split(self) -> Split:
        """The split whose training people are the training photos' people.

        Raises ``ValueError`` when ``split`` is not an index of the protocol's splits."""
        if self.source == "folders":
            return folder_split(self.data_root(), seed=self.split)
        splits = lfw_protocol(self.data_root(), self.protocol, on_missing="skip")  # only the people matter here
        if self.split >= len(splits):
            raise ValueError(f"protocol {self.protocol} has {len(splits)} split(s) (0 to {len(splits) - 1}), "
                             f"got split {self.split}")
        return splits[self.split]

    def training_photos(self, split: Split | None = None) -> list[tuple[Path, str]]:
        """(photo, identity) of the training photos (:func:`training_items` of :meth:`protocol_split`, or of
        ``split`` when the caller already built it)."""
        return training_items(split or self.protocol_split(), self.data_root(), self.min_images,
                              self.max_identities)
