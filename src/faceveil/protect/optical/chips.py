"""Training and evaluation faces for the optical models: photos aligned once, cached as uint8 tensors.

The scene shown to the optics is the face aligned as dlib's judge sees it (``dlib.get_face_chip``, five
landmarks, padding 0.25) at the model's ``image_size`` (seed 000 uses MTCNN crops of 160 x 160; the dlib
chip keeps one alignment for the whole project). The judge itself sees the same chip resampled to
150 x 150 (:func:`judge_view`).

Alignment (a face detection and landmark fit per photo) is the slow part, so the chips are cached in
:func:`faceveil.paths.cache_dir` in shards of a few hundred photos, each written as soon as it is done:
an interrupted run resumes at the first missing shard. The cache key covers the photos (path, size,
modification time, identity), the alignment settings and, when asked for, the judge's weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..._checks import check_choice, check_images, check_int
from ...data.folders import read_identity_folders
from ...data.images import load_rgb
from ...data.lfw import LFW
from ...data.sample import sample_root
from ...faces.align import FaceAligner
from ...model_files import dlib_model_path
from ...paths import cache_dir
from ...recognition.base import AlignmentSpec
from ...recognition.cache import content_digest
from ..dp.photo_features import to_grey

SOURCES = ("lfw-dev-train", "folders", "sample")
CHIP_PADDING = 0.25
JUDGE_SIZE = 150


@dataclass(frozen=True)
class DataConfig:
    """Where the training faces come from.

    Attributes:
        source: ``"lfw-dev-train"`` (the people of LFW View 1 DevTrain under ``root``), ``"folders"``
            (``root/<identity>/<image>``) or ``"sample"`` (the embedded 40-identity LFW sample).
        root: the LFW root or the identity-folder root (unused for ``"sample"``).
        min_images: drop identities with fewer photos.
        max_identities: keep only the first identities (in file order), None for all.
        detector: face detector for the alignment (``"hog"``, ``"cnn"``, ``"hog+cnn"``).
    """

    source: str = "sample"
    root: str | None = None
    min_images: int = 2
    max_identities: int | None = None
    detector: str = "hog"

    def __post_init__(self) -> None:
        check_choice(self.source, "data source", SOURCES)
        if self.source != "sample" and not self.root:
            raise ValueError(f"data source {self.source!r} needs a root folder")
        check_int(self.min_images, "min_images", 1)
        if self.max_identities is not None:
            check_int(self.max_identities, "max_identities", 1)
        check_choice(self.detector, "detector", ("hog", "cnn", "hog+cnn"))


def training_items(config: DataConfig) -> list[tuple[Path, str]]:
    """(photo, identity) pairs of the training faces, in file order."""
    if config.source == "lfw-dev-train":
        lfw = LFW(config.root)
        people = [(name, n) for name, n in lfw.people("dev-train")[0] if n >= config.min_images]
        items = lfw.images_of(people[: config.max_identities])
    else:
        root = sample_root() / "lfw" if config.source == "sample" else config.root
        items = read_identity_folders(root, config.min_images)
        keep = list(dict.fromkeys(person for _, person in items))[: config.max_identities]
        items = [(path, person) for path, person in items if person in set(keep)]
    if not items:
        raise FileNotFoundError(f"no training photos with at least {config.min_images} images per identity "
                                f"in {config.source} {config.root or ''}".rstrip())
    return items


@dataclass
class ChipSet:
    """Aligned faces.

    Attributes:
        chips: (N, 3, S, S) uint8 RGB.
        labels: (N,) int64 identity indices into ``identities``.
        identities: the identity names.
        paths: the N photos.
        detected: (N,) bool, False where the fallback box was used.
        judge: (N, 128) raw dlib-judge embeddings of the chips, or None.
    """

    chips: torch.Tensor
    labels: torch.Tensor
    identities: list[str]
    paths: list[Path]
    detected: torch.Tensor
    judge: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def scenes(self, index: torch.Tensor | slice | None = None, channels: int = 3) -> torch.Tensor:
        """Float scenes (n, channels, S, S) in [0, 1] of the chips at ``index`` (all by default)."""
        return scenes_from_chips(self.chips[slice(None) if index is None else index], channels)


def scenes_from_chips(chips: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """uint8 chips (N, 3, S, S) -> float scenes (N, channels, S, S) in [0, 1] (BT.601 luma for 1 channel)."""
    check_choice(channels, "channels", (1, 3))
    if chips.dtype != torch.uint8 or chips.ndim != 4 or chips.shape[1] != 3:
        raise ValueError(f"chips must be uint8 (N, 3, S, S), got {chips.dtype} {tuple(chips.shape)}")
    images = chips.float() / 255
    return images if channels == 3 else to_grey(images)


def scene_aligner(size: int, detector: str = "hog") -> FaceAligner:
    """The aligner of the scenes: dlib chips of ``size`` x ``size`` with padding 0.25 from five landmarks."""
    check_int(size, "size", 16)
    return FaceAligner(AlignmentSpec((size, size), "dlib-chip", CHIP_PADDING), detector, landmarks=5)


def align_photos(photos: list[np.ndarray], aligner: FaceAligner) -> tuple[torch.Tensor, torch.Tensor]:
    """Chips (N, 3, S, S) uint8 of RGB uint8 photos and whether each face was detected (N,) bool."""
    faces = [aligner.align(photo) for photo in photos]
    chips = torch.from_numpy(np.stack([f.chip for f in faces])).permute(0, 3, 1, 2).contiguous()
    return chips, torch.tensor([f.detected for f in faces])


def judge_view(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 3, S, S) in [0, 1] resampled to the judge's 150 x 150 (antialiased bilinear)."""
    check_images(images)
    if images.shape[1] != 3:
        raise ValueError(f"the dlib judge needs RGB images, got {images.shape[1]} channel(s)")
    if images.shape[-2:] == (JUDGE_SIZE, JUDGE_SIZE):
        return images
    out = F.interpolate(images, size=(JUDGE_SIZE, JUDGE_SIZE), mode="bilinear", antialias=True, align_corners=False)
    return out.clamp(0, 1)


