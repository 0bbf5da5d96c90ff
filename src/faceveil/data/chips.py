"""The face-chip dataset: photos aligned once (any alignment, size and channel count), cached as uint8.

Every part of faceveil that trains or fits on aligned faces (the optical encoders, the DP eigenfaces)
loads them with :func:`load_face_chips`, which returns a :class:`FaceChips` dataset. A :class:`ChipSpec`
names the alignment: dlib's ``get_face_chip`` (``"dlib-chip"``, square, with padding; the judge's own
alignment at 150 x 150, padding 0.25) or the ArcFace ``"template"`` (112 x 112, 112 x 96, 160 x 160 ...;
:mod:`faceveil.faces.align`), RGB or grey (ITU-R BT.601 luma, :func:`faceveil.data.images.to_grey`,
rounded to 8 bits).

Alignment (a face detection and landmark fit per photo) is the slow part, so the chips are cached in
``cache_dir()/face-chips`` in shards of ``shard_size`` photos, each written as soon as it is done (to a
temporary file of the writing process, then renamed): an interrupted run resumes at the first missing
shard, and two processes may fill one cache. The cache key covers the photos (resolved path, size,
modification time), the :class:`ChipSpec` and, when asked for, the teacher's weights: the raw embeddings
of the dlib judge (``"dlib-torch"``) of the RGB chips seen at 150 x 150 (:func:`judge_view`), which the
optical models distil.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .._checks import check_choice, check_images, check_int
from ..faces.align import FaceAligner
from ..model_files import dlib_model_path
from ..paths import cache_dir
from ..recognition.base import AlignmentSpec
from ..recognition.cache import content_digest
from ..train.checkpoint import save_atomic
from .images import ImageReadError, load_rgb, to_grey

#: dlib's default chip padding, the alignment of the dlib judge
CHIP_PADDING = 0.25
#: the dlib judge's input side
JUDGE_SIZE = 150
TEACHERS = ("dlib-torch",)
DETECTORS = ("hog", "cnn", "hog+cnn")
#: bump when the stored chips of the same settings change
CACHE_VERSION = "chips-v1"


@dataclass(frozen=True)
class ChipSpec:
    """How photos become chips.

    Attributes:
        method: ``"dlib-chip"`` (``get_face_chip``, square), ``"template"`` (ArcFace template) or ``"box"``
            (the detector's box widened by ``padding``; see :mod:`faceveil.faces.align`).
        size: chip (H, W), or one int for a square chip.
        padding: relative padding of ``"dlib-chip"`` (dlib's default 0.25).
        channels: 3 (RGB) or 1 (BT.601 luma).
        landmarks: 5 or 68 for ``"dlib-chip"`` and ``"box"``; ``"template"`` always uses 68. None: 68 for
            the template, else 5.
        detector: ``"hog"``, ``"cnn"`` or ``"hog+cnn"``; upsample: its upsampling passes (0 to 3).
    """

    method: str = "dlib-chip"
    size: tuple[int, int] | int = (150, 150)
    padding: float = CHIP_PADDING
    channels: int = 3
    landmarks: int | None = None
    detector: str = "hog"
    upsample: int = 1

    def __post_init__(self) -> None:
        size = (self.size, self.size) if isinstance(self.size, int) else tuple(self.size)
        object.__setattr__(self, "size", size)
        self.alignment()  # checks method, size and padding
        check_choice(self.channels, "channels", (1, 3))
        if self.landmarks is None:
            object.__setattr__(self, "landmarks", 68 if self.method == "template" else 5)
        check_choice(self.landmarks, "landmarks", (68,) if self.method == "template" else (5, 68))
        check_choice(self.detector, "detector", DETECTORS)
        check_int(self.upsample, "upsample", 0, 3)

    def alignment(self) -> AlignmentSpec:
        """The alignment part of the settings."""
        return AlignmentSpec(self.size, self.method, self.padding)

    def key(self) -> str:
        """Identity of every setting that changes the stored chips (used in cache keys)."""
        return (f"{self.alignment().key()}|{self.detector}-up{self.upsample}|lm{self.landmarks}|c{self.channels}"
                f"|{CACHE_VERSION}")

    def aligner(self) -> FaceAligner:
        """The aligner of these chips (loads dlib's models)."""
        return FaceAligner(self.alignment(), self.detector, self.upsample, self.landmarks)


@dataclass
class FaceChips(torch.utils.data.Dataset):
    """Aligned faces of identified photos.

    Attributes:
        chips: (N, C, H, W) uint8, C = 3 (RGB) or 1 (grey).
        labels: (N,) int64 indices into ``identities``.
        identities: the identity names, in order of first appearance.
        paths: the N photos.
        detected: (N,) bool, False where dlib's fallback box was used.
        teacher: (N, D) float32 raw embeddings of a judge (the dlib judge: D = 128), or None.
        skipped: (photo, reason) of the photos left out because they could not be read.

    An item (``dataset[i]``) is ``{"image": (C, H, W) float32 in [0, 1], "label": int64 scalar}``, with
    ``"teacher": (D,)`` when embeddings are held.
    """

    chips: torch.Tensor
    labels: torch.Tensor
    identities: list[str]
    paths: list[Path]
    detected: torch.Tensor
    teacher: torch.Tensor | None = None
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.paths)
        if self.chips.dtype != torch.uint8 or self.chips.ndim != 4 or self.chips.shape[1] not in (1, 3):
            raise ValueError(f"chips must be uint8 (N, C, H, W) with C in (1, 3), got {self.chips.dtype} "
                             f"{tuple(self.chips.shape)}")
        shapes = {"chips": len(self.chips), "labels": len(self.labels), "detected": len(self.detected)}
        if self.teacher is not None:
            shapes["teacher"] = len(self.teacher)
        if any(m != n for m in shapes.values()):
            raise ValueError(f"{n} paths but {', '.join(f'{m} {k}' for k, m in shapes.items())}")
        if self.labels.dtype != torch.int64 or self.detected.dtype != torch.bool:
            raise ValueError(f"labels must be int64 and detected bool, got {self.labels.dtype} and {self.detected.dtype}")
        if n and not 0 <= int(self.labels.min()) <= int(self.labels.max()) < len(self.identities):
            raise ValueError(f"labels must index the {len(self.identities)} identities")

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        item = {"image": self.chips[i].float() / 255, "label": self.labels[i]}
        if self.teacher is not None:
            item["teacher"] = self.teacher[i]
        return item

    @property
    def fallbacks(self) -> int:
        """How many photos had no detected face (dlib's fallback box was aligned instead)."""
        return int((~self.detected).sum())

    def images(self, index: torch.Tensor | slice | list[int] | None = None) -> torch.Tensor:
        """Float chips (n, C, H, W) in [0, 1] at ``index`` (all by default)."""
        return self.chips[slice(None) if index is None else index].float() / 255

    def subset(self, index: torch.Tensor | slice | list[int]) -> FaceChips:
        """The faces at ``index`` (indices, a bool mask or a slice); labels keep indexing ``identities``."""
        rows = torch.arange(len(self))[index]
        return FaceChips(self.chips[rows], self.labels[rows], self.identities, [self.paths[i] for i in rows.tolist()],
                         self.detected[rows], None if self.teacher is None else self.teacher[rows], self.skipped)


def judge_view(images: torch.Tensor, size: tuple[int, int] = (JUDGE_SIZE, JUDGE_SIZE)) -> torch.Tensor:
    """RGB images (N, 3, h, w) in [0, 1] resampled to a judge's input ``size`` (H, W), by default the dlib
    judge's 150 x 150 (antialiased bilinear, clamped to [0, 1]); unchanged at that size."""
    check_images(images)
    if images.shape[1] != 3:
        raise ValueError(f"a judge needs RGB images, got {images.shape[1]} channel(s)")
    size = tuple(size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"size must be (height, width) >= 1, got {size}")
    if tuple(images.shape[-2:]) == size or len(images) == 0:
        return images
    return F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def check_chip_judge(judge, what: str = "the judge") -> None:
    """Refuse a judge whose alignment is not dlib's chip with padding 0.25: :func:`judge_view` only resizes,
    so a judge of chip-space images (scenes, releases) must share their geometry."""
    spec = judge.alignment
    if (spec.method, spec.padding) != ("dlib-chip", CHIP_PADDING):
        raise ValueError(f"{what} ({judge.name}) aligns faces as {spec.key()}, not as the dlib chips it would "
                         f"judge (padding {CHIP_PADDING})")


def grey_chips(chips: torch.Tensor) -> torch.Tensor:
    """uint8 RGB chips (N, 3, H, W) -> uint8 BT.601 luma (N, 1, H, W), rounded to nearest."""
    return (to_grey(chips.float() / 255) * 255).round().clamp(0, 255).to(torch.uint8)


def _teacher_key(teacher: str | None) -> str | None:
    if teacher is None:
        return None
    return f"dlib-resnet-v1:{content_digest(dlib_model_path('resnet'))[:12]}"


def _listing(items: list[tuple[Path, str]]) -> list:
    out = []
    for path, _ in items:
        path = Path(path)
        stat = path.stat() if path.is_file() else None
        out.append([str(path.resolve()), stat and stat.st_size, stat and stat.st_mtime_ns])
    return out


class _Aligning:
    """The slow parts, built on first use: the aligner and the teacher."""

    def __init__(self, spec: ChipSpec, teacher: str | None, device: str) -> None:
        self.spec, self.teacher, self.device = spec, teacher, device
        self._aligner = self._embedder = None

    def shard(self, batch: list[tuple[Path, str]], on_error: str) -> dict:
        """Align the photos of ``batch``: ``{"chips", "detected", "skipped": [[k, reason]], "teacher"?}``."""
        photos, skipped = [], []
        for k, (path, _) in enumerate(batch):
            try:
                photos.append(load_rgb(path))
            except (FileNotFoundError, ImageReadError) as err:
                if on_error == "fail":
                    raise
                skipped.append([k, str(err)])
        if self._aligner is None:
            self._aligner = self.spec.aligner()
        faces = [self._aligner.align(photo) for photo in photos]
        h, w = self.spec.size
        chips = torch.from_numpy(np.stack([f.chip for f in faces])).permute(0, 3, 1, 2).contiguous() if faces \
            else torch.empty((0, 3, h, w), dtype=torch.uint8)
        shard = {"chips": chips if self.spec.channels == 3 else grey_chips(chips),
                 "detected": torch.tensor([f.detected for f in faces], dtype=torch.bool), "skipped": skipped}
        if self.teacher is not None:
            if self._embedder is None:
                from ..recognition.dlib_resnet import DlibTorchEmbedder

                self._embedder = DlibTorchEmbedder(device=self.device)
            shard["teacher"] = self._embedder.embed_raw(judge_view(chips.float() / 255)).cpu()
        return shard


def load_face_chips(items: list[tuple[str | Path, str]], spec: ChipSpec = ChipSpec(), teacher: str | None = None,
                    progress: bool = True, device: str = "cpu", shard_size: int = 256, on_error: str = "fail",
                    cache: bool = True) -> FaceChips:
    """Align the photos of ``items`` (cached, resumable), optionally with a teacher's embeddings.

    Args:
        items: (photo, identity) pairs, e.g. :func:`faceveil.data.protocols.training_items`.
        spec: the chips.
        teacher: ``"dlib-torch"``: also hold the dlib judge's raw embeddings (N, 128) of the RGB chips
            (:func:`judge_view`); None: none.
        progress: show a progress bar.
        device: torch device of the teacher.
        shard_size: photos per cache file.
        on_error: a photo that is missing or cannot be decoded: ``"fail"`` (raise, naming it) or
            ``"skip"`` (leave it out; listed in :attr:`FaceChips.skipped`).
        cache: read and write the cache (False: align in memory only, e.g. photos being protected).

    Returns:
        The faces of the readable photos, in the order of ``items``; its ``fallbacks`` counts the photos
        without a detected face (nothing is printed: callers report it).

    Raises:
        FileNotFoundError / ImageReadError: with ``on_error="fail"``, a photo is missing or unreadable.
        ValueError: bad arguments, or no photo could be read.
    """
    if not items:
        raise ValueError("no photos to align")
    if not isinstance(spec, ChipSpec):
        raise ValueError(f"spec must be a ChipSpec, got {type(spec).__name__}")
    if teacher is not None:
        check_choice(teacher, "teacher", TEACHERS)
    check_int(shard_size, "shard_size", 1)
    check_choice(on_error, "on_error", ("fail", "skip"))
    items = [(Path(path), person) for path, person in items]
    if on_error == "fail":
        for path, _ in items:
            if not path.is_file():
                raise FileNotFoundError(f"image not found: {path}")
    folder = None
    if cache:
        key = json.dumps([spec.key(), _teacher_key(teacher), shard_size, _listing(items)])
        folder = cache_dir() / "face-chips" / hashlib.sha1(key.encode()).hexdigest()[:20]
        folder.mkdir(parents=True, exist_ok=True)
    starts = range(0, len(items), shard_size)
    files = {s: folder / f"shard-{s // shard_size:05d}.pt" for s in starts} if cache else {}
    done = {s for s, path in files.items() if path.is_file()}
    bar = tqdm(total=len(items), initial=sum(min(shard_size, len(items) - s) for s in done), unit="img",
               desc=f"align faces ({spec.size[0]}x{spec.size[1]})", disable=not progress)
    aligning = _Aligning(spec, teacher, device)
    shards = []
    for start in starts:
        batch = items[start : start + shard_size]
        if start in done:
            try:
                shard = torch.load(files[start], weights_only=True)
            except Exception as err:  # torch raises many types for a damaged file
                raise ValueError(f"the face-chip cache file {files[start]} is damaged ({err}); delete it and "
                                 "run again") from None
        else:
            shard = aligning.shard(batch, on_error)
            if cache:
                save_atomic(shard, files[start])  # a temporary file per process: two runs may fill one cache
            bar.update(len(batch))
        if shard["skipped"] and on_error == "fail":
            raise ImageReadError(shard["skipped"][0][1])
        shards.append((batch, shard))
    bar.close()
    kept, skipped = [], []
    for batch, shard in shards:
        dropped = {k: reason for k, reason in shard["skipped"]}
        kept += [item for k, item in enumerate(batch) if k not in dropped]
        skipped += [(batch[k][0], reason) for k, reason in dropped.items()]
    if not kept:
        raise ValueError(f"none of the {len(items)} photos could be read (first: {skipped[0][1]})")
    identities = list(dict.fromkeys(person for _, person in kept))
    index = {person: i for i, person in enumerate(identities)}
    return FaceChips(
        chips=torch.cat([s["chips"] for _, s in shards]),
        labels=torch.tensor([index[person] for _, person in kept], dtype=torch.long),
        identities=identities,
        paths=[path for path, _ in kept],
        detected=torch.cat([s["detected"] for _, s in shards]),
        teacher=torch.cat([s["teacher"] for _, s in shards]) if teacher is not None else None,
        skipped=skipped,
    )
