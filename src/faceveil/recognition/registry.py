"""Embedders by name: what ``--model`` accepts on the command line."""

from __future__ import annotations

from pathlib import Path

from .base import Embedder
from .tfjs.models import MODELS as NPM_MODELS

MODEL_NAMES = ("dlib", "dlib-torch", "judge2", *NPM_MODELS, "onnx:PATH", "checkpoint:PATH")


def make_embedder(name: str, flip: bool = False, jitter: int = 0, workers: int = 1, device: str = "cpu") -> Embedder:
    """Build an embedder from its name.

    Args:
        name: ``"dlib"`` (native dlib ResNet judge), ``"dlib-torch"`` (its PyTorch port), ``"judge2"`` (the
            second, independent judge: the best npm face model), one of the npm face models by name
            (:mod:`faceveil.recognition.npm_models`; ``faceveil models install NAME`` first) or
            ``"onnx:PATH"`` (an ONNX face-recognition model, e.g. ArcFace, through onnxruntime) or
            ``"checkpoint:PATH"`` (a recogniser trained by ``faceveil train``, with the record of the
            people it trained on).
        flip: flip-average embeddings (all models).
        jitter: dlib's ``num_jitters`` (dlib and dlib-torch).
        workers: processes for the native dlib judge.
        device: torch device for every model but the native ``dlib``.
    """
    if name == "dlib":
        from .dlib_native import DlibEmbedder

        return DlibEmbedder(flip=flip, jitter=jitter, workers=workers)
    if name == "dlib-torch":
        from .dlib_resnet import DlibTorchEmbedder

        return DlibTorchEmbedder(flip=flip, device=device, jitter=jitter)
    if jitter:
        raise ValueError(f"jitter is only supported by the 'dlib' and 'dlib-torch' models, not {name!r}")
    if name == "judge2" or name in NPM_MODELS:
        from .npm_models import NpmFaceEmbedder, make_judge2

        return make_judge2(flip, device) if name == "judge2" else NpmFaceEmbedder(name, flip=flip, device=device)
    if name.startswith("onnx:"):
        from .onnx_model import OnnxEmbedder

        return OnnxEmbedder(Path(name[5:]), flip=flip)
    if name.startswith("checkpoint:"):
        from .checkpoint_model import CheckpointEmbedder

        return CheckpointEmbedder(Path(name[len("checkpoint:"):]), flip=flip, device=device)
    raise ValueError(f"unknown model {name!r}; expected one of {', '.join(MODEL_NAMES)}")