def _cache_folder(items: list[tuple[Path, str]], aligner: FaceAligner, judge_key: str | None,
                  shard_size: int) -> Path:
    stats = [(Path(p), Path(p).stat()) for p, _ in items]
    listing = [(str(p.resolve()), s.st_size, s.st_mtime_ns, person) for (p, s), (_, person) in zip(stats, items)]
    key = hashlib.sha1(json.dumps([aligner.key(), judge_key, shard_size, listing]).encode()).hexdigest()[:20]
    return cache_dir() / "optical-chips" / key


def load_chips(items: list[tuple[Path, str]], size: int, detector: str = "hog", judge: bool = False,
               progress: bool = True, shard_size: int = 256, device: str = "cpu") -> ChipSet:
    """Align the photos of ``items`` (cached, resumable) and optionally embed them with the dlib judge.

    Args:
        items: (photo, identity) pairs (:func:`training_items`).
        size: chip side S.
        detector: face detector.
        judge: also store the raw embeddings of the dlib judge (``dlib-torch``) of the chips.
        progress: show a progress bar.
        shard_size: photos per cache file.
        device: torch device of the judge.

    Raises:
        FileNotFoundError / ImageReadError: a photo is missing or unreadable (named in the message).
    """
    if not items:
        raise ValueError("no photos to align")
    check_int(shard_size, "shard_size", 1)
    for path, _ in items:
        if not Path(path).is_file():
            raise FileNotFoundError(f"image not found: {path}")
    aligner = scene_aligner(size, detector)
    judge_key = f"dlib-resnet-v1:{content_digest(dlib_model_path('resnet'))[:12]}" if judge else None
    folder = _cache_folder(items, aligner, judge_key, shard_size)
    folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(items), shard_size)
    done = {s for s in starts if (folder / f"shard-{s // shard_size:05d}.pt").is_file()}
    bar = tqdm(total=len(items), initial=sum(min(shard_size, len(items) - s) for s in done), unit="img",
               desc=f"align faces ({size}x{size})", disable=not progress)
    embedder = None
    shards = []
    for start in starts:
        path = folder / f"shard-{start // shard_size:05d}.pt"
        if start not in done:
            batch = items[start : start + shard_size]
            chips, detected = align_photos([load_rgb(p) for p, _ in batch], aligner)
            shard = {"chips": chips, "detected": detected}
            if judge:
                if embedder is None:
                    from ...recognition.dlib_resnet import DlibTorchEmbedder

                    embedder = DlibTorchEmbedder(device=device)
                shard["judge"] = embedder.embed_raw(judge_view(chips.float() / 255))
            temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two runs may fill one cache
            torch.save(shard, temporary)
            os.replace(temporary, path)
            bar.update(len(batch))
        shards.append(torch.load(path, weights_only=True))
    bar.close()
    identities = list(dict.fromkeys(person for _, person in items))
    index = {person: i for i, person in enumerate(identities)}
    return ChipSet(
        chips=torch.cat([s["chips"] for s in shards]),
        labels=torch.tensor([index[person] for _, person in items], dtype=torch.long),
        identities=identities,
        paths=[Path(p) for p, _ in items],
        detected=torch.cat([s["detected"] for s in shards]),
        judge=torch.cat([s["judge"] for s in shards]) if judge else None,
    )

