"""ONNX face-recognition models (e.g. an ArcFace ``.onnx`` a user owns) through onnxruntime.

Install the optional extra: ``pip install "faceveil[onnx]"``. The model must take one float32 input
(N, 3, H, W) and return (N, D) embeddings; H and W are read from the model (fixed sizes only).
Default preprocessing is the InsightFace convention: RGB, (pixel - 127.5) / 127.5, i.e. mean = std = 0.5
on [0, 1] chips, aligned with the 112x112 ArcFace template.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import AlignmentSpec, Embedder
from .cache import content_digest


class OnnxEmbedder(Embedder):
    """An ONNX embedder run with onnxruntime on the CPU.

    Args:
        path: the ``.onnx`` file.
        mean, std: per-channel normalisation of [0, 1] RGB chips.
        bgr: feed channels in BGR order (some converted Caffe/MXNet models expect it).
        flip: flip-average embeddings.
    """

    def __init__(
        self,
        path: str | Path,
        mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        bgr: bool = False,
        flip: bool = False,
    ) -> None:
        super().__init__(flip)
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"ONNX model not found: {path}")
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise ImportError('ONNX models need onnxruntime: pip install "faceveil[onnx]"') from err
        try:
            self._session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for corrupt files
            raise ValueError(f"cannot load ONNX model {path}: {err}") from err
        inp = self._session.get_inputs()[0]
        h, w = inp.shape[2], inp.shape[3]
        if not (isinstance(h, int) and isinstance(w, int)):
            raise ValueError(f"ONNX model {path} must have a fixed input size, got {inp.shape}")
        self._input = inp.name
        self.path, self.bgr = path, bgr
        self._digest = content_digest(path)
        self.name = f"onnx:{path.name}"
        self.alignment = AlignmentSpec((h, w), "template")
        self._mean = np.array(mean, np.float32).reshape(1, 3, 1, 1)
        self._std = np.array(std, np.float32).reshape(1, 3, 1, 1)
        out_shape = self._session.get_outputs()[0].shape
        self.dim = out_shape[-1] if isinstance(out_shape[-1], int) else 0

    def model_key(self) -> str:
        return f"{self.name}:{self._digest[:12]}|bgr={int(self.bgr)}"

    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips.numpy().astype(np.float32) - self._mean) / self._std
        if self.bgr:
            x = x[:, ::-1]
        out = self._session.run(None, {self._input: np.ascontiguousarray(x)})[0]
        return torch.from_numpy(np.asarray(out, np.float32).reshape(len(chips), -1))
