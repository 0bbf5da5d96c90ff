"""EDSR x4 (Lim et al. 2017) as seed 003's SRNet: no batch norm, residual scaling, PixelShuffle, tanh output.

EDSR_{n,k} has ``n`` residual blocks of ``k`` filters: EDSR_{16,64} (1.5 M parameters, trainable on a CPU
at face-chip sizes) and EDSR_{32,256} (43 M, the paper's large model, residual scaling 0.1 as in both of
seed 003's models). Seed 003 drops EDSR's mean shift and ends in tanh; here the network maps images in
[0, 1] to [-1, 1] on the way in and its tanh output back to [0, 1], so it fits faceveil's image convention.
"""

from __future__ import annotations

import torch
from torch import nn

from ..._checks import check_int, check_positive
from ..model_file import load_network, save_network

#: EDSR x4's up-sampling factor: two PixelShuffle x2 stages
SCALE = 4


class ResidualBlock(nn.Module):
    """conv 3x3 - ReLU - conv 3x3, scaled by ``res_scale`` and added to the input (no batch norm)."""

    def __init__(self, filters: int, res_scale: float) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(filters, filters, 3, padding=1), nn.ReLU(inplace=True),
                                  nn.Conv2d(filters, filters, 3, padding=1))
        self.res_scale = res_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.body(x)


class EDSR(nn.Module):
    """EDSR x4: head conv, ``blocks`` residual blocks and a conv with a global skip, two (conv to 4k
    channels, PixelShuffle x2) stages, a conv to the output channels, tanh.

    Args:
        blocks: residual blocks n (>= 1); filters: their width k (>= 1).
        res_scale: residual scaling (> 0; 0.1 in EDSR's large model and in seed 003's reference code).
        channels: image channels in and out (3 RGB or 1 grey).

    ``forward``: (N, C, h, w) in [0, 1] -> (N, C, 4h, 4w) in [0, 1].
    """

    def __init__(self, blocks: int = 16, filters: int = 64, res_scale: float = 0.1, channels: int = 3) -> None:
        super().__init__()
        check_int(blocks, "blocks", 1)
        check_int(filters, "filters", 1)
        check_positive(res_scale, "res_scale")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels!r}")
        self.blocks, self.filters, self.res_scale, self.channels = blocks, filters, float(res_scale), channels
        self.head = nn.Conv2d(channels, filters, 3, padding=1)
        self.body = nn.Sequential(*[ResidualBlock(filters, res_scale) for _ in range(blocks)],
                                  nn.Conv2d(filters, filters, 3, padding=1))
        self.upsample = nn.Sequential(nn.Conv2d(filters, 4 * filters, 3, padding=1), nn.PixelShuffle(2),
                                      nn.Conv2d(filters, 4 * filters, 3, padding=1), nn.PixelShuffle(2))
        self.tail = nn.Conv2d(filters, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"EDSR expects (N, {self.channels}, h, w) images, got {tuple(x.shape)}")
        features = self.head(x * 2 - 1)
        features = features + self.body(features)
        return (torch.tanh(self.tail(self.upsample(features))) + 1) / 2

    def settings(self) -> dict:
        """The settings that rebuild this network: ``EDSR(**settings)``."""
        return {"blocks": self.blocks, "filters": self.filters, "res_scale": self.res_scale, "channels": self.channels}


def edsr_16_64(channels: int = 3) -> EDSR:
    """EDSR_{16,64}: 16 blocks of 64 filters (seed 003's small SRNet, about 1.5 M parameters)."""
    return EDSR(16, 64, 0.1, channels)


def edsr_32_256(channels: int = 3) -> EDSR:
    """EDSR_{32,256}: 32 blocks of 256 filters (seed 003's large SRNet, about 43 M parameters; a GPU model)."""
    return EDSR(32, 256, 0.1, channels)


#: the deployable file of ``faceveil train superres`` (``model.pt``)
MODEL_FORMAT = "faceveil-superres"
MODEL_FORMAT_VERSION = 1


def save_model(path, model: EDSR, chip: dict, extra: dict | None = None, half: bool = True):
    """Write ``model`` with the geometry of the high-resolution ``chip`` it restores and ``extra`` entries:
    :func:`~faceveil.restore.model_file.save_network` (float16 weights by default, 3 MB for EDSR_{16,64})."""
    return save_network(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, model, chip, extra, half)


def load_model(path, map_location="cpu") -> tuple[EDSR, dict]:
    """The EDSR (float32, eval mode) and whole payload of a file of :func:`save_model`.

    Raises:
        FileNotFoundError / ValueError: no such file, not a super-resolution model, or settings that do not
            match the stored weights (an edited file).
    """
    return load_network(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, "super-resolution model",
                        lambda settings: EDSR(**settings), map_location)
