"""The three orthonormal domains where the DP mechanisms add noise: Haar wavelets (RDP), pixels
(Pixel-DP) and the 2-D DCT (DCT-DP).

A domain maps a batch of images (N, C, H, W) to flat coefficient vectors (N, M_P) (seed 004's
``C-bar``, Table I) and back. :meth:`Domain.pullback` maps the gradient of a function with respect to
the pixels to its gradient with respect to the coefficients: the adjoint of :meth:`Domain.inverse`.
For an orthonormal transform T with cropping (the Haar padding rule), ``P = crop(T^T C)`` so
``dF/dC = T(pad0(dF/dP))``: the forward transform of the zero-padded gradient images.
"""

from __future__ import annotations

import abc
import math

import torch
import torch.nn.functional as F

from ..._checks import check_images, check_int
from .dct import dct2d, inverse_dct2d
from .wavelet import check_levels, haar2d_unchecked, inverse_haar2d, padded_size, window_positions

DOMAIN_NAMES = ("haar", "pixel", "dct")


class Domain(abc.ABC):
    """An orthonormal coefficient domain for images of shape (C, H, W)."""

    name: str = ""

    @abc.abstractmethod
    def coefficient_shape(self, image_shape: tuple[int, int, int]) -> tuple[int, int, int]:
        """Shape (C, H', W') of the coefficient array of one image of ``image_shape`` (C, H, W)."""

    @abc.abstractmethod
    def _forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> coefficient arrays (N, C, H', W')."""

    @abc.abstractmethod
    def _inverse(self, arrays: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Coefficient arrays (N, C, H', W') -> images (N, C, H, W) of spatial ``size``."""

    @abc.abstractmethod
    def coefficient_bound(self, image_shape: tuple[int, int, int]) -> float:
        """An upper bound on |coefficient| for images of ``image_shape`` with pixels in [0, 1]."""

    def key(self) -> str:
        """Identity of the domain and its settings (recorded with every result)."""
        return self.name

    #: the side of the aligned pixel blocks that hold every basis function (None: global basis functions)
    block: int | None = None

    def window_positions(self, image_shape: tuple[int, int, int], top: int, left: int,
                         window: tuple[int, int]) -> torch.Tensor:
        """Natural indices (C * h * w,) into the coefficients of an image of ``image_shape`` of the
        coefficients of a ``window`` (h, w) at (``top``, ``left``), in the order of :meth:`forward` of the
        window; the window must be aligned to :attr:`block` (local domains only)."""
        if self.block is None:
            raise ValueError(f"the {self.name} domain has global basis functions: it has no windows")
        channels, ph, pw = self.coefficient_shape(tuple(image_shape))
        one = window_positions(int(math.log2(self.block)), top, left, window, (ph, pw))
        return (torch.arange(channels)[:, None] * (ph * pw) + one[None, :]).flatten()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Flat coefficient vectors (N, M_P) of images (N, C, H, W), M_P = C * H' * W'."""
        check_images(images)
        return self._forward(images).flatten(1)

    def inverse(self, coefficients: torch.Tensor, image_shape: tuple[int, int, int]) -> torch.Tensor:
        """Images (N, C, H, W) from flat coefficient vectors (N, M_P); not clamped to [0, 1]."""
        shape = self.coefficient_shape(tuple(image_shape))
        if coefficients.ndim != 2 or coefficients.shape[1] != math.prod(shape):
            raise ValueError(f"coefficients for images of shape {tuple(image_shape)} must have shape "
                             f"(N, {math.prod(shape)}), got {tuple(coefficients.shape)}")
        return self._inverse(coefficients.reshape(-1, *shape), tuple(image_shape[1:]))

    def add_coefficients(self, images: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor,
                         values: torch.Tensor) -> torch.Tensor:
        """``images`` (N, C, H, W) plus the inverse transform of a sparse change of their coefficients:
        ``values[t]`` added to coefficient ``cols[t]`` (natural flat index) of image ``rows[t]``. The
        transform is linear, so this is the released image of a mechanism that changed those coefficients.
        Here by one dense inverse; local domains override it with the changed blocks only."""
        change = torch.zeros(images.shape[0], math.prod(self.coefficient_shape(tuple(images.shape[1:]))),
                             dtype=torch.float64)
        change[rows, cols] = values.double()
        return images + self.inverse(change, tuple(images.shape[1:])).to(images.dtype)

    def pullback(self, pixel_gradients: torch.Tensor) -> torch.Tensor:
        """Gradients with respect to the pixels (M, C, H, W) -> with respect to the coefficients (M, M_P)."""
        check_images(pixel_gradients, "pixel_gradients")
        _, ph, pw = self.coefficient_shape(tuple(pixel_gradients.shape[1:]))
        height, width = pixel_gradients.shape[-2:]
        padded = F.pad(pixel_gradients, (0, pw - width, 0, ph - height))  # adjoint of the crop
        return self._forward(padded).flatten(1)


class HaarDomain(Domain):
    """Orthonormal multi-level Haar wavelets (:mod:`faceveil.protect.dp.wavelet`), the domain of RDP."""

    name = "haar"

    def __init__(self, levels: int = 3) -> None:
        check_int(levels, "levels", 1)
        self.levels = levels

    def key(self) -> str:
        return f"haar-L{self.levels}"

    @property
    def block(self) -> int:
        return 2**self.levels

    def coefficient_shape(self, image_shape):
        c, h, w = image_shape
        check_levels(self.levels, h, w)
        return (c, *padded_size(h, w, self.levels))

    def _forward(self, images):
        return haar2d_unchecked(images, self.levels)  # forward() and pullback() check the pixels once

    def _inverse(self, arrays, size):
        return inverse_haar2d(arrays, self.levels, size)

    def add_coefficients(self, images, rows, cols, values):
        """Each Haar basis function is +-1/s on one aligned s x s block (s = 2**level): the changed
        coefficients are added to their blocks directly, and every other pixel stays bit-identical (no
        round trip through the transform). Exact; memory of the changed blocks only."""
        out = images.clone(memory_format=torch.contiguous_format)
        channels, height, width = images.shape[1:]
        _, ph, pw = self.coefficient_shape(tuple(images.shape[1:]))
        channel, position = cols // (ph * pw), cols % (ph * pw)
        i, j = position // pw, position % pw
        level = torch.full_like(i, self.levels)  # the coarse approximation
        for lv in range(self.levels, 0, -1):  # a detail of level lv lies outside the level-lv approximation
            detail = (i < ph >> (lv - 1)) & (j < pw >> (lv - 1)) & ((i >= ph >> lv) | (j >= pw >> lv))
            level = torch.where(detail, lv, level)
        flat = out.view(-1)
        for lv in range(1, self.levels + 1):
            mine = level == lv
            if not bool(mine.any()):
                continue
            side = 2**lv
            low_i, low_j = i[mine] >= ph >> lv, j[mine] >= pw >> lv  # H and D rows, V and D columns
            top = (i[mine] - (ph >> lv) * low_i) << lv
            left = (j[mine] - (pw >> lv) * low_j) << lv
            half = torch.arange(side) >= side // 2
            sign = torch.where(half, -1.0, 1.0)
            ones = torch.ones(side)
            # the four patterns [approximation, V, H, D]: +-1/side on the block
            patterns = torch.stack([torch.outer(r, c) for r, c in ((ones, ones), (ones, sign), (sign, ones),
                                                                   (sign, sign))]) / side
            band = low_i.long() * 2 + low_j.long()
            base = ((rows[mine] * channels + channel[mine]) * height + top) * width + left
            offsets = torch.arange(side)[:, None] * width + torch.arange(side)[None, :]
            index = base[:, None, None] + offsets
            amount = values[mine].double()[:, None, None] * patterns[band]
            if int((top + side).max()) > height or int((left + side).max()) > width:  # blocks in the padding
                dy = torch.arange(side)
                keep = (((top[:, None, None] + dy[None, :, None]) < height)
                        & ((left[:, None, None] + dy[None, None, :]) < width))
                index, amount = index[keep], amount[keep]
            flat.index_put_((index.reshape(-1),), amount.reshape(-1).to(out.dtype), accumulate=True)
        return out

    def coefficient_bound(self, image_shape):
        # an approximation coefficient is a sum of 4**L pixels divided by 2**L; details are smaller
        return float(2**self.levels)


class PixelDomain(Domain):
    """The identity transform: Pixel-DP adds noise to the pixels themselves."""

    name = "pixel"
    block = 1

    def coefficient_shape(self, image_shape):
        return tuple(image_shape)

    def _forward(self, images):
        return images

    def _inverse(self, arrays, size):
        return arrays

    def add_coefficients(self, images, rows, cols, values):
        out = images.clone(memory_format=torch.contiguous_format)
        out.view(images.shape[0], -1).index_put_((rows, cols), values.to(out.dtype), accumulate=True)
        return out

    def coefficient_bound(self, image_shape):
        return 1.0


class DCTDomain(Domain):
    """The orthonormal 2-D DCT-II of each channel (:mod:`faceveil.protect.dp.dct`), the domain of DCT-DP."""

    name = "dct"

    def coefficient_shape(self, image_shape):
        return tuple(image_shape)

    def _forward(self, images):
        return dct2d(images)

    def _inverse(self, arrays, size):
        return inverse_dct2d(arrays)

    def coefficient_bound(self, image_shape):
        # |<basis, x>| <= ||basis||_1 max|x| <= sqrt(H W) for a unit-norm basis vector of H W entries
        return math.sqrt(image_shape[1] * image_shape[2])


def make_domain(name: str, levels: int = 3) -> Domain:
    """``"haar"`` (with ``levels``), ``"pixel"`` or ``"dct"``."""
    if name == "haar":
        return HaarDomain(levels)
    if name == "pixel":
        return PixelDomain()
    if name == "dct":
        return DCTDomain()
    raise ValueError(f"unknown domain {name!r}; expected one of {', '.join(DOMAIN_NAMES)}")
