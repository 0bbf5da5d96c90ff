"""Locating pretrained model files shipped by PyPI packages (no downloads at run time).

``face_recognition_models`` ships dlib's ResNet face embedder, the 5- and 68-point shape predictors and
the CNN (MMOD) face detector. Its ``__init__`` imports ``pkg_resources``, which recent setuptools no
longer provide, so the files are located with :func:`importlib.util.find_spec` without importing it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DLIB_MODELS = {
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
    "landmarks5": "shape_predictor_5_face_landmarks.dat",
    "landmarks68": "shape_predictor_68_face_landmarks.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
}


def dlib_model_path(kind: str) -> Path:
    """Path of a model file of ``face_recognition_models``: ``kind`` in :data:`DLIB_MODELS`.

    Raises:
        ValueError: unknown ``kind``.
        FileNotFoundError: the package is not installed, or the file is missing from it.
    """
    if kind not in DLIB_MODELS:
        raise ValueError(f"unknown dlib model {kind!r}; expected one of {sorted(DLIB_MODELS)}")
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "the package 'face_recognition_models' is not installed; it ships dlib's pretrained face models: "
            "pip install face_recognition_models"
        )
    path = Path(spec.origin).parent / "models" / DLIB_MODELS[kind]
    if not path.is_file():
        raise FileNotFoundError(f"{DLIB_MODELS[kind]} is missing from face_recognition_models at {path}; reinstall it")
    return path


def require_dlib():
    """Import and return the ``dlib`` module, with an install hint if it is missing."""
    try:
        import dlib
    except ImportError as err:  # pragma: no cover - dlib-bin is a core dependency
        raise ImportError("dlib is required for face detection and the dlib judge: pip install dlib-bin") from err
    return dlib
