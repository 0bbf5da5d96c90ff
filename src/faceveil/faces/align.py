"""Alignment of a photo to a canonical face chip: detect, fit 5 landmarks, warp.

Two alignments (:class:`faceveil.recognition.base.AlignmentSpec`):

* ``"dlib-chip"``: dlib's ``get_face_chip`` (similarity transform of the landmarks onto dlib's mean face,
  with relative ``padding``), the alignment dlib's ResNet judge was trained with (150x150, padding 0.25).
* ``"template"``: least-squares similarity transform (dlib's ``find_similarity_transform``) of the five
  ArcFace points (eye centres, nose tip, mouth corners), taken from dlib's 68-point landmarks, onto the
  112x112 ArcFace/InsightFace template, adapted to the chip size: 112x96 crops 8 px from each side
  (SphereFace/CosFace convention), other sizes scale the template by height/112 and centre it
  horizontally (160x160 for FaceNet-style networks).
* ``"box"``: the detector's box itself, squared around its centre and widened by ``padding`` times its side
  on each side (pixels outside the photo are black), resized bilinearly: the crop of detector-only
  pipelines (e.g. the one the TF.js face embedders ship with); the landmarks are fitted but not used. dlib's 5-point model is not used here: it has no
  mouth corners and marks the bottom of the nose, not its tip, which shrinks the fitted face by ~10 %.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..model_files import require_dlib
from ..recognition.base import AlignmentSpec
from .detect import Box, FaceDetector, fallback_box, pick_central
from .landmarks import LandmarkPredictor

#: ArcFace 112x112 template: left eye, right eye (image left/right), nose tip, mouth left, mouth right
ARCFACE_TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
)


@dataclass(frozen=True)
class AlignedFace:
    """A chip (H, W, 3) uint8 RGB, whether the face was detected (False: fallback box), the box and the
    landmarks (5, 2) or (68, 2) in photo pixel coordinates."""

    chip: np.ndarray
    detected: bool
    box: Box
    landmarks: np.ndarray


def template_points(size: tuple[int, int]) -> np.ndarray:
    """The five ArcFace template points adapted to a chip of ``size`` = (H, W): array (5, 2)."""
    h, w = size
    pts = ARCFACE_TEMPLATE_112.copy()
    if (h, w) == (112, 96):
        pts[:, 0] -= 8.0
        return pts
    pts *= h / 112.0
    pts[:, 0] += 0.5 * (w - h)
    return pts


def box_chip(image: np.ndarray, box: Box, size: int, padding: float) -> np.ndarray:
    """The square crop of ``box`` widened by ``padding`` x its side on each side, resized bilinearly to
    ``size`` x ``size``: (size, size, 3) uint8 (black outside the photo)."""
    cx, cy = 0.5 * (box.left + box.right + 1), 0.5 * (box.top + box.bottom + 1)  # right/bottom are inclusive
    half = 0.5 * max(box.right - box.left + 1, box.bottom - box.top + 1) * (1 + 2 * padding)
    crop = Image.fromarray(image).crop((round(cx - half), round(cy - half), round(cx + half), round(cy + half)))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR))


def arcface_points(landmarks68: np.ndarray) -> np.ndarray:
    """The five ArcFace points from dlib's 68 (iBUG 300-W) landmarks, array (5, 2): image-left eye centre
    (points 36-41), image-right eye centre (42-47), nose tip (30), mouth corners (48, 54)."""
    return np.stack([landmarks68[36:42].mean(0), landmarks68[42:48].mean(0), landmarks68[30], landmarks68[48],
                     landmarks68[54]])


class FaceAligner:
    """Photo -> aligned chip, following an :class:`AlignmentSpec`.

    Args:
        spec: chip size and method (from the embedder that will consume the chips).
        detector: ``"hog"``, ``"cnn"`` or ``"hog+cnn"``; ``upsample``: see :class:`FaceDetector`.
        landmarks: 5 or 68 points for ``"dlib-chip"`` (``get_face_chip`` accepts both; dlib's 5-point
            model was made to reproduce the 68-point alignment); ``"template"`` always uses 68.
        upscale: resample the photo by this factor (Lanczos) before detection and warping, e.g.
            250/150 to restore LFW's original 250x250 geometry from a downscaled copy.
    """

    def __init__(self, spec: AlignmentSpec, detector: str = "hog", upsample: int = 1, landmarks: int = 5,
                 upscale: float = 1.0) -> None:
        if not 0.25 <= upscale <= 8:
            raise ValueError(f"upscale must be in [0.25, 8], got {upscale!r}")
        self.spec = spec
        self.upscale = float(upscale)
        self.detector = FaceDetector(detector, upsample)
        self.landmarks = LandmarkPredictor(68 if spec.method == "template" else landmarks)
        self._dlib = require_dlib()

    def key(self) -> str:
        """Identity of every setting that changes the chips (used in cache keys)."""
        scale = f"|up{self.upscale:g}" if self.upscale != 1 else ""
        return f"{self.spec.key()}|{self.detector.key()}|{self.landmarks.key()}|fallback-v1{scale}"

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """The photo as the aligner sees it (resampled by ``upscale``)."""
        if self.upscale == 1:
            return image
        h, w = image.shape[:2]
        size = (round(w * self.upscale), round(h * self.upscale))
        return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))

    def locate(self, image: np.ndarray) -> tuple[Box, bool]:
        """The face box to use and whether it was detected (False: :func:`fallback_box`)."""
        h, w = image.shape[:2]
        box = pick_central(self.detector.detect(image), h, w)
        return (box, True) if box is not None else (fallback_box(h, w), False)

    def align(self, image: np.ndarray) -> AlignedFace:
        """Align the central face of an RGB uint8 photo (H, W, 3); box and landmarks refer to
        :meth:`prepare`'s photo."""
        image = np.ascontiguousarray(self.prepare(image))  # dlib refuses strided views (a permuted tensor's)
        box, detected = self.locate(image)
        shape = self.landmarks.shape(image, box)
        pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
        return AlignedFace(self.cut(image, box, shape), detected, box, pts)

    def cut(self, image: np.ndarray, box: Box, shape, spec: AlignmentSpec | None = None) -> np.ndarray:
        """The chip (H, W, 3) uint8 of a located face (``box`` and dlib ``shape`` of :meth:`prepare`'s photo)
        under ``spec`` (default: the aligner's own), so that one detection serves several alignments; the
        template needs a 68-point ``shape``."""
        spec = spec or self.spec
        if spec.method == "dlib-chip":
            chip = self._dlib.get_face_chip(image, shape, size=spec.size[0], padding=spec.padding)
        elif spec.method == "box":
            chip = box_chip(image, box, spec.size[0], spec.padding)
        else:
            if shape.num_parts != 68:
                raise ValueError(f"the template alignment needs 68 landmarks, got {shape.num_parts}")
            pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            chip = self._template_chip(image, pts, spec.size)
        return np.ascontiguousarray(chip)

    def _template_chip(self, image: np.ndarray, landmarks68: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        dl = self._dlib
        h, w = size
        src = dl.dpoints([dl.dpoint(float(x), float(y)) for x, y in arcface_points(landmarks68)])
        dst = dl.dpoints([dl.dpoint(float(x), float(y)) for x, y in template_points((h, w))])
        details = dl.chip_details(dst, src, dl.chip_dims(h, w))
        return dl.extract_image_chip(image, details)
