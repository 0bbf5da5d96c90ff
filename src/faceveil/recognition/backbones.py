"""Electronic back-ends that turn the sensor's image into a face embedding.

* ``"inception-resnet-v1"``: FaceNet's Inception-ResNet-V1 (Szegedy et al. 2017, Schroff et al. 2015),
  seed 000's back-end, with the layer names and sizes of the widely used ``facenet-pytorch`` port
  (so its state dicts load, logits aside): 1792 features, a 512-D embedding after a linear layer and
  batch normalisation. About 23.5 M parameters; inputs of at least 75 x 75 (160 x 160 in seed 000).
* ``"light"``: a small residual network for CPU experiments (about 1.2 M parameters at width 32; any
  input of at least 16 x 16).
* ``"dlib-resnet"``: the reference judge's network (:class:`~faceveil.recognition.dlib_resnet.DlibResNet`,
  5.6 M parameters) with its pretrained weights, to be fine-tuned on encrypted images: a back-end that
  recognises from the first step. 128-D embeddings; any input of at least 16 x 16 (resampled to 150).

Both map (N, C, H, W) normalised images to raw embeddings (N, D) (not L2-normalised: the classifier
sees them as they are, :class:`faceveil.protect.optical.model.OpticalFaceModel` normalises them).
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_choice, check_int
from ..data.images import auto_gain

BACKBONES = ("inception-resnet-v1", "light", "dlib-resnet")


class BasicConv2d(nn.Sequential):
    """Convolution without bias, batch norm (eps 1e-3, TensorFlow's), ReLU."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size, stride: int = 1, padding=0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(out_planes, eps=0.001, momentum=0.1)
        self.relu = nn.ReLU()


class _Residual(nn.Module):
    """Inception-ResNet block: relu(x + scale * conv1x1(concat(branches(x)))) (no ReLU on the last block)."""

    def __init__(self, channels: int, branch_channels: int, scale: float, relu: bool = True) -> None:
        super().__init__()
        self.scale = scale
        self.conv2d = nn.Conv2d(branch_channels, channels, kernel_size=1)
        self.relu = nn.ReLU() if relu else nn.Identity()

    def branches(self) -> list[nn.Module]:
        return [m for name, m in self.named_children() if name.startswith("branch")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([branch(x) for branch in self.branches()], 1)
        return self.relu(x + self.scale * self.conv2d(mixed))


class Block35(_Residual):
    """Inception-ResNet-A on 256 channels (35 x 35 grid in the original paper)."""

    def __init__(self, scale: float = 0.17) -> None:
        super().__init__(256, 96, scale)
        self.branch0 = BasicConv2d(256, 32, 1)
        self.branch1 = nn.Sequential(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, padding=1),
                                     BasicConv2d(32, 32, 3, padding=1))


class Block17(_Residual):
    """Inception-ResNet-B on 896 channels, factorised 1x7 / 7x1 convolutions."""

    def __init__(self, scale: float = 0.10) -> None:
        super().__init__(896, 256, scale)
        self.branch0 = BasicConv2d(896, 128, 1)
        self.branch1 = nn.Sequential(BasicConv2d(896, 128, 1), BasicConv2d(128, 128, (1, 7), padding=(0, 3)),
                                     BasicConv2d(128, 128, (7, 1), padding=(3, 0)))


class Block8(_Residual):
    """Inception-ResNet-C on 1792 channels, factorised 1x3 / 3x1 convolutions."""

    def __init__(self, scale: float = 0.20, relu: bool = True) -> None:
        super().__init__(1792, 384, scale, relu)
        self.branch0 = BasicConv2d(1792, 192, 1)
        self.branch1 = nn.Sequential(BasicConv2d(1792, 192, 1), BasicConv2d(192, 192, (1, 3), padding=(0, 1)),
                                     BasicConv2d(192, 192, (3, 1), padding=(1, 0)))


class _Concat(nn.Module):
    """Reduction block: the concatenation of its branches' outputs."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([branch(x) for name, branch in self.named_children()], 1)


class Mixed6a(_Concat):
    """Reduction-A: 256 -> 896 channels, stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = BasicConv2d(256, 384, 3, stride=2)
        self.branch1 = nn.Sequential(BasicConv2d(256, 192, 1), BasicConv2d(192, 192, 3, padding=1),
                                     BasicConv2d(192, 256, 3, stride=2))
        self.branch2 = nn.MaxPool2d(3, stride=2)


class Mixed7a(_Concat):
    """Reduction-B: 896 -> 1792 channels, stride 2."""

    def __init__(self) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, stride=2))
        self.branch2 = nn.Sequential(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, padding=1),
                                     BasicConv2d(256, 256, 3, stride=2))
        self.branch3 = nn.MaxPool2d(3, stride=2)


