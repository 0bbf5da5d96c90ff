"""Seed 002's generators and discriminator: the base autoencoder and its modifications, a U-Net, a V-Net.

All generators map a damaged chip (N, C, H, W) in [0, 1] (C = 3, or 4 with the mask as an extra channel)
to a reconstruction (N, 3, H, W) in [0, 1] (sigmoid output); H and W must be multiples of 2^(levels - 1)
for the V-Net and of 16 for the autoencoders. Widths are settings: the paper's V-Net is 64-128-256-512-512
(:data:`PAPER_WIDTHS`), the CPU models narrower.

* :class:`Autoencoder` (seed 002 Fig. 1 and Table 1): four encoder blocks (3x3 conv + ReLU, then 2x2 max
  pooling or, with ``strided``, a stride-2 3x3 conv), a bridge of two dense layers (or, without ``dense``,
  two 3x3 convs), and four decoder blocks (3x3 conv + ReLU, stride-2 transposed conv); ``skips``
  concatenates each encoder block's features into the decoder block of the same scale.
* :class:`VNet` (Milletari et al. 2016 in 2-D, as the Keras U-Net collection builds it; seed 002's best
  model): per level a residual stack of 1, 2, then 3 convs (3x3, ReLU, the input added back), stride-2
  conv down-sampling, stride-2 transposed-conv up-sampling, skip concatenation.
* U-Net: :class:`faceveil.nn.unet.UNet` (double 3x3 conv + batch norm per level, max pooling).
* :class:`Discriminator` (seed 002 Fig. 3): stride-2 conv stages with batch norm (not on the first),
  LeakyReLU 0.2 and dropout 0.4, then one dense output; it returns the logit (the sigmoid is in the loss).
"""

from __future__ import annotations

import torch
from torch import nn

from ..._checks import check_choice, check_int
from ...nn.unet import UNet
from ..model_file import load_network, save_network

#: the paper's V-Net filters
PAPER_WIDTHS = (64, 128, 256, 512, 512)
ARCHITECTURES = ("autoencoder", "unet", "vnet")


def _check_size(x: torch.Tensor, channels: int, step: int, name: str) -> None:
    if x.ndim != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} expects (N, {channels}, H, W) images, got {tuple(x.shape)}")
    if x.shape[-2] % step or x.shape[-1] % step:
        raise ValueError(f"{name} needs H and W divisible by {step}, got {tuple(x.shape[-2:])}")


