"""LPIPS, AlexNet variant (Zhang, Isola, Efros, Shechtman, Wang 2018; seed 002, Eq. 9)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import torch
from torch import nn

from ._common import _check_min_size, _check_pair, _check_reduction, _existing_file, _reduce

__all__ = ["LPIPSAlex", "load_lpips_alex", "lpips"]

_LPIPS_SHIFT = (-0.030, -0.088, -0.188)  # lpips' ScalingLayer, for inputs in [-1, 1]
_LPIPS_SCALE = (0.458, 0.448, 0.450)
_LPIPS_CHANNELS = (64, 192, 384, 256, 256)
#: smallest side AlexNet's five stages accept: conv1 (11x11, stride 4) maps 31 -> 7 pixels, then the
#: two 3x3 stride-2 max-pools 7 -> 3 -> 1
LPIPS_MIN_SIZE = 31
_LPIPS_WEIGHTS_HELP = (
    "LPIPS needs a state-dict file holding AlexNet's convolutions (torchvision's IMAGENET1K_V1 weights) and "
    "the LPIPS v0.1 'lin' layers (lpips package, lpips/weights/v0.1/alex.pth). Make it once where those "
    "packages are installed: torch.save(lpips.LPIPS(net='alex', version='0.1').state_dict(), 'lpips_alex.pth')"
)


class _LinLayer(nn.Module):
    """lpips' NetLinLayer: a 1x1 convolution to one channel, no bias, at ``model.1``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        # lpips has an (inactive at evaluation) Dropout at model.0; Identity keeps the key names
        self.model = nn.Sequential(nn.Identity(), nn.Conv2d(channels, 1, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _alexnet_stages() -> list[nn.Sequential]:
    """torchvision's AlexNet ``features[0:12]`` cut after each ReLU, original indices kept as names."""
    features = [
        nn.Conv2d(3, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
        nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(),
    ]  # fmt: skip
    bounds = ((0, 2), (2, 5), (5, 8), (8, 10), (10, 12))
    return [nn.Sequential(OrderedDict((str(i), features[i]) for i in range(a, b))) for a, b in bounds]


class LPIPSAlex(nn.Module):
    """LPIPS v0.1 with the AlexNet backbone, laid out as ``lpips.LPIPS(net='alex')``.

    ``d(x, y) = sum_l mean_hw( w_l . (u_l(x) - u_l(y))^2 )`` where ``u_l`` are the five AlexNet ReLU
    outputs normalised to unit length along channels and ``w_l`` the learned 1x1 'lin' weights.
    Inputs (N, C, H, W) in [0, 1] (grey is repeated to RGB) are mapped to [-1, 1] and through lpips'
    ScalingLayer (shift, scale) before the backbone.

    State-dict keys (those of ``lpips.LPIPS(net='alex').state_dict()``): ``net.slice1.0``,
    ``net.slice2.3``, ``net.slice3.6``, ``net.slice4.8``, ``net.slice5.10`` (``.weight`` and
    ``.bias``: torchvision's ``features.0/3/6/8/10``) and ``lin0.model.1.weight`` ...
    ``lin4.model.1.weight`` (lpips' ``alex.pth``). lpips' extra keys ``scaling_layer.shift/scale``
    (fixed constants, built in here) and ``lins.<i>.model.1.weight`` (aliases of ``lin<i>``) are
    accepted.
    """

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Module()
        for i, stage in enumerate(_alexnet_stages(), start=1):
            self.net.add_module(f"slice{i}", stage)
        for i, channels in enumerate(_LPIPS_CHANNELS):
            self.add_module(f"lin{i}", _LinLayer(channels))
        self.register_buffer("shift", torch.tensor(_LPIPS_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_LPIPS_SCALE).view(1, 3, 1, 1), persistent=False)
        self.eval()

    def _features(self, images: torch.Tensor) -> list[torch.Tensor]:
        h = ((2 * images.expand(-1, 3, -1, -1) - 1) - self.shift) / self.scale
        out = []
        for i in range(1, len(_LPIPS_CHANNELS) + 1):
            h = getattr(self.net, f"slice{i}")(h)
            out.append(h / (torch.sqrt(h.pow(2).sum(1, keepdim=True)) + 1e-10))  # lpips.normalize_tensor
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """LPIPS distance per pair: (N, C, H, W) x 2 in [0, 1] -> (N,), >= 0, 0 for identical images."""
        distance = x.new_zeros(x.shape[0])
        for i, (fx, fy) in enumerate(zip(self._features(x), self._features(y))):
            distance = distance + getattr(self, f"lin{i}")((fx - fy) ** 2).mean(dim=(1, 2, 3))
        return distance


def load_lpips_alex(path: str | Path) -> LPIPSAlex:
    """Load :class:`LPIPSAlex` from a state-dict file (keys in the class docstring), on the CPU, in eval mode.

    Raises ``ValueError`` for ``None`` or a file without the expected tensors and ``FileNotFoundError``
    for a missing file; both messages say how to make the file.
    """
    path = _existing_file(path, "lpips", _LPIPS_WEIGHTS_HELP)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for non-checkpoint files
        raise ValueError(f"lpips: cannot read {path} as a torch state dict ({err}). {_LPIPS_WEIGHTS_HELP}") from err
    if not isinstance(state, dict):
        raise ValueError(f"lpips: {path} holds a {type(state).__name__}, expected a state dict. {_LPIPS_WEIGHTS_HELP}")
    # lpips' own state dict also holds its constants, and each lin layer a second time as lins.<i>
    state = {
        ("lin" + k[len("lins.") :] if k.startswith("lins.") else k): v
        for k, v in state.items()
        if not k.startswith("scaling_layer.")
    }
    model = LPIPSAlex()
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ValueError(
            f"lpips: {path} has missing keys {missing} and unexpected keys {unexpected}. {_LPIPS_WEIGHTS_HELP}"
        )
    try:
        model.load_state_dict(state)
    except RuntimeError as err:  # shape mismatches
        raise ValueError(f"lpips: {path} does not fit LPIPS-AlexNet: {err}") from err
    return model


def lpips(
    x: torch.Tensor, y: torch.Tensor, weights: str | Path | LPIPSAlex | None, reduction: str = "none"
) -> torch.Tensor:
    """LPIPS perceptual distance with the AlexNet backbone (seed 002, Eq. 9; Zhang et al. 2018).

    Args:
        x, y: (N, C, H, W) images in [0, 1], H and W >= 31; grey images are repeated to RGB.
        weights: path of the weights file (see :class:`LPIPSAlex` for its keys and
            :func:`load_lpips_alex`), or an already loaded :class:`LPIPSAlex` (faster when called often).
        reduction: ``"none"`` -> (N,), ``"mean"`` -> 0-d tensor.

    Returns:
        Distances >= 0; 0 for identical images. Computed on the model's device and dtype.
    """
    _check_pair(x, y)
    _check_reduction(reduction)
    _check_min_size(*x.shape[-2:], LPIPS_MIN_SIZE, "lpips", "AlexNet's five stages")
    model = weights if isinstance(weights, LPIPSAlex) else load_lpips_alex(weights)
    p = next(model.parameters())
    return _reduce(model(x.to(p), y.to(p)), reduction)
