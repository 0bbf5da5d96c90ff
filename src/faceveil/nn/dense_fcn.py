"""Fully convolutional DenseNet (Jégou et al. 2017, "The One Hundred Layers Tiramisu"), the network family
of IDiffNet (Li et al., Optica 5, 803 (2018)), the CNN baseline for imaging through glass diffusers.

* **Dense layer** (Huang et al. 2017, Eq. 2): x_l = H_l([x_0, ..., x_(l-1)]) with H = BN-ReLU-3x3 conv to
  ``growth`` maps; a dense block of ``layers`` such layers returns its input and the new maps concatenated.
* **Down path**: a 3 x 3 stem to ``stem_channels`` maps, dilated by 2 (IDiffNet's first layer widens the
  receptive field: a speckle grain's information is spread over the whole pattern), then ``levels`` x
  (dense block, transition down = BN-ReLU-1x1 conv-2x2 max-pool).
* **Bottleneck**: a dense block whose new maps alone go up (Tiramisu's rule: the width of the up path
  stays linear in the depth).
* **Up path**: ``levels`` x (transition up = 3 x 3 transposed convolution, stride 2, of the previous block's
  new maps; concatenation with the skip of its level; dense block); 1 x 1 head on the last block's whole
  output; sigmoid.

Any input size works: max-pooling rounds up and each transposed convolution is cropped to its skip.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_int


class DenseBlock(nn.Module):
    """``layers`` dense layers: (N, C, H, W) -> (N, C + layers * growth, H, W), input first."""

    def __init__(self, in_channels: int, growth: int, layers: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Sequential(nn.BatchNorm2d(in_channels + i * growth), nn.ReLU(),
                          nn.Conv2d(in_channels + i * growth, growth, 3, padding=1, bias=False))
            for i in range(layers))
        self.out_channels = in_channels + layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = torch.cat([x, layer(x)], 1)
        return x


def _transition_down(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(channels), nn.ReLU(), nn.Conv2d(channels, channels, 1, bias=False),
                         nn.MaxPool2d(2, ceil_mode=True))


class DenseFCN(nn.Module):
    """DenseNet-FCN: (N, in_channels, H, W) -> (N, out_channels, H, W) in (0, 1).

    ``stem_channels`` 48, ``growth`` 12, ``layers`` 4 and ``levels`` 5 is Tiramisu's FC-DenseNet56
    (1.4 M parameters here with one channel in and out).
    """

    def __init__(self, in_channels: int = 1, out_channels: int = 1, stem_channels: int = 48, growth: int = 12,
                 layers: int = 4, levels: int = 5) -> None:
        super().__init__()
        for value, name in ((in_channels, "in_channels"), (out_channels, "out_channels"),
                            (stem_channels, "stem_channels"), (growth, "growth"), (layers, "layers"),
                            (levels, "levels")):
            check_int(value, name, 1)
        self.stem = nn.Conv2d(in_channels, stem_channels, 3, padding=2, dilation=2)
        channels, skips = stem_channels, []
        self.down_blocks, self.downs = nn.ModuleList(), nn.ModuleList()
        for _ in range(levels):
            block = DenseBlock(channels, growth, layers)
            channels = block.out_channels
            skips.append(channels)
            self.down_blocks.append(block)
            self.downs.append(_transition_down(channels))
        self.middle = DenseBlock(channels, growth, layers)
        new = layers * growth
        self.ups, self.up_blocks = nn.ModuleList(), nn.ModuleList()
        for skip in reversed(skips):
            self.ups.append(nn.ConvTranspose2d(new, new, 3, stride=2, padding=1, output_padding=1))
            self.up_blocks.append(DenseBlock(new + skip, growth, layers))
        self.head = nn.Conv2d(self.up_blocks[-1].out_channels, out_channels, 1)
        self.new_channels = new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4:
            raise ValueError(f"input must be (N, C, H, W), got {tuple(x.shape)}")
        x = self.stem(x)
        skips = []
        for block, down in zip(self.down_blocks, self.downs):
            x = block(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)[:, -self.new_channels:]
        for i, (up, block, skip) in enumerate(zip(self.ups, self.up_blocks, reversed(skips))):
            x = up(x)[..., :skip.shape[-2], :skip.shape[-1]]
            x = block(torch.cat([x, skip], 1))
            if i < len(self.ups) - 1:
                x = x[:, -self.new_channels:]
        return torch.sigmoid(self.head(x))
