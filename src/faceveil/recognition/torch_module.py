"""Any ``torch.nn.Module`` face-recognition network as an :class:`Embedder`."""

from __future__ import annotations

import torch

from .base import AlignmentSpec, Embedder


class TorchEmbedder(Embedder):
    """Wrap a network mapping normalised chips (N, 3, H, W) to embeddings (N, D).

    The chips in [0, 1] are normalised as ``(x - mean) / std`` per channel before the network; e.g.
    ArcFace-style networks use mean = std = 0.5 (pixels mapped to [-1, 1]).

    Args:
        module: the network (put in eval mode; its parameters are not changed).
        name: identity used in reports and cache keys (include a weights version in it).
        dim: embedding dimension D.
        alignment: the chips the network expects.
        mean, std: per-channel normalisation constants (RGB order).
        batch_size: chips per forward pass; device: where the network runs.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        name: str,
        dim: int,
        alignment: AlignmentSpec = AlignmentSpec((112, 112), "template"),
        mean: tuple[float, float, float] = (0.5, 0.5, 0.5),
        std: tuple[float, float, float] = (0.5, 0.5, 0.5),
        batch_size: int = 64,
        device: str | torch.device = "cpu",
        flip: bool = False,
    ) -> None:
        super().__init__(flip)
        if dim < 1 or batch_size < 1:
            raise ValueError(f"dim and batch_size must be >= 1, got {dim} and {batch_size}")
        if min(std) <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.module = module.eval().to(device)
        self.name, self.dim, self.alignment = name, dim, alignment
        self.device = torch.device(device)
        self.batch_size = batch_size
        self._mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self._std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        outs = []
        with torch.inference_mode():
            for batch in chips.split(self.batch_size):
                x = ((batch - self._mean) / self._std).to(self.device)
                outs.append(self.module(x).float().cpu())
        out = torch.cat(outs)
        if out.shape != (len(chips), self.dim):
            raise ValueError(f"{self.name} returned shape {tuple(out.shape)}, expected ({len(chips)}, {self.dim})")
        return out
