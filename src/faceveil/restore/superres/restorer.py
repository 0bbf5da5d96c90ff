"""A trained EDSR as a restoration: low-resolution faces in, face chips out (``faceveil restore superres``,
``faceveil bench superres``)."""

from __future__ import annotations


import torch

from ..._checks import check_device, check_int
from ...data.resample import bicubic_resize
from ...eval.transformed import Transform
from ..model_file import TrainedRestorer
from .model import EDSR, load_model


class SuperResolver(TrainedRestorer, Transform):
    """EDSR x4, then bicubic interpolation to ``output_size`` (seed 003: bicubic to the recogniser's input at
    test time): (N, 3, h, w) in [0, 1] -> (N, 3, H, W) in [0, 1].

    Args:
        model: the network; payload: what :func:`~.model.load_model` returned with it (for the record).
        output_size: (H, W) of the restored chips; None: the chip size the model was trained for.
        batch_size: faces per forward pass; device: torch device.
        name: the condition name in evaluations.
    """

    read_model = staticmethod(load_model)

    def __init__(self, model: EDSR, payload: dict, output_size=None, batch_size: int = 64, device: str = "cpu",
                 name: str = "edsr") -> None:
        if not isinstance(model, EDSR):
            raise ValueError(f"model must be an EDSR, got {type(model).__name__}")
        check_int(batch_size, "batch_size", 1)
        self.payload, self.batch_size, self.device = payload, batch_size, check_device(device)
        self.model = model.to(self.device).eval().requires_grad_(False)
        chip = payload.get("chip", {})
        self.output_size = tuple(output_size) if output_size is not None else tuple(chip.get("size", (112, 112)))
        self.name = name

    def _apply(self, chips: torch.Tensor) -> torch.Tensor:
        if chips.shape[1] != self.model.channels:
            raise ValueError(f"the model restores {self.model.channels}-channel faces, got {chips.shape[1]}")
        out = []
        with torch.inference_mode():
            for batch in chips.split(self.batch_size):
                sr = self.model(batch.to(self.device, torch.float32))
                out.append(bicubic_resize(sr, self.output_size).cpu())
        return torch.cat(out)

    def settings(self) -> dict:
        return {"model": self.model.settings(), "chip": self.payload.get("chip"),
                "identity_weight": self.payload.get("identity_weight"),
                "identity_judge": self.payload.get("identity_judge"), "output_size": list(self.output_size),
                "upsampling": "EDSR x4, then bicubic a=-0.5 to the output size"}
