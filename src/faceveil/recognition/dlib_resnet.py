"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) in pure PyTorch.

The network of ``dlib/examples/dnn_face_recognition_ex.cpp``: a 7x7/2 convolution and a 3x3/2 max pool,
14 residual blocks (32, 64, 128, 256 channels), a global average pool and a 128-D linear layer without
bias. dlib's conventions are reproduced exactly:

* input ``(pixel - mean) / 256`` per channel, the means read from the model file;
* every convolution is followed by a frozen batch norm (dlib's ``affine``), folded here into the
  convolution's weights and bias (equal up to float rounding);
* convolutions and pools pad ``size // 2`` at stride 1 and nothing at stride 2, pools drop the last
  row/column that does not fill a window (floor);
* a downsampling block adds a 2x2 average pool of its input to its stride-2 branch. The two differ in
  channels (32 vs 64, ...) and, for odd sizes, in rows and columns (4x4 vs 3x3, 2x2 vs 1x1): dlib's
  ``add_prev`` zero-pads the smaller tensor at the end of each dimension (:func:`dlib_add`).

The weights are converted from the installed ``.dat`` file on first use
(:mod:`faceveil.recognition.dlib_serialization`) and cached as a torch state dict in
:func:`faceveil.paths.cache_dir`. Parity with dlib, speed and the validation: ``docs/dlib_torch.md``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_device, check_images
from ..faces.jitter import jitter_chips
from ..faces.torch_align import face_chips
from ..model_files import dlib_model_path
from ..paths import cache_dir
from .base import AlignmentSpec, Embedder
from .cache import content_digest
from .dlib_native import DLIB_COSINE_THRESHOLD
from .dlib_serialization import Affine, Conv, DlibFormatError, FullyConnected, Layer, Pool, RgbInput, read_network_file

#: (output channels, downsampling) of the residual blocks from input to output (dlib's alevel4 ... alevel0)
BLOCKS = (
    ((32, False),) * 3
    + ((64, True),) + ((64, False),) * 3
    + ((128, True),) + ((128, False),) * 2
    + ((256, True),) + ((256, False),) * 2
    + ((256, True),)
)
#: dlib layers of each part of the network in forward order (the declaration read by the parser)
STEM_LAYERS = ("con", "affine", "relu", "max_pool")
RESIDUAL_LAYERS = ("tag1", "con", "affine", "relu", "con", "affine", "add_prev1", "relu")
DOWNSAMPLING_LAYERS = ("tag1", "con", "affine", "relu", "con", "affine", "tag2", "skip1", "avg_pool", "add_prev2", "relu")
HEAD_LAYERS = ("avg_pool", "fc")
#: dlib's pools in forward order as (mode, size, stride, padding); size (0, 0) is the global pool
EXPECTED_POOLS = (
    [("max", (3, 3), (2, 2), (0, 0))]
    + [("avg", (2, 2), (2, 2), (0, 0))] * sum(down for _, down in BLOCKS)
    + [("avg", (0, 0), (1, 1), (0, 0))]
)
INPUT_SIZE = (150, 150)
EMBEDDING_DIM = 128
#: bumped whenever the layout of the cached state dict changes
CACHE_FORMAT = 1


def layer_stack() -> list[str]:
    """dlib's declaration of the network from the output down to the input (what the file nests)."""
    forward = ["input_rgb_image_sized", *STEM_LAYERS]
    for _, down in BLOCKS:
        forward += DOWNSAMPLING_LAYERS if down else RESIDUAL_LAYERS
    forward += [*HEAD_LAYERS, "loss_metric"]
    return forward[::-1]


def dlib_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev``: the sum of two (N, C, H, W) tensors, each zero-padded at the end of C, H
    and W to the larger of the two sizes."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:]))
    return _pad_to(a, c, h, w) + _pad_to(b, c, h, w)


def _pad_to(x: torch.Tensor, c: int, h: int, w: int) -> torch.Tensor:
    return F.pad(x, (0, w - x.shape[3], 0, h - x.shape[2], 0, c - x.shape[1]))


class ResidualBlock(nn.Module):
    """dlib's ``ares`` (identity skip) or ``ares_down`` (stride-2 branch, 2x2 average-pool skip).

    ``relu(skip(x) + conv2(relu(conv1(x))))`` with the sum of :func:`dlib_add`. Input (N, in, H, W);
    output (N, out, H, W), or (N, out, H // 2, W // 2) when downsampling: the pooled skip has
    H // 2 rows, the unpadded stride-2 branch (H - 1) // 2, zero-padded to H // 2.
    """

    def __init__(self, in_channels: int, out_channels: int, downsample: bool) -> None:
        super().__init__()
        self.downsample = downsample
        stride, padding = (2, 0) if downsample else (1, 1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branch = self.conv2(F.relu(self.conv1(x)))
        skip = F.avg_pool2d(x, 2, 2) if self.downsample else x
        return F.relu(dlib_add(skip, branch))


class DlibResNet(nn.Module):
    """dlib's face-recognition ResNet: chips (N, 3, 150, 150) float RGB in [0, 1] -> raw embeddings
    (N, 128) float, dlib's raw descriptors (not normalised; norms 1.3-1.6 on LFW faces).

    Build it with :func:`load_dlib_resnet`; a bare instance has random weights.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean_rgb", torch.tensor([122.782, 117.001, 104.298]).view(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, 32, 7, 2, 0)
        blocks, channels = [], 32
        for out_channels, down in BLOCKS:
            blocks.append(ResidualBlock(channels, out_channels, down))
            channels = out_channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(channels, EMBEDDING_DIM, bias=False)

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips * 255.0 - self.mean_rgb) / 256.0
        x = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def state_dict_from_layers(layers: Sequence[Layer], source: str = "the model") -> dict[str, torch.Tensor]:
    """State dict of :class:`DlibResNet` from dlib's layers in forward order (``read_network``'s result).

    Checks every convolution and pool against the PyTorch module (shapes, strides, paddings) and
    folds each ``affine`` into the convolution before it. Raises :class:`DlibFormatError` (a
    ``ValueError``) naming the first layer that does not match.
    """
    model = DlibResNet()
    (rgb_input,) = [layer for layer in layers if isinstance(layer, RgbInput)]
    convs = [layer for layer in layers if isinstance(layer, Conv)]
    affines = [layer for layer in layers if isinstance(layer, Affine)]
    pools = [(p.mode, p.size, p.stride, p.padding) for p in layers if isinstance(p, Pool)]
    (fc,) = [layer for layer in layers if isinstance(layer, FullyConnected)]
    modules = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if rgb_input.size != INPUT_SIZE:
        raise DlibFormatError(f"{source}: input size {rgb_input.size} is not dlib's {INPUT_SIZE}")
    if pools != EXPECTED_POOLS:
        raise DlibFormatError(f"{source}: pooling layers {pools} differ from dlib's ResNet {EXPECTED_POOLS}")
    if len(convs) != len(modules) or len(affines) != len(convs):
        raise DlibFormatError(f"{source}: {len(convs)} convolutions and {len(affines)} affine layers, expected {len(modules)} each")
    state: dict[str, torch.Tensor] = {"mean_rgb": torch.tensor(rgb_input.mean_rgb, dtype=torch.float32).view(1, 3, 1, 1)}
    for (name, module), conv, affine in zip(modules, convs, affines):
        found = (conv.filters.shape, conv.stride, conv.padding, conv.bias is not None, affine.gamma.shape, affine.conv_mode)
        expected = (tuple(module.weight.shape), module.stride, module.padding, True, (module.out_channels,), True)
        if found != expected:
            raise DlibFormatError(f"{source}: layer {name} (filters, stride, padding, bias, affine gamma, affine per channel) "
                             f"is {found}, expected {expected}")
        gamma = affine.gamma.astype(np.float64)
        state[f"{name}.weight"] = torch.from_numpy((conv.filters * gamma[:, None, None, None]).astype(np.float32))
        state[f"{name}.bias"] = torch.from_numpy((conv.bias * gamma + affine.beta).astype(np.float32))
    if fc.bias is not None or fc.weights.shape != tuple(model.fc.weight.shape[::-1]):
        raise DlibFormatError(f"{source}: final fc layer has shape {fc.weights.shape} (bias: {fc.bias is not None}), "
                         f"expected {tuple(model.fc.weight.shape[::-1])} without bias")
    state["fc.weight"] = torch.from_numpy(np.ascontiguousarray(fc.weights.T))
    model.load_state_dict(state)  # strict: every parameter was set
    return state


def convert_dlib_model(weights: str | Path) -> dict[str, torch.Tensor]:
    """Read a dlib ``.dat`` model file and return the :class:`DlibResNet` state dict (no caching).

    Raises ``FileNotFoundError`` if it does not exist and
    :class:`~faceveil.recognition.dlib_serialization.DlibFormatError` (a ``ValueError``) if it is not
    dlib's face-recognition ResNet.
    """
    return state_dict_from_layers(read_network_file(weights, layer_stack()), str(weights))


def cached_state_dict(weights: str | Path) -> dict[str, torch.Tensor]:
    """The converted state dict of ``weights``, from the cache when it holds this file's conversion.

    The cache file ``dlib_resnet_v1-<sha1>.pt`` in :func:`faceveil.paths.cache_dir` is written
    atomically; a damaged or outdated one is rebuilt.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"dlib model file not found: {weights}")
    digest = content_digest(weights)
    path = cache_dir() / f"dlib_resnet_v1-{digest[:16]}.pt"
    if path.is_file():
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
            if payload["format"] == CACHE_FORMAT and payload["source_sha1"] == digest:
                return payload["state_dict"]
        except Exception:  # noqa: BLE001 - any unreadable cache file is rebuilt below
            pass
    state = convert_dlib_model(weights)
    _save_atomically({"format": CACHE_FORMAT, "source_sha1": digest, "state_dict": state}, path)
    return state


