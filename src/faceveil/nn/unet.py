"""U-Net (Ronneberger et al. 2015), the image-to-image network shared by the attacks and restorers."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU())


class UNet(nn.Module):
    """U-Net: ``depth`` 2x down-samplings, channels doubling from ``base_channels``, skip connections,
    transposed-convolution up-sampling, a sigmoid output in [0, 1].

    Any input size works: the input is reflect-padded to a multiple of 2^depth and the output cropped back.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, base_channels: int = 32, depth: int = 3) -> None:
        super().__init__()
        for value, name in ((in_channels, "in_channels"), (out_channels, "out_channels"),
                            (base_channels, "base_channels"), (depth, "depth")):
            check_int(value, name, 1)
        widths = [base_channels * 2**i for i in range(depth + 1)]
        self.depth = depth
        self.down = nn.ModuleList([_double_conv(in_channels, widths[0])] +
                                  [_double_conv(widths[i], widths[i + 1]) for i in range(depth)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                 for i in reversed(range(depth))])
        self.merge = nn.ModuleList([_double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H, W) in [0, 1]."""
        h, w = x.shape[-2:]
        step = 2**self.depth
        pad_h, pad_w = -h % step, -w % step
        mode = "reflect" if min(h, w) > max(pad_h, pad_w) else "replicate"
        x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips[:-1])):
            x = merge(torch.cat([up(x), skip], 1))
        return torch.sigmoid(self.head(x))[..., :h, :w]
