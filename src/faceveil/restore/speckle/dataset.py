"""Speckle datasets: simulated once, cached on disk (uint8 memory-mapped arrays written shard by shard, so an
interrupted generation resumes), read back as the splits of seed 001 and two it lacks.

Faces: ``seen_faces`` LFW photos of the training people of a protocol split (one photo per person first;
the paper used 1,500 LFW faces) and ``unseen_faces`` of its test people; a ``test_fraction`` of the seen
faces is held out. Each face is aligned to a loose dlib chip (hair and ears), binarised
(:func:`~.simulator.binarize`; or, with ``target="grey"``, kept in grey levels: :func:`~.simulator.grey_levels`)
and simulated through each grit's diffuser at every distance.

Splits (:data:`SPLITS`), per grit:

* ``train`` / ``test``: seen faces (not held out / held out) at 0 and 20 mm (the paper's train/test);
* ``depth``: every seen face at 40 mm (the paper's validation: an unseen depth, the same faces);
* ``faces``: unseen people's faces at 40 mm (person-disjoint; the paper has no such split);
* ``diffuser``: the held-out faces at 40 mm through another diffuser of the same grit (nor this one).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..._checks import check_choice, check_int
from ...config import to_dict
from ...data.chips import ChipSpec
from ...data.protocols import DataConfig
from ...paths import cache_dir
from ...report.io import write_json
from ..faces import all_face_chips
from .simulator import DISTANCES_MM, TARGETS, SpeckleSimulator, label_maps, slm_faces, speckle_config

SPLITS = ("train", "test", "depth", "faces", "diffuser")
#: the distances (mm) each split scores at: the paper trains and tests at 0 and 20 mm, validates at 40 mm
TRAIN_DISTANCES_MM = (0.0, 20.0)
UNSEEN_DISTANCE_MM = 40.0
FORMAT_VERSION = 1


def label_levels(target: str) -> int:
    """What ``labels.npy`` stores a label of 1 as: binary faces as {0, 1}, grey ones x 255 (uint8)."""
    return 1 if target == "binary" else 255


@dataclass(frozen=True)
class SpeckleDataConfig:
    """What a speckle dataset holds.

    Attributes:
        data: where the faces come from (a protocol split: seen faces from its training people, unseen from
            its test people).
        setting: the simulator's setting (:data:`~.simulator.SETTINGS`).
        grits: the diffusers; distances_mm: the camera distances (must include 0, 20 and 40).
        seen_faces, unseen_faces: how many faces of each kind; test_fraction: held-out share of the seen.
        chip_size, padding: the aligned chip the face comes from.
        target: what the SLM shows and the networks learn: ``"binary"`` faces (the paper) or ``"grey"``
            levels (its future work).
        diffuser_seed, unseen_diffuser_seed: the diffuser of the splits and the one of ``diffuser``.
        seed: face choice and camera noise; shard_size: faces simulated between checkpoints.
    """

    data: DataConfig = field(default_factory=lambda: DataConfig(source="sample", protocol="view2-2fold",
                                                                min_images=1))
    setting: str = "cpu"
    grits: tuple[str, ...] = ("120", "220", "600", "1500")
    distances_mm: tuple[float, ...] = DISTANCES_MM
    seen_faces: int = 1500
    unseen_faces: int = 300
    test_fraction: float = 0.1
    chip_size: int = 128
    padding: float = 0.5
    diffuser_seed: int = 0
    unseen_diffuser_seed: int = 1
    seed: int = 0
    shard_size: int = 32
    target: str = "binary"

    def __post_init__(self) -> None:
        object.__setattr__(self, "grits", tuple(str(g) for g in self.grits))
        object.__setattr__(self, "distances_mm", tuple(float(d) for d in self.distances_mm))
        missing = set(TRAIN_DISTANCES_MM + (UNSEEN_DISTANCE_MM,)) - set(self.distances_mm)
        if missing:
            raise ValueError(f"distances_mm must include 0, 20 and 40 mm (the splits); missing {sorted(missing)}")
        check_int(self.seen_faces, "seen_faces", 2)
        check_int(self.unseen_faces, "unseen_faces", 1)
        check_int(self.shard_size, "shard_size", 1)
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {self.test_fraction}")
        if self.diffuser_seed == self.unseen_diffuser_seed:
            raise ValueError("the unseen diffuser must have another seed than the training one")
        check_choice(self.target, "target", TARGETS)
        speckle_config(self.setting)

    def record(self) -> dict:
        """The settings as a manifest stores them; ``target`` only when it is not binary, so that binary
        datasets made before grey ones existed keep their key and folder."""
        record = json.loads(json.dumps(to_dict(self)))
        if self.target == "binary":
            del record["target"]
        return record

    def key(self) -> str:
        """A short hash of the settings (:meth:`record`): the dataset's folder name."""
        import hashlib

        return hashlib.sha1(json.dumps(self.record(), sort_keys=True).encode()).hexdigest()[:16]