def _save_atomically(payload: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(payload, fh)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def load_dlib_resnet(weights: str | Path | None = None) -> DlibResNet:
    """dlib's ResNet with pretrained weights, in eval mode on the CPU.

    Args:
        weights: a dlib ``dlib_face_recognition_resnet_model_v1.dat``; default: the one shipped by
            the ``face_recognition_models`` package (``FileNotFoundError`` if it is not installed).
    """
    model = DlibResNet()
    model.load_state_dict(cached_state_dict(weights if weights is not None else dlib_model_path("resnet")))
    return model.eval()


class DlibTorchEmbedder(Embedder):
    """The dlib ResNet judge in PyTorch: same embeddings as :class:`~faceveil.recognition.dlib_native.DlibEmbedder`
    (cosine >= 0.9999), batched, on any device, and differentiable.

    Args:
        flip: average the raw embeddings of each chip and of its mirror image.
        device: torch device of the network (``"cpu"``, ``"cuda"``, ...).
        batch_size: chips per forward pass in :meth:`embed_raw`.
        weights: the dlib ``.dat`` file; default: the one of ``face_recognition_models``.
        jitter: like dlib's ``num_jitters``: for k > 1, the mean raw embedding of k randomly jittered
            copies of each chip (:func:`faceveil.faces.jitter.jitter_chips`); 0 or 1: the chip itself.
        seed: seed of the jitter generator (the same chips in the same batches give the same output).

    The network's parameters are frozen (``requires_grad=False``); gradients flow to the inputs of
    :meth:`forward_with_grad` and :meth:`embed_faces`. ``module`` is the :class:`DlibResNet` itself.
    """

    name = "dlib-torch"
    dim = EMBEDDING_DIM
    alignment = AlignmentSpec(INPUT_SIZE, "dlib-chip", 0.25)
    verification_threshold = DLIB_COSINE_THRESHOLD

    def __init__(self, flip: bool = False, device: str | torch.device = "cpu", batch_size: int = 64,
                 weights: str | Path | None = None, jitter: int = 0, seed: int = 0) -> None:
        super().__init__(flip)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        if not isinstance(jitter, int) or jitter < 0:
            raise ValueError(f"jitter must be an integer >= 0, got {jitter!r}")
        self.jitter, self.seed = jitter, int(seed)
        self.device = check_device(device)
        self.batch_size = batch_size
        self.weights = Path(weights) if weights is not None else dlib_model_path("resnet")
        module = load_dlib_resnet(self.weights).requires_grad_(False)
        self.module = module.to(self.device, memory_format=torch.channels_last)
        self._weights_digest = content_digest(self.weights)

    def model_key(self) -> str:
        jitter = f"|jitter={self.jitter}|seed={self.seed}" if self.jitter > 1 else ""
        return f"dlib-torch:{self._weights_digest[:12]}{jitter}"

    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        if self.jitter > 1:
            generator = torch.Generator().manual_seed(self.seed)
            jittered = jitter_chips(chips, self.jitter, generator)
            return self._forward(jittered.flatten(0, 1)).view(len(chips), self.jitter, -1).mean(1)
        return self._forward(chips)

    def _forward(self, chips: torch.Tensor) -> torch.Tensor:
        out = []
        with torch.inference_mode():
            for batch in chips.split(self.batch_size):
                x = batch.to(self.device, torch.float32).contiguous(memory_format=torch.channels_last)
                out.append(self.module(x).float().cpu())
        return torch.cat(out)

    def forward_with_grad(self, chips: torch.Tensor) -> torch.Tensor:
        """Raw embeddings (N, 128) of chips (N, 3, 150, 150) in [0, 1], on ``device``, differentiable
        with respect to ``chips`` (no flip averaging, not normalised)."""
        check_images(chips, "chips")
        if chips.shape[1] != 3 or tuple(chips.shape[-2:]) != INPUT_SIZE:
            raise ValueError(f"chips must have shape (N, 3, {INPUT_SIZE[0]}, {INPUT_SIZE[1]}), got {tuple(chips.shape)}")
        return self.module(chips.to(self.device, torch.float32))

    def embed_faces(self, images: torch.Tensor, landmarks: torch.Tensor | np.ndarray, quantize: bool = True) -> torch.Tensor:
        """The differentiable path photo + landmarks -> dlib chip -> raw embedding.

        Args:
            images: photos (N, 3, H, W) in [0, 1].
            landmarks: dlib's 5 landmarks (N, 5, 2) in pixel coordinates (x, y).
            quantize: reproduce dlib's 8-bit chips exactly (see :func:`faceveil.faces.torch_align.face_chips`).

        Returns:
            Raw embeddings (N, 128) on ``device``, differentiable with respect to ``images``.
        """
        spec = self.alignment
        chips = face_chips(images.to(self.device), landmarks, spec.size[0], spec.padding, quantize)
        return self.forward_with_grad(chips)
