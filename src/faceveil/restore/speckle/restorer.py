"""A trained speckle network as a reconstructor: speckle patterns in, binary-face probabilities out
(``faceveil restore speckle``, ``faceveil bench speckle``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._checks import check_device, check_int
from ..model_file import TrainedRestorer
from .model import load_model
from .simulator import speckle_config


class SpeckleReconstructor(TrainedRestorer):
    """Speckle (N, 1, H, W) in [0, 1] -> the binary face's white-pixel map (N, 1, S, S) in [0, 1], S the size
    the network trained at (inputs of another size are resized bilinearly to it). A network trained with
    the NPCC loss is blind to the scale and offset of its output (only its correlation with the label
    counts), so its output is stretched to [0, 1] per pattern (:attr:`stretch`) before any threshold or
    pixel metric; a cross-entropy network's probabilities are used as they are.

    Args:
        model: the network; payload: what :func:`~.model.load_model` returned with it.
        batch_size: patterns per forward pass; device: torch device.
    """

    read_model = staticmethod(load_model)

    def __init__(self, model: nn.Module, payload: dict, batch_size: int = 16, device: str = "cpu") -> None:
        check_int(batch_size, "batch_size", 1)
        self.payload, self.batch_size, self.device = payload, batch_size, check_device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        self.size = speckle_config(payload.get("setting", "cpu")).output_size
        self.grit = payload.get("grit")
        self.stretch = payload.get("loss", "npcc") == "npcc"

    def __call__(self, speckle: torch.Tensor) -> torch.Tensor:
        if speckle.ndim != 4 or speckle.shape[1] != 1:
            raise ValueError(f"speckle must be (N, 1, H, W), got {tuple(speckle.shape)}")
        out = []
        with torch.inference_mode():
            for batch in speckle.split(self.batch_size):
                x = batch.to(self.device, torch.float32)
                if tuple(x.shape[-2:]) != (self.size, self.size):
                    x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True,
                                      align_corners=False)
                y = self.model(x).cpu()
                if self.stretch:
                    low = y.amin(dim=(1, 2, 3), keepdim=True)
                    high = y.amax(dim=(1, 2, 3), keepdim=True)
                    y = (y - low) / (high - low).clamp_min(1e-12)
                out.append(y)
        return torch.cat(out)