def _choose(people: list[str], by_person: dict[str, list[int]], count: int, rng: np.random.Generator) -> list[int]:
    """``count`` photos, one per person (in random order) before any second photo of anyone."""
    order = [people[i] for i in rng.permutation(len(people))]
    chosen, round_ = [], 0
    while len(chosen) < count:
        added = [by_person[p][round_] for p in order if len(by_person[p]) > round_]
        if not added:
            raise ValueError(f"only {len(chosen)} photos of these people, {count} asked for")
        chosen += added[:count - len(chosen)]
        round_ += 1
    return chosen


class SpeckleDataset:
    """A generated (or partly generated) dataset in ``folder``.

    Files: ``manifest.json`` (the configuration, the faces and their roles, the progress and generation
    times), ``labels.npy`` (F, S, S) uint8 (:func:`label_levels`), and per grit and diffuser
    ``speckle-<grit>-d<seed>.npy`` (faces, distances, S, S) uint8 (the [0, 1] patterns x 255).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        path = self.folder / "manifest.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.folder} holds no speckle dataset (no manifest.json)")
        self.manifest = json.loads(path.read_text())
        self.faces = self.manifest["faces"]
        self.distances_mm = tuple(self.manifest["config"]["distances_mm"])
        self.target = self.manifest["config"].get("target", "binary")

    @staticmethod
    def array_name(grit: str, diffuser_seed: int) -> str:
        return f"speckle-{grit}-d{diffuser_seed}.npy"

    @property
    def complete(self) -> bool:
        return all(a["done"] == a["faces"] for a in self.manifest["arrays"].values())

    def labels(self) -> np.ndarray:
        return np.load(self.folder / "labels.npy", mmap_mode="r")

    def rows(self, split: str) -> tuple[list[int], tuple[float, ...], bool]:
        """(face rows, distances, whether through the unseen diffuser) of ``split``."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        seen = [i for i, f in enumerate(self.faces) if f["role"] == "seen"]
        held = [i for i in seen if self.faces[i]["test"]]
        if split == "train":
            return [i for i in seen if not self.faces[i]["test"]], TRAIN_DISTANCES_MM, False
        if split == "test":
            return held, TRAIN_DISTANCES_MM, False
        if split == "depth":
            return seen, (UNSEEN_DISTANCE_MM,), False
        if split == "faces":
            return [i for i, f in enumerate(self.faces) if f["role"] == "unseen"], (UNSEEN_DISTANCE_MM,), False
        return held, (UNSEEN_DISTANCE_MM,), True

    def pairs(self, split: str, grit: str) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Speckle (M, 1, S, S) and labels (M, 1, S, S), float32 in [0, 1], of ``split`` through ``grit``'s
        diffuser, and the face row of each pair (faces x distances, face-major).

        Raises:
            ValueError: the grit is not in the dataset, or its patterns are not all generated yet.
        """
        config = self.manifest["config"]
        rows, distances, unseen = self.rows(split)
        seed = config["unseen_diffuser_seed"] if unseen else config["diffuser_seed"]
        name = self.array_name(str(grit), seed)
        record = self.manifest["arrays"].get(name)
        if record is None:
            raise ValueError(f"grit {grit} is not in {self.folder} (grits: {', '.join(config['grits'])})")
        if record["done"] < record["faces"]:
            raise ValueError(f"{self.folder / name} is generated for {record['done']} of {record['faces']} faces: "
                             f"finish it first (faceveil train speckle resumes the generation)")
        array = np.load(self.folder / name, mmap_mode="r")
        local = {face: j for j, face in enumerate(record["rows"])}
        columns = [self.distances_mm.index(d) for d in distances]
        speckle = np.stack([array[local[r], c] for r in rows for c in columns])
        labels = self.labels()
        target = np.stack([labels[r] for r in rows for _ in columns])
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a))[:, None].float()  # noqa: E731
        return to(speckle) / 255, to(target) / label_levels(self.target), [r for r in rows for _ in columns]


def generate(config: SpeckleDataConfig, folder: str | Path | None = None, progress: bool = True,
             device: str = "cpu") -> SpeckleDataset:
    """Generate (or resume generating) the dataset of ``config`` in ``folder`` (default: the faceveil cache,
    ``speckle/<config key>``); a finished dataset is opened as it is."""
    from tqdm.auto import tqdm

    folder = Path(folder) if folder is not None else cache_dir() / "speckle" / config.key()
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest["config"] != config.record():
            raise ValueError(f"{folder} holds a speckle dataset of other settings; choose another folder")
    chips = all_face_chips(config.data, ChipSpec("dlib-chip", config.chip_size, config.padding, 3), progress)
    if not manifest_path.is_file():
        manifest = _start(config, chips, folder)
    index = {str(p): i for i, p in enumerate(chips.paths)}
    faces = manifest["faces"]
    optics = speckle_config(config.setting)
    for name, record in manifest["arrays"].items():
        if record["done"] == record["faces"]:
            continue
        simulator = SpeckleSimulator(speckle_config(config.setting, diffuser_seed=record["diffuser_seed"]),
                                     record["grit"], device=device)
        shape = (record["faces"], len(config.distances_mm), optics.output_size, optics.output_size)
        array = np.lib.format.open_memmap(folder / name, mode="r+" if (folder / name).is_file() else "w+",
                                          dtype=np.uint8, shape=shape)
        bar = tqdm(total=record["faces"], initial=record["done"], desc=f"speckle {name}", unit="face",
                   disable=not progress)
        while record["done"] < record["faces"]:
            start = time.perf_counter()
            stop = min(record["faces"], record["done"] + config.shard_size)
            rows = record["rows"][record["done"]:stop]
            chip_rows = torch.tensor([index[faces[r]["path"]] for r in rows])
            shown = slm_faces(chips.images(chip_rows), config.target)
            patterns = simulator(shown, config.distances_mm, seed=config.seed * 1_000_003 + record["done"])
            array[record["done"]:stop] = torch.stack(patterns, 1).mul(255).round().to(torch.uint8).cpu().numpy()
            array.flush()
            record["seconds"] += time.perf_counter() - start
            record["done"] = stop
            write_json(manifest_path, manifest)
            bar.update(len(rows))
        bar.close()
        del array
    return SpeckleDataset(folder)


def _start(config: SpeckleDataConfig, chips, folder: Path) -> dict:
    """Choose the faces among ``chips`` (every photo's loose chip), write their labels and an empty manifest."""
    split = config.data.protocol_split()
    names = [chips.identities[i] for i in chips.labels.tolist()]
    by_person: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_person.setdefault(name, []).append(i)
    rng = np.random.default_rng(config.seed)
    train_people = sorted(set(split.train_people) & set(by_person))
    test_people = sorted(split.test_people & set(by_person))
    seen = _choose(train_people, by_person, config.seen_faces, rng)
    unseen = _choose(test_people, by_person, config.unseen_faces, rng)
    held = set(rng.choice(len(seen), size=max(1, math.ceil(config.test_fraction * len(seen))), replace=False).tolist())
    faces = ([{"path": str(chips.paths[c]), "person": names[c], "role": "seen", "test": k in held}
              for k, c in enumerate(seen)] +
             [{"path": str(chips.paths[c]), "person": names[c], "role": "unseen", "test": True} for c in unseen])
    size = speckle_config(config.setting).output_size
    shown = slm_faces(chips.images(torch.tensor(seen + unseen)), config.target)
    labels = label_maps(shown, size, config.target)[:, 0].mul(label_levels(config.target)).round()
    labels = labels.to(torch.uint8).numpy()
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "labels.npy", labels)
    held_rows = [i for i, f in enumerate(faces) if f["role"] == "seen" and f["test"]]
    arrays = {}
    for grit in config.grits:
        for seed, rows in ((config.diffuser_seed, list(range(len(faces)))), (config.unseen_diffuser_seed, held_rows)):
            arrays[SpeckleDataset.array_name(grit, seed)] = {"grit": grit, "diffuser_seed": seed, "rows": rows,
                                                             "faces": len(rows), "done": 0, "seconds": 0.0}
    manifest = {"format": "faceveil-speckle-dataset", "format_version": FORMAT_VERSION, "config": config.record(),
                "protocol": {"split": split.name, "train_people": len(train_people), "test_people": len(test_people)},
                "faces": faces, "arrays": arrays}
    write_json(folder / "manifest.json", manifest)
    return manifest
