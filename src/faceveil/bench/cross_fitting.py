"""What the benchmarks of trained restorers share under the cross-fitted ``view2-2fold`` protocol: models
named on the command line, each probe given to the model that never saw its person, the pairs' chip rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.identities import check_unseen
from ..data.protocols import DataConfig


def parse_method(text: str) -> tuple[str, list[Path]]:
    """``NAME=MODEL[,MODEL...]`` -> (name, model files)."""
    name, sep, files = text.partition("=")
    if not sep or not name or not files:
        raise ValueError(f"--method {text!r}: expected NAME=MODEL.pt[,MODEL.pt] (one model per view2-2fold split)")
    return name, [Path(f).expanduser() for f in files.split(",")]


def assign_models(name: str, files: list[Path], splits, people: list[set[str]], load) -> dict:
    """For each split k, the model among ``files`` that never trained on ``people[k]`` (every person whose
    probes it will restore; refused if none). ``load(path, name=...)`` reads a model file into a restorer
    with ``path`` and ``train_identities`` (the identity record of its training people)."""
    restorers = [load(f, name=name) for f in files]
    chosen = {}
    for k, split in enumerate(splits):
        for restorer in restorers:
            record = restorer.train_identities
            if record is None:
                continue
            try:
                check_unseen(record, people[k], what=str(restorer.path))
            except ValueError:
                continue
            chosen[k] = restorer
            break
        else:
            raise ValueError(f"--method {name}: none of {', '.join(map(str, files))} is free of the people of "
                             f"{split.name} ({len(people[k])} people); train one on the other split")
    return chosen


def check_chip(name: str, restorer, size: int) -> None:
    """Refuse a restorer (with ``payload`` and ``path``) whose file says it restores other chips than the
    bench's dlib chips of ``size`` x ``size``."""
    from ..data.chips import CHIP_PADDING

    chip = restorer.payload.get("chip", {})
    if (chip.get("method"), chip.get("padding"), list(chip.get("size", []))) != ("dlib-chip", CHIP_PADDING,
                                                                                [size, size]):
        raise ValueError(f"{name}: {restorer.path} restores {chip}, not dlib chips of {size}")


def view2_halves(root: str | None) -> tuple[DataConfig, list, dict[str, int], list[set[str]]]:
    """The benches' protocol: LFW at ``root`` (None: the embedded sample) under ``view2-2fold``: the data,
    its two splits, person -> the split that scores them, and the people each split scores."""
    from ..data.protocols import lfw_protocol

    data = DataConfig(source="lfw" if root else "sample", root=root, protocol="view2-2fold", min_images=1)
    splits = lfw_protocol(data.data_root(), "view2-2fold")
    split_of_person = person_splits(data, splits)
    people = [{n for n, k in split_of_person.items() if k == i} for i in range(len(splits))]
    return data, splits, split_of_person, people


def person_splits(data: DataConfig, splits) -> dict[str, int]:
    """person -> the split that scores them: the people of each split's test pairs and, on LFW, every person
    of the View 2 folds it scores (people.txt), also those in no pair (identification subjects)."""
    of = {name: k for k, split in enumerate(splits) for name in split.test_people}
    if data.source == "lfw":
        from ..data.lfw import LFW

        for fold_k, fold in enumerate(LFW(data.data_root()).people("view2")):
            k = next(i for i, split in enumerate(splits) if any(p.fold == fold_k for p in split.test_pairs))
            of.update({name: k for name, _ in fold})
    return of


def pair_rows(chips, pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``chips`` (:class:`~faceveil.data.chips.FaceChips`) of both images of each pair, its label and
    its fold: (a, b, labels, folds), each (P,)."""
    row_of = {path.resolve(): i for i, path in enumerate(chips.paths)}
    a = np.array([row_of[p.path_a.resolve()] for p in pairs])
    b = np.array([row_of[p.path_b.resolve()] for p in pairs])
    return a, b, np.array([p.same for p in pairs]), np.array([p.fold for p in pairs])


def split_record(split) -> dict:
    """A split's protocol record without the list of training names (their count and digest stay)."""
    record = split.record()
    record["train_identities"] = {k: v for k, v in record["train_identities"].items() if k != "names"}
    return record