class InceptionResNetV1(nn.Module):
    """FaceNet's Inception-ResNet-V1: (N, C, H, W) -> (N, embedding_dim), H, W >= 75.

    Args:
        in_channels: 3 (RGB sensor) or 1 (grey).
        embedding_dim: 512 in FaceNet.
        dropout: before the embedding layer (0.6 in facenet-pytorch).
    """

    min_size = 75

    def __init__(self, in_channels: int = 3, embedding_dim: int = 512, dropout: float = 0.6) -> None:
        super().__init__()
        self.conv2d_1a = BasicConv2d(in_channels, 32, 3, stride=2)
        self.conv2d_2a = BasicConv2d(32, 32, 3)
        self.conv2d_2b = BasicConv2d(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3)
        self.conv2d_4b = BasicConv2d(192, 256, 3, stride=2)
        self.repeat_1 = nn.Sequential(*[Block35(0.17) for _ in range(5)])
        self.mixed_6a = Mixed6a()
        self.repeat_2 = nn.Sequential(*[Block17(0.10) for _ in range(10)])
        self.mixed_7a = Mixed7a()
        self.repeat_3 = nn.Sequential(*[Block8(0.20) for _ in range(5)])
        self.block8 = Block8(1.0, relu=False)
        self.avgpool_1a = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.last_linear = nn.Linear(1792, embedding_dim, bias=False)
        self.last_bn = nn.BatchNorm1d(embedding_dim, eps=0.001, momentum=0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in (self.conv2d_1a, self.conv2d_2a, self.conv2d_2b, self.maxpool_3a, self.conv2d_3b,
                      self.conv2d_4a, self.conv2d_4b, self.repeat_1, self.mixed_6a, self.repeat_2, self.mixed_7a,
                      self.repeat_3, self.block8, self.avgpool_1a):
            x = layer(x)
        return self.last_bn(self.last_linear(self.dropout(x.flatten(1))))


class _LightBlock(nn.Module):
    """Residual block with stride 2: relu(bn(conv3x3(relu(bn(conv3x3/2(x))))) + bn(conv1x1/2(x)))."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, 2, 1, bias=False), nn.BatchNorm2d(out_channels), nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels))
        self.skip = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, 2, bias=False), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.skip(x))


class LightFaceNet(nn.Module):
    """A small residual CNN for CPU runs: (N, C, H, W) -> (N, embedding_dim), H, W >= 16.

    A stride-2 3x3 stem of ``width`` channels, three stride-2 residual blocks doubling the width, global
    average pooling, dropout, a linear layer and batch normalisation (the head of FaceNet). The strided
    stem makes it 5x faster to train than a full-resolution one (226 vs 47 images/s at 80 x 80 on 2 CPU
    threads), which is what an end-to-end optical training on a CPU can afford.
    """

    min_size = 16

    def __init__(self, in_channels: int = 3, embedding_dim: int = 128, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        check_int(width, "width", 1)
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, 2, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.stages = nn.Sequential(_LightBlock(width, 2 * width), _LightBlock(2 * width, 4 * width),
                                    _LightBlock(4 * width, 8 * width))
        self.dropout = nn.Dropout(dropout)
        self.last_linear = nn.Linear(8 * width, embedding_dim, bias=False)
        self.last_bn = nn.BatchNorm1d(embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x)).mean((2, 3))
        return self.last_bn(self.last_linear(self.dropout(x)))


class DlibBackbone(nn.Module):
    """The pretrained dlib ResNet as a trainable back-end: (N, C, H, W) standardised images -> (N, 128).

    A sensor image is darker or paler than a face chip (its brightness is the mask's light), so each image
    is first given the statistics of a dlib chip (:func:`faceveil.data.images.auto_gain`, unclamped: the
    camera's automatic gain), grey images repeated to RGB, and resampled bilinearly to dlib's 150 x 150
    input.
    """

    min_size = 16

    def __init__(self, in_channels: int = 3) -> None:
        super().__init__()
        from .dlib_resnet import INPUT_SIZE, load_dlib_resnet

        self.in_channels, self.input_size = in_channels, INPUT_SIZE
        self.network = load_dlib_resnet().train()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chips = auto_gain(x, clamp=False)
        if chips.shape[1] == 1:
            chips = chips.expand(-1, 3, -1, -1)
        if tuple(chips.shape[-2:]) != self.input_size:
            chips = nn.functional.interpolate(chips, size=self.input_size, mode="bilinear", align_corners=False)
        return self.network(chips)


def make_backbone(name: str, in_channels: int = 3, embedding_dim: int = 128) -> nn.Module:
    """A back-end by name (:data:`BACKBONES`); it has a ``min_size`` attribute (smallest input side)."""
    check_choice(name, "backbone", BACKBONES)
    check_int(in_channels, "in_channels", 1)
    check_int(embedding_dim, "embedding_dim", 1)
    if name == "inception-resnet-v1":
        return InceptionResNetV1(in_channels, embedding_dim)
    if name == "dlib-resnet":
        if embedding_dim != 128:
            raise ValueError(f"the dlib-resnet back-end has 128-D embeddings, got embedding_dim {embedding_dim}")
        return DlibBackbone(in_channels)
    return LightFaceNet(in_channels, embedding_dim)
