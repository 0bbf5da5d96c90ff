"""SpT UNet and SpT UNet-B (Wang, Wang and Gu 2023, Figs. 1-3), the transformer U-Nets that reconstruct a
binary face from its speckle.

The paper fixes the structure and leaves the widths out; the choices here are stated where made:

* **Blocks.** A stem convolution, three encoder levels (a transformer encoder block, then puffed
  down-sampling to twice the channels at half the size), a bottleneck encoder block, three decoder levels
  (leaky up-sampling to half the channels at twice the size, then a transformer decoder block), a 1 x 1
  head and a sigmoid. Encoder block: x + MHA(BN(x)), then x + FFN(BN(x)) (pre-batch-norm, residuals).
  Decoder block: x + MHA(BN(x)), x + MHCA(query, BN(x)), x + FFN(BN(x)); the query of the first (deepest)
  decoder block is the embedded label, those of the other two the encoder's skip features (the paper).
* **Attention (Eq. 1).** softmax(Q K^T / d_k) V with Q, K in R^(d_model x d_k x d_k): the dot product runs
  over the d_k x d_k feature-map entries, so dividing by d_k is the usual 1 / sqrt(dimension). With
  ``tokens="channels"`` (the default) the d_model channels are the tokens and each head attends among its
  channels' maps (cost linear in the pixels, as the paper's FLOP counts grow; Restormer's transposed
  attention has this form); ``tokens="pixels"`` makes the pixels the tokens (ViT-style, quadratic: small
  inputs only). Q, K, V and W^O are 1 x 1 convolutions (Eq. 2, 3).
* **Embedded label.** A learned vector per channel plus the position encoding, as DETR's object queries:
  the paper feeds "the embedded label" as the first query, and the true label does not exist at test time.
* **Position encoding (Eq. 4)** is added to the normalised maps that form queries and keys: half of the
  channels encode x and half y, f(t, k) = sin(t / 1000^(2i / (d/2))) for even k = 2i and cos for odd k
  (the equation as printed, 1000^k, vanishes beyond k = 1; this is its standard reading with base 1000).
* **Puffed down-sampling** (Fig. 2): conv-BN-ReLU C -> 4C, 4C -> 4C, 2 x 2 max-pool, 4C -> 4C, 4C -> 2C.
  **Leaky up-sampling** (Fig. 3): C -> C/2, C/2 -> C/4, bilinear x 2, C/4 -> C/2, C/2 -> C/2.
  3 x 3 convolutions; SpT UNet-B makes the first and third of each 1 x 1 ("the bottleneck for the first
  and third convolution layers"), halves the FFN expansion and the heads.

``base_channels`` 26 (2 heads, FFN x 4) gives 7.07 M parameters (SpT UNet; the paper 6.6 M, +7 %) and
4.22 M with the B settings (1 head, FFN x 2, bottleneck sampling; the paper 4.0 M, +6 %); 24 would give
6.02 M and 3.60 M (-9 %, -10 %), and odd widths cannot be halved into two heads. ``spt_unet(variant)``
builds either.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..._checks import check_choice, check_int
from ...nn.dense_fcn import DenseFCN
from ...nn.unet import UNet
from ..model_file import load_network, save_network

TOKEN_AXES = ("channels", "pixels")


def position_encoding(channels: int, height: int, width: int, base: float = 1000.0, device=None,
                      dtype=torch.float32) -> torch.Tensor:
    """The 2-D sinusoidal position encoding of Eq. 4: (channels, height, width). Channels [0, C/2) encode
    the column x, [C/2, C) the row y; in each half, channel k = 2i is sin(t / base^(2i / half)) and
    k = 2i + 1 is cos(t / base^(2i / half))."""
    half = channels // 2
    k = torch.arange(half, device=device, dtype=torch.float64)
    rate = base ** (-(2 * torch.div(k, 2, rounding_mode="floor")) / max(half, 1))
    odd = (k % 2 == 1)

    def encode(t: torch.Tensor) -> torch.Tensor:  # (L,) -> (half, L)
        angle = rate[:, None] * t[None].to(torch.float64)
        return torch.where(odd[:, None], torch.cos(angle), torch.sin(angle))

    x = encode(torch.arange(width, device=device))[:, None, :].expand(half, height, width)
    y = encode(torch.arange(height, device=device))[:, :, None].expand(half, height, width)
    out = torch.zeros(channels, height, width, dtype=torch.float64, device=device)
    out[:half], out[half:2 * half] = x, y
    return out.to(dtype)


class Attention(nn.Module):
    """Multi-head (cross-)attention of Eq. 1-3 on feature maps: query (N, C, H, W) attends over context
    (N, C, H, W) (the same shape; self-attention when they are the same tensor); output (N, C, H, W).

    Args:
        channels: d_model; heads: H (divides ``channels``); tokens: "channels" or "pixels" (module docstring).
    """

    def __init__(self, channels: int, heads: int, tokens: str = "channels") -> None:
        super().__init__()
        check_int(heads, "heads", 1)
        if channels % heads:
            raise ValueError(f"{heads} heads do not divide {channels} channels")
        self.heads, self.tokens = heads, check_choice(tokens, "tokens", TOKEN_AXES)
        self.q, self.k, self.v, self.out = (nn.Conv2d(channels, channels, 1) for _ in range(4))

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        n, c, h, w = context.shape
        if query.shape != context.shape:
            raise ValueError(f"query {tuple(query.shape)} and context {tuple(context.shape)} must match")
        split = lambda t: t.reshape(n, self.heads, c // self.heads, h * w)  # noqa: E731
        q, k, v = split(self.q(query)), split(self.k(context)), split(self.v(context))
        if self.tokens == "pixels":
            q, k, v = q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        mixed = weights @ v
        if self.tokens == "pixels":
            mixed = mixed.transpose(-1, -2)
        return self.out(mixed.reshape(n, c, h, w))


def _ffn(channels: int, expansion: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(channels, channels * expansion, 1), nn.GELU(),
                         nn.Conv2d(channels * expansion, channels, 1))


class EncoderBlock(nn.Module):
    """x + MHA(BN(x) + P) (queries and keys with the position encoding P), then x + FFN(BN(x))."""

    def __init__(self, channels: int, heads: int, expansion: int, tokens: str) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.BatchNorm2d(channels), nn.BatchNorm2d(channels)
        self.attention = Attention(channels, heads, tokens)
        self.ffn = _ffn(channels, expansion)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(x)
        y = y + position_encoding(*y.shape[1:], device=y.device, dtype=y.dtype)
        x = x + self.attention(y, y)
        return x + self.ffn(self.norm2(x))


class DecoderBlock(nn.Module):
    """x + MHA(BN(x)), x + MHCA(query, BN(x)), x + FFN(BN(x)); ``query`` None: the embedded label."""

    def __init__(self, channels: int, heads: int, expansion: int, tokens: str, label: bool) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.BatchNorm2d(channels) for _ in range(3))
        self.norm_query = None if label else nn.BatchNorm2d(channels)
        self.label = nn.Parameter(torch.zeros(1, channels, 1, 1)) if label else None
        self.self_attention = Attention(channels, heads, tokens)
        self.cross_attention = Attention(channels, heads, tokens)
        self.ffn = _ffn(channels, expansion)

    def forward(self, x: torch.Tensor, query: torch.Tensor | None) -> torch.Tensor:
        encode = lambda t: t + position_encoding(*t.shape[1:], device=t.device, dtype=t.dtype)  # noqa: E731
        y = encode(self.norm1(x))
        x = x + self.self_attention(y, y)
        if self.label is not None:
            q = encode(self.label.expand_as(x))
        else:
            q = encode(self.norm_query(query))
        x = x + self.cross_attention(q, encode(self.norm2(x)))
        return x + self.ffn(self.norm3(x))


def _conv(in_channels: int, out_channels: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU())


class PuffedDown(nn.Module):
    """Puffed down-sampling (Fig. 2): C -> 4C -> 4C, max-pool 2, 4C -> 4C -> 2C; (N, C, H, W) ->
    (N, 2C, H/2, W/2). ``bottleneck``: the first and third convolutions 1 x 1 (SpT UNet-B)."""

    def __init__(self, channels: int, bottleneck: bool = False) -> None:
        super().__init__()
        k = 1 if bottleneck else 3
        wide = 4 * channels
        self.expand = nn.Sequential(_conv(channels, wide, k), _conv(wide, wide, 3))
        self.compress = nn.Sequential(_conv(wide, wide, k), _conv(wide, 2 * channels, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.compress(F.max_pool2d(self.expand(x), 2))


class LeakyUp(nn.Module):
    """Leaky up-sampling (Fig. 3): C -> C/2 -> C/4, bilinear to ``size``, C/4 -> C/2 -> C/2; (N, C, h, w) ->
    (N, C/2, H, W). ``bottleneck``: the first and third convolutions 1 x 1 (SpT UNet-B)."""

    def __init__(self, channels: int, bottleneck: bool = False) -> None:
        super().__init__()
        k = 1 if bottleneck else 3
        half, quarter = channels // 2, max(1, channels // 4)
        self.squeeze = nn.Sequential(_conv(channels, half, k), _conv(half, quarter, 3))
        self.expand = nn.Sequential(_conv(quarter, half, k), _conv(half, half, 3))

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        return self.expand(F.interpolate(self.squeeze(x), size=size, mode="bilinear", align_corners=False))


@dataclass(frozen=True)
class SpTSettings:
    """Settings that rebuild an :class:`SpTUNet`.

    Attributes:
        base_channels: channels of the first level (doubling per level; must keep 2 * heads | channels).
        heads: attention heads per block; expansion: FFN width / channels.
        tokens: the attention's token axis ("channels" or "pixels").
        bottleneck: 1 x 1 first and third convolutions in the puffed and leaky sampling (SpT UNet-B).
        in_channels, out_channels: speckle and label channels.
    """

    base_channels: int = 26
    heads: int = 2
    expansion: int = 4
    tokens: str = "channels"
    bottleneck: bool = False
    in_channels: int = 1
    out_channels: int = 1


#: the paper's two models at its sizes (module docstring): SpT UNet and SpT UNet-B
VARIANTS = {"spt-unet": SpTSettings(), "spt-unet-b": SpTSettings(heads=1, expansion=2, bottleneck=True)}

LEVELS = 3


class SpTUNet(nn.Module):
    """SpT UNet: speckle (N, in_channels, H, W) in [0, 1] -> label probabilities (N, out_channels, H, W)
    in (0, 1); H and W divisible by 8."""

    def __init__(self, settings: SpTSettings = SpTSettings()) -> None:
        super().__init__()
        s = settings
        check_int(s.base_channels, "base_channels", 4)
        self.settings_ = s
        widths = [s.base_channels * 2**i for i in range(LEVELS + 1)]
        self.stem = _conv(s.in_channels, widths[0], 3)
        self.encoders = nn.ModuleList(EncoderBlock(widths[i], s.heads, s.expansion, s.tokens) for i in range(LEVELS))
        self.downs = nn.ModuleList(PuffedDown(widths[i], s.bottleneck) for i in range(LEVELS))
        self.middle = EncoderBlock(widths[LEVELS], s.heads, s.expansion, s.tokens)
        self.ups = nn.ModuleList(LeakyUp(widths[i + 1], s.bottleneck) for i in reversed(range(LEVELS)))
        self.decoders = nn.ModuleList(DecoderBlock(widths[i], s.heads, s.expansion, s.tokens, label=i == LEVELS - 1)
                                      for i in reversed(range(LEVELS)))
        self.head = nn.Conv2d(widths[0], s.out_channels, 1)

    def settings(self) -> dict:
        return {"architecture": "spt", **asdict(self.settings_)}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[-1] % 2**LEVELS or x.shape[-2] % 2**LEVELS:
            raise ValueError(f"speckle must be (N, C, H, W) with H and W divisible by {2**LEVELS}, "
                             f"got {tuple(x.shape)}")
        x = self.stem(x)
        skips = []
        for encoder, down in zip(self.encoders, self.downs):
            x = encoder(x)
            skips.append(x)
            x = down(x)
        x = self.middle(x)
        for i, (up, decoder) in enumerate(zip(self.ups, self.decoders)):
            skip = skips[LEVELS - 1 - i]
            x = up(x, tuple(skip.shape[-2:]))
            x = decoder(x, None if i == 0 else skip)
        return torch.sigmoid(self.head(x))


def spt_unet(variant: str = "spt-unet", **overrides) -> SpTUNet:
    """SpT UNet (``"spt-unet"``) or SpT UNet-B (``"spt-unet-b"``) with settings replaced."""
    from dataclasses import replace

    check_choice(variant, "variant", tuple(VARIANTS))
    return SpTUNet(replace(VARIANTS[variant], **overrides))


def npcc_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Negative Pearson correlation (Li et al., Optica 5, 803 (2018)), averaged over the batch: (N, ...) x
    (N, ...) -> scalar in [-1, 1] (-1: a perfect linear match)."""
    p = prediction.flatten(1) - prediction.flatten(1).mean(1, keepdim=True)
    t = target.flatten(1) - target.flatten(1).mean(1, keepdim=True)
    r = (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1)).clamp_min(1e-12)
    return -r.mean()