class Autoencoder(nn.Module):
    """Seed 002's base net (``dense=True, strided=False, skips=False``) and its modifications (Table 1).

    Args:
        widths: filters of the four encoder blocks (the decoder mirrors them).
        size: the chip side the dense bridge is built for (dense only; >= 16, divisible by 16).
        latent: units of the first dense layer.
        dense, strided, skips: the three modifications (see the module doc).
        in_channels: 3, or 4 with the mask as input.
    """

    def __init__(self, widths=(32, 64, 128, 256), size: int = 128, latent: int = 512, dense: bool = True,
                 strided: bool = False, skips: bool = False, in_channels: int = 3) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 4:
            raise ValueError(f"the autoencoder has four encoder blocks: give 4 widths, got {widths!r}")
        for w in widths:
            check_int(w, "each width", 1)
        check_int(size, "size", 16)
        if size % 16:
            raise ValueError(f"size must be divisible by 16, got {size}")
        check_choice(in_channels, "in_channels", (3, 4))
        self.widths, self.size, self.latent = widths, size, latent
        self.dense, self.strided, self.skips, self.in_channels = dense, strided, skips, in_channels
        chans = (in_channels, *widths)
        self.encoder = nn.ModuleList(nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1), nn.ReLU())
                                     for i in range(4))
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(w, w, 3, stride=2, padding=1), nn.ReLU()) if strided else nn.MaxPool2d(2)
            for w in widths)
        deepest, side = widths[-1], size // 16
        if dense:
            check_int(latent, "latent", 1)
            self.bridge = nn.Sequential(nn.Flatten(), nn.Linear(deepest * side * side, latent), nn.ReLU(),
                                        nn.Linear(latent, deepest * side * side), nn.ReLU(),
                                        nn.Unflatten(1, (deepest, side, side)))
        else:
            self.bridge = nn.Sequential(nn.Conv2d(deepest, deepest, 3, padding=1), nn.ReLU(),
                                        nn.Conv2d(deepest, deepest, 3, padding=1), nn.ReLU())
        up = []
        for level in reversed(range(4)):
            incoming = widths[level] if level == 3 else widths[level + 1]
            out = widths[level]
            up.append(nn.ModuleDict({"conv": nn.Sequential(nn.Conv2d(incoming, out, 3, padding=1), nn.ReLU()),
                                     "up": nn.Sequential(nn.ConvTranspose2d(out, out, 2, stride=2), nn.ReLU())}))
        self.decoder = nn.ModuleList(up)
        self.merge = nn.ModuleList(nn.Conv2d(2 * widths[level], widths[level], 1) for level in reversed(range(4))) \
            if skips else None
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) in [0, 1] -> (N, 3, H, W) in [0, 1]; H = W = ``size`` with the dense bridge."""
        _check_size(x, self.in_channels, 16, "the autoencoder")
        if self.dense and tuple(x.shape[-2:]) != (self.size, self.size):
            raise ValueError(f"the dense bridge was built for {self.size}x{self.size} chips, got {tuple(x.shape[-2:])}")
        features = []
        for conv, down in zip(self.encoder, self.down):
            x = conv(x)
            features.append(x)
            x = down(x)
        x = self.bridge(x)
        for i, block in enumerate(self.decoder):
            x = block["up"](block["conv"](x))
            if self.merge is not None:
                x = self.merge[i](torch.cat([x, features[3 - i]], 1))
        return torch.sigmoid(self.head(x))

    def settings(self) -> dict:
        return {"architecture": "autoencoder", "widths": list(self.widths), "size": self.size, "latent": self.latent,
                "dense": self.dense, "strided": self.strided, "skips": self.skips, "in_channels": self.in_channels}


class _ResidualStack(nn.Module):
    """``depth`` 3x3 conv + ReLU layers with the stack's input added to its output (V-Net)."""

    def __init__(self, in_channels: int, channels: int, depth: int) -> None:
        super().__init__()
        layers = []
        for i in range(depth):
            layers += [nn.Conv2d(in_channels if i == 0 else channels, channels, 3, padding=1), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.shortcut = nn.Identity() if in_channels == channels else nn.Conv2d(in_channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


class VNet(nn.Module):
    """2-D V-Net: ``len(widths)`` levels, ``len(widths) - 1`` stride-2 down-samplings.

    Args:
        widths: filters per level (the paper's :data:`PAPER_WIDTHS`, about 30 M parameters).
        in_channels: 3, or 4 with the mask as input.
        max_stack: the deepest residual stack (level i has min(i + 1, max_stack) convs).
    """

    def __init__(self, widths=(16, 32, 64, 128, 128), in_channels: int = 3, max_stack: int = 3) -> None:
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) < 2:
            raise ValueError(f"the V-Net needs at least 2 levels, got widths {widths!r}")
        for w in widths:
            check_int(w, "each width", 1)
        check_choice(in_channels, "in_channels", (3, 4))
        check_int(max_stack, "max_stack", 1)
        self.widths, self.in_channels, self.max_stack = widths, in_channels, max_stack
        depth = [min(i + 1, max_stack) for i in range(len(widths))]
        self.encoder = nn.ModuleList([_ResidualStack(in_channels, widths[0], depth[0])] +
                                     [_ResidualStack(widths[i], widths[i], depth[i]) for i in range(1, len(widths))])
        self.down = nn.ModuleList(nn.Sequential(nn.Conv2d(widths[i], widths[i + 1], 2, stride=2), nn.ReLU())
                                  for i in range(len(widths) - 1))
        self.up = nn.ModuleList(nn.Sequential(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2), nn.ReLU())
                                for i in reversed(range(len(widths) - 1)))
        self.decoder = nn.ModuleList(_ResidualStack(2 * widths[i], widths[i], depth[i])
                                     for i in reversed(range(len(widths) - 1)))
        self.head = nn.Conv2d(widths[0], 3, 1)

    @property
    def step(self) -> int:
        return 2 ** (len(self.widths) - 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) in [0, 1] -> (N, 3, H, W) in [0, 1]."""
        _check_size(x, self.in_channels, self.step, "the V-Net")
        skips = []
        for i, stack in enumerate(self.encoder):
            x = stack(x if i == 0 else self.down[i - 1](x))
            skips.append(x)
        for up, stack, skip in zip(self.up, self.decoder, reversed(skips[:-1])):
            x = stack(torch.cat([up(x), skip], 1))
        return torch.sigmoid(self.head(x))

    def settings(self) -> dict:
        return {"architecture": "vnet", "widths": list(self.widths), "in_channels": self.in_channels,
                "max_stack": self.max_stack}


class InpaintUNet(UNet):
    """:class:`faceveil.nn.unet.UNet` as an inpainting generator (3 or 4 input channels, 3 out)."""

    def __init__(self, base_channels: int = 16, depth: int = 4, in_channels: int = 3) -> None:
        check_choice(in_channels, "in_channels", (3, 4))
        super().__init__(in_channels, 3, base_channels, depth)
        self.base_channels, self.in_channels = base_channels, in_channels

    def settings(self) -> dict:
        return {"architecture": "unet", "base_channels": self.base_channels, "depth": self.depth,
                "in_channels": self.in_channels}


class Discriminator(nn.Module):
    """Seed 002's CNN discriminator: (N, 3, H, W) in [0, 1] -> (N,) logits (real > 0)."""

    def __init__(self, widths=(16, 32, 64, 128), size: int = 128, dropout: float = 0.4) -> None:
        super().__init__()
        check_int(size, "size", 2 ** len(widths))
        layers, channels = [], 3
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(channels, w, 4, stride=2, padding=1)]
            if i:
                layers += [nn.BatchNorm2d(w)]
            layers += [nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            channels = w
        side = size // 2 ** len(widths)
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(channels * side * side, 1)
        self.widths, self.size, self.dropout = tuple(widths), size, dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[-2:]) != (self.size, self.size):
            raise ValueError(f"the discriminator was built for {self.size}x{self.size} images, got {tuple(x.shape)}")
        return self.out(self.features(x * 2 - 1).flatten(1))[:, 0]

    def settings(self) -> dict:
        return {"widths": list(self.widths), "size": self.size, "dropout": self.dropout}


def build_generator(settings: dict) -> nn.Module:
    """The generator of ``settings`` (a generator's :meth:`settings`, or a config's ``model`` section)."""
    settings = dict(settings)
    architecture = settings.pop("architecture", None)
    check_choice(architecture, "architecture", ARCHITECTURES)
    kind = {"autoencoder": Autoencoder, "unet": InpaintUNet, "vnet": VNet}[architecture]
    return kind(**settings)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


#: the deployable file of ``faceveil train inpaint`` (``model.pt``)
MODEL_FORMAT = "faceveil-inpaint"
MODEL_FORMAT_VERSION = 1


def save_model(path, model: nn.Module, chip: dict, extra: dict | None = None, half: bool = True):
    """Write a generator: :func:`~faceveil.restore.model_file.save_network` (float16 weights by default)."""
    return save_network(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, model, chip, extra, half)


def load_model(path, map_location="cpu") -> tuple[nn.Module, dict]:
    """The generator (float32, eval mode) and whole payload of a file of :func:`save_model`.

    Raises:
        FileNotFoundError / ValueError: no such file, not an inpainting model, or edited settings.
    """
    return load_network(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, "inpainting model", build_generator, map_location)
