"""Facial landmarks with dlib's shape predictors (5-point by default) from ``face_recognition_models``.

The 5-point model returns, in order: right eye outer and inner corner, left eye outer and inner corner
(image right/left as dlib defines them: points 0-1 and 2-3) and the bottom of the nose (point 4).
"""

from __future__ import annotations

import numpy as np

from ..model_files import dlib_model_path, require_dlib
from .detect import Box


class LandmarkPredictor:
    """dlib shape predictor with ``points`` in {5, 68}."""

    def __init__(self, points: int = 5) -> None:
        if points not in (5, 68):
            raise ValueError(f"landmark model must have 5 or 68 points, got {points!r}")
        dlib = require_dlib()
        self.points = points
        self._dlib = dlib
        self._sp = dlib.shape_predictor(str(dlib_model_path(f"landmarks{points}")))

    def key(self) -> str:
        return f"lm{self.points}"

    def shape(self, image: np.ndarray, box: Box):
        """dlib ``full_object_detection`` for the face in ``box`` of an RGB uint8 image (H, W, 3)."""
        rect = self._dlib.rectangle(int(box.left), int(box.top), int(box.right), int(box.bottom))
        return self._sp(image, rect)

    def predict(self, image: np.ndarray, box: Box) -> np.ndarray:
        """Landmarks as a float64 array (points, 2) of (x, y) pixel coordinates."""
        s = self.shape(image, box)
        return np.array([[p.x, p.y] for p in s.parts()], dtype=np.float64)