@dataclass(frozen=True)
class UNetSettings:
    """Settings that rebuild a :class:`SpeckleUNet`: channels of the first level, levels."""

    base_channels: int = 30
    depth: int = 4


class SpeckleUNet(UNet):
    """The baseline: :class:`faceveil.nn.unet.UNet`, one channel in and out (``base_channels`` 30 and depth
    4: 6.8 M parameters, the SpT UNet's budget within 4 %)."""

    def __init__(self, base_channels: int = UNetSettings.base_channels, depth: int = UNetSettings.depth) -> None:
        super().__init__(1, 1, base_channels, depth)
        self.base_channels = base_channels

    def settings(self) -> dict:
        return {"architecture": "unet", "base_channels": self.base_channels, "depth": self.depth}


@dataclass(frozen=True)
class DenseFCNSettings:
    """Settings that rebuild a :class:`SpeckleDenseFCN` (:class:`faceveil.nn.dense_fcn.DenseFCN`)."""

    stem_channels: int = 64
    growth: int = 19
    layers: int = 6
    levels: int = 5


class SpeckleDenseFCN(DenseFCN):
    """The IDiffNet-style baseline: :class:`faceveil.nn.dense_fcn.DenseFCN`, one channel in and out
    (defaults: 6.96 M parameters, the SpT UNet's budget within 2 %; stem 64, growth 12, 4 layers, 5 levels:
    1.48 M, the CPU SpT UNet's)."""

    def __init__(self, stem_channels: int = DenseFCNSettings.stem_channels, growth: int = DenseFCNSettings.growth,
                 layers: int = DenseFCNSettings.layers, levels: int = DenseFCNSettings.levels) -> None:
        super().__init__(1, 1, stem_channels, growth, layers, levels)
        self.settings_ = DenseFCNSettings(stem_channels, growth, layers, levels)

    def settings(self) -> dict:
        return {"architecture": "densenet", **asdict(self.settings_)}


