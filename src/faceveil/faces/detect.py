"""Face detection with dlib (HOG, or the CNN/MMOD detector) and the choice of one face per photo.

Photos of benchmark sets such as LFW are centred on one face; when several are found, the one whose
box centre is nearest the image centre is kept. When none is found, :func:`fallback_box` gives a fixed
centred box whose relative position is the median HOG box on LFW (measured on 400 random LFW images:
left 0.300, top 0.327, right 0.713, bottom 0.753 of the image size), so landmarks can still be fitted.
Every result says whether it came from a detection or from the fallback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..model_files import dlib_model_path, require_dlib

#: relative (left, top, right, bottom) of the fallback box: median dlib HOG box on LFW
FALLBACK_BOX = (0.300, 0.327, 0.713, 0.753)


@dataclass(frozen=True)
class Box:
    """A face box in pixel coordinates (inclusive right/bottom, as dlib) with its detector score."""

    left: int
    top: int
    right: int
    bottom: int
    score: float = 0.0

    @property
    def center(self) -> tuple[float, float]:
        return (0.5 * (self.left + self.right), 0.5 * (self.top + self.bottom))


def fallback_box(height: int, width: int) -> Box:
    """The fixed centred box used when no face is detected (see :data:`FALLBACK_BOX`)."""
    l, t, r, b = FALLBACK_BOX
    return Box(round(l * width), round(t * height), round(r * width), round(b * height), float("nan"))


def pick_central(boxes: list[Box], height: int, width: int) -> Box | None:
    """The box whose centre is nearest the image centre, or None for an empty list."""
    if not boxes:
        return None
    cy, cx = 0.5 * (height - 1), 0.5 * (width - 1)
    return min(boxes, key=lambda b: (b.center[0] - cx) ** 2 + (b.center[1] - cy) ** 2)


class FaceDetector:
    """dlib face detector.

    Args:
        kind: ``"hog"`` (dlib's frontal HOG + linear SVM detector), ``"cnn"`` (dlib's MMOD CNN from
            ``face_recognition_models``; more robust to pose, about 20x slower on CPU) or ``"hog+cnn"``
            (HOG, and the CNN only on photos where HOG finds nothing).
        upsample: number of times the image is doubled before detection (dlib finds faces of
            at least about 80x80 px at upsample 0).
    """

    KINDS = ("hog", "cnn", "hog+cnn")

    def __init__(self, kind: str = "hog", upsample: int = 1) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"detector kind must be one of {', '.join(self.KINDS)}, got {kind!r}")
        if not isinstance(upsample, int) or not 0 <= upsample <= 3:
            raise ValueError(f"upsample must be an integer in [0, 3], got {upsample!r}")
        dlib = require_dlib()
        self.kind, self.upsample = kind, upsample
        self._hog = dlib.get_frontal_face_detector() if "hog" in kind else None
        self._cnn = dlib.cnn_face_detection_model_v1(str(dlib_model_path("cnn_detector"))) if "cnn" in kind else None

    def key(self) -> str:
        """Short identity of the settings (used in cache keys)."""
        return f"{self.kind}-up{self.upsample}"

    #: pixels the detector scans at most (after its upsampling); a larger photo is detected on a copy
    #: reduced by an integer factor, whose boxes are scaled back (a 12-megapixel photo upsampled once would
    #: be 48 megapixels: 5 s and 400 MB for faces that are hundreds of pixels wide anyway)
    MAX_SCANNED_PIXELS = 4_000_000

    def detect(self, image: np.ndarray) -> list[Box]:
        """All faces in an RGB uint8 image (H, W, 3), as :class:`Box` objects."""
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"image must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        factor = math.ceil(math.sqrt(h * w * 4**self.upsample / self.MAX_SCANNED_PIXELS))
        if factor > 1:
            small = np.asarray(Image.fromarray(image).reduce(factor))
            return [Box(b.left * factor, b.top * factor, (b.right + 1) * factor - 1, (b.bottom + 1) * factor - 1, b.score)
                    for b in self._detect(small)]
        return self._detect(image)

    def _detect(self, image: np.ndarray) -> list[Box]:
        boxes = []
        if self._hog is not None:
            rects, scores, _ = self._hog.run(image, self.upsample, 0.0)
            boxes = [Box(r.left(), r.top(), r.right(), r.bottom(), float(s)) for r, s in zip(rects, scores)]
        if not boxes and self._cnn is not None:
            boxes = [
                Box(d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), float(d.confidence))
                for d in self._cnn(image, self.upsample)
            ]
        return boxes