ARCHITECTURES = ("spt", "unet", "densenet")
MODEL_FORMAT, MODEL_FORMAT_VERSION = "faceveil-speckle", 1


def build_network(settings: dict) -> nn.Module:
    """The network of ``settings`` (a network's :meth:`settings`): ``{"architecture": "spt", **SpTSettings}``,
    ``{"architecture": "unet", **UNetSettings}`` or ``{"architecture": "densenet", **DenseFCNSettings}``."""
    settings = dict(settings)
    architecture = settings.pop("architecture", None)
    check_choice(architecture, "architecture", ARCHITECTURES)
    if architecture == "spt":
        return SpTUNet(SpTSettings(**settings))
    return (SpeckleUNet if architecture == "unet" else SpeckleDenseFCN)(**settings)


def save_model(path, model: nn.Module, chip: dict, extra: dict | None = None, half: bool = True):
    """Write a speckle network: :func:`~faceveil.restore.model_file.save_network`."""
    return save_network(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, model, chip, extra, half)


def load_model(path, map_location="cpu") -> tuple[nn.Module, dict]:
    """The network (float32, eval mode) and the payload of a file of :func:`save_model`."""
    return load_network(path, MODEL_FORMAT, MODEL_FORMAT_VERSION, "speckle model", build_network, map_location)
