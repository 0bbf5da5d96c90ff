"""dlib's face chips in PyTorch, differentiable with respect to the photo.

:func:`face_chips` reproduces ``dlib.get_face_chip(img, shape, size, padding)`` for dlib's 5-point
landmarks, following ``dlib/image_transforms/interpolation.h``:

* ``get_face_chip_details``: the 5 landmarks are fitted (least-squares similarity, Umeyama) to dlib's
  mean-face points ``(padding + p) / (1 + 2 padding) * size``; the chip is the square of side
  ``size * scale`` centred on the image of the template point (size/2, size/2), rotated by the
  fitted angle (:func:`chip_geometry`).
* ``extract_image_chips``: chip pixel (0, 0) goes to the square's top-left corner, pixel
  (size-1, size-1) to its bottom-right one (dlib's inclusive rectangles); each chip pixel is a bilinear
  interpolation of its 4 neighbours, or black when one of them is outside the photo.
* when the square is over about twice the chip's side (faces over ~300 px for 150-px chips) dlib first
  shrinks the photo with its ``pyramid_down<2>`` (5x5 binomial filter, stride 2, integer division by
  256), as often as needed, and interpolates in the smaller image; reproduced here with the same crop,
  filter and coordinate mapping. LFW-sized photos never take this path.
* dlib works on 8-bit images: its pyramid and interpolation truncate to integers. With
  ``quantize=True`` (default) the photo is rounded to 8-bit grey levels and every result truncated as
  dlib does, with straight-through gradients (the rounding is ignored by backpropagation); the chips
  then match dlib's bit for bit except for rare float ties. ``quantize=False`` keeps exact bilinear
  values (about 0.5 grey level above dlib's on average) with exact gradients.

The geometry (where the chip is cut) is computed from the landmarks in float64 NumPy, as dlib does in
double precision; it is not differentiable with respect to the landmarks. dlib's shortcut for an
unrotated chip of exactly the face's size (a plain copy, ``angle == 0``) is not reproduced: real
landmarks never give an angle of exactly 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .._checks import check_images

#: dlib's mean face for its 5-point landmarks (x, y in [0, 1]): right eye outer and inner corner, left
#: eye outer and inner corner, bottom of the nose (``get_face_chip_details``)
MEAN_FACE_5 = np.array([
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])
_BINOMIAL_5 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])


@dataclass(frozen=True)
class ChipGeometry:
    """Where dlib cuts a chip (``chip_details``): the square ``rect`` = (left, top, right, bottom) in
    image pixels (inclusive, float), rotated by ``angle`` radians about its centre, sampled on
    ``size`` x ``size`` pixels."""

    rect: tuple[float, float, float, float]
    angle: float
    size: int


def chip_geometry(landmarks: np.ndarray, size: int = 150, padding: float = 0.25) -> ChipGeometry:
    """dlib's ``get_face_chip_details`` for 5 landmarks (5, 2) in pixel coordinates (x, y)."""
    template = (padding + MEAN_FACE_5) / (2 * padding + 1) * size
    points = np.asarray(landmarks, dtype=np.float64)
    src, dst = template - template.mean(0), points - points.mean(0)
    # Umeyama's least-squares similarity from chip to image; in 2-D its rotation and scale have this
    # closed form (the SVD solution, reflections excluded, as in dlib's find_similarity_transform)
    dot = float((src * dst).sum())
    cross = float((src[:, 0] * dst[:, 1] - src[:, 1] * dst[:, 0]).sum())
    scale = math.hypot(dot, cross) / float((src**2).sum())
    angle = math.atan2(cross, dot)
    rotation = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    cx, cy = rotation @ (np.full(2, size / 2.0) - template.mean(0)) + points.mean(0)
    half = (size * scale - 1) / 2  # dlib's centered_drect: inclusive bounds, width = right - left + 1
    return ChipGeometry((cx - half, cy - half, cx + half, cy + half), angle, size)


def _area(rect: tuple[float, float, float, float]) -> float:
    l, t, r, b = rect
    return 0.0 if l > r or t > b else (r - l + 1) * (b - t + 1)


def _rect_down(rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """dlib's ``pyramid_down<2>::rect_down``: corners p -> p / 2 - (1.25, 0.75)."""
    l, t, r, b = rect
    return (l / 2 - 1.25, t / 2 - 0.75, r / 2 - 1.25, b / 2 - 0.75)


def _lround(x: float) -> int:
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _rotate(center: tuple[float, float], point: tuple[float, float], angle: float) -> tuple[float, float]:
    dx, dy = point[0] - center[0], point[1] - center[1]
    c, s = math.cos(angle), math.sin(angle)
    return (c * dx - s * dy + center[0], s * dx + c * dy + center[1])


def _corners(rect: tuple[float, float, float, float], angle: float) -> list[tuple[float, float]]:
    """Top-left, top-right, bottom-left and bottom-right corners of ``rect`` rotated about its centre."""
    l, t, r, b = rect
    center = ((l + r) / 2, (t + b) / 2)
    return [_rotate(center, p, angle) for p in ((l, t), (r, t), (l, b), (r, b))]


@dataclass(frozen=True)
class _SamplingPlan:
    crop: tuple[int, int, int, int]  # (left, top, right, bottom) inclusive, in the photo
    pyramid_levels: int  # pyramid_down<2> steps applied to the crop (dlib's level + 1)
    origin: tuple[float, float]  # where chip pixel (0, 0) falls in the (shrunk) crop
    step_x: tuple[float, float]  # displacement for one chip column
    step_y: tuple[float, float]  # displacement for one chip row


def _sampling_plan(geom: ChipGeometry, height: int, width: int) -> _SamplingPlan | None:
    """dlib's ``extract_image_chips`` for one chip: crop, pyramid depth and chip-to-crop mapping;
    None when the chip lies entirely outside the photo."""
    chip_area = geom.size * geom.size
    grow, rect = 2, _rect_down(geom.rect)
    while _area(rect) > chip_area:
        rect, grow = _rect_down(rect), 2 * grow + 2
    xs, ys = zip(*_corners(geom.rect, geom.angle))
    l, t = max(min(xs) - grow, 0.0), max(min(ys) - grow, 0.0)
    r, b = min(max(xs) + grow, width - 1.0), min(max(ys) + grow, height - 1.0)
    if l > r or t > b:
        return None
    crop = (_lround(l), _lround(t), _lround(r), _lround(b))
    rect = (geom.rect[0] - crop[0], geom.rect[1] - crop[1], geom.rect[2] - crop[0], geom.rect[3] - crop[1])
    levels = 0
    while _area(_rect_down(rect)) > chip_area:
        rect, levels = _rect_down(rect), levels + 1
    tl, tr, bl, _ = _corners(rect, geom.angle)
    n = geom.size - 1
    return _SamplingPlan(crop, levels, tl, ((tr[0] - tl[0]) / n, (tr[1] - tl[1]) / n),
                         ((bl[0] - tl[0]) / n, (bl[1] - tl[1]) / n))


def chip_footprint(landmarks: np.ndarray, height: int, width: int, size: int = 150,
                   padding: float = 0.25) -> tuple[int, int, int, int] | None:
    """The photo pixels the chip of :func:`face_chips` reads: (left, top, right, bottom), inclusive,
    inside a photo of ``height`` x ``width``; None when the chip lies entirely outside it. Every other
    pixel has no influence on the chip."""
    plan = _sampling_plan(chip_geometry(landmarks, size, padding), height, width)
    return None if plan is None else plan.crop


def chip_sampling(landmarks: np.ndarray, height: int, width: int, size: int = 150,
                  padding: float = 0.25) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The chip of :func:`face_chips` (``quantize=False``) as a sparse linear map, when it is one bilinear
    sampling of the photo (no pyramid level: the face is not much larger than the chip).

    Returns (index, weight), each (4, size * size): chip pixel j is ``sum_t weight[t, j] *
    photo[index[t, j]]`` over the flat (H * W) pixels of one channel; None when dlib's pyramid is involved
    (or the chip lies outside the photo), where only autograd gives the map.
    """
    geom = chip_geometry(landmarks, size, padding)
    plan = _sampling_plan(geom, height, width)
    if plan is None or plan.pyramid_levels > 0:
        return None
    l, t, r, b = plan.crop
    h, w = b - t + 1, r - l + 1
    if h < 2 or w < 2:
        return None
    idx = torch.arange(size, dtype=torch.float64)
    row, col = idx[:, None], idx[None, :]
    x = (plan.origin[0] + col * plan.step_x[0] + row * plan.step_y[0]).reshape(-1)
    y = (plan.origin[1] + col * plan.step_x[1] + row * plan.step_y[1]).reshape(-1)
    left, top = x.floor(), y.floor()
    inside = ((left >= 0) & (top >= 0) & (left + 1 < w) & (top + 1 < h)).double()
    lr, tb = x - left, y - top
    li, ti = left.clamp(0, w - 2).long() + l, top.clamp(0, h - 2).long() + t  # as _bilinear clamps, in the photo
    index = torch.stack([ti * width + li, ti * width + li + 1, (ti + 1) * width + li, (ti + 1) * width + li + 1])
    weight = torch.stack([(1 - tb) * (1 - lr), (1 - tb) * lr, tb * (1 - lr), tb * lr]) * inside
    return index, weight


def _straight_through(x: torch.Tensor, rounded: torch.Tensor) -> torch.Tensor:
    """``rounded`` in the forward pass, the identity in the backward pass."""
    return x + (rounded - x).detach()


def pyramid_down(image: torch.Tensor, quantize: bool = True) -> torch.Tensor:
    """dlib's ``pyramid_down<2>`` of grey levels (C, H, W) in [0, 255]: 5x5 binomial filter / 256 at
    stride 2, output (C, (H-3)//2, (W-3)//2); empty when H or W <= 8. ``quantize`` truncates to
    integers as dlib does (straight-through gradient)."""
    c, h, w = image.shape
    if h <= 8 or w <= 8:
        return image.new_zeros(c, 0, 0)
    k1 = _BINOMIAL_5.to(image) / 16.0
    # the 5x5 kernel is separable: rows then columns (10 taps instead of 25, forward and backward; the
    # integer sums of the quantized path stay exact in float64, and k/16 is a power-of-two scaling)
    down = F.conv2d(image[None], k1.reshape(1, 1, 5, 1).expand(c, 1, 5, 1), stride=(2, 1), groups=c)
    down = F.conv2d(down, k1.reshape(1, 1, 1, 5).expand(c, 1, 1, 5), stride=(1, 2), groups=c)[0]
    return _straight_through(down, down.floor()) if quantize else down


def _bilinear(image: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """dlib's ``interpolate_bilinear`` of ``image`` (C, H, W) at float64 points ``x``, ``y`` (P,):
    values (C, P) in float64, 0 where a neighbour is outside the image."""
    c, h, w = image.shape
    left, top = x.floor(), y.floor()
    inside = (left >= 0) & (top >= 0) & (left + 1 < w) & (top + 1 < h)
    lr, tb = x - left, y - top
    li = left.clamp(0, max(w - 2, 0)).long()
    ti = top.clamp(0, max(h - 2, 0)).long()
    flat = image.reshape(c, h * w)

    def at(row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        return flat[:, row * w + col]

    value = (1 - tb) * ((1 - lr) * at(ti, li) + lr * at(ti, li + 1)) + tb * ((1 - lr) * at(ti + 1, li) + lr * at(ti + 1, li + 1))
    return value * inside


def _extract_chip(image: torch.Tensor, geom: ChipGeometry, quantize: bool) -> torch.Tensor:
    """One chip (C, size, size) in [0, 255] from one photo (C, H, W) in [0, 255]."""
    c, h, w = image.shape
    plan = _sampling_plan(geom, h, w)
    if plan is None:
        return image.new_zeros(c, geom.size, geom.size)
    l, t, r, b = plan.crop
    source = image[:, t : b + 1, l : r + 1]
    if quantize:
        source = source.double()  # float64 keeps dlib's integer sums exact
    return _chip_from_level(source, plan, geom.size, quantize, plan.pyramid_levels).to(image.dtype)


def _chip_from_level(source: torch.Tensor, plan: _SamplingPlan, size: int, quantize: bool, levels: int) -> torch.Tensor:
    """The chip (C, size, size) from the crop after ``plan.pyramid_levels - levels`` pyramid levels: the
    remaining ``levels`` levels, then dlib's bilinear sampling."""
    c = source.shape[0]
    for _ in range(levels):
        source = pyramid_down(source, quantize)
    if source.shape[1] < 2 or source.shape[2] < 2:
        return source.new_zeros(c, size, size)
    idx = torch.arange(size, dtype=torch.float64, device=source.device)
    row, col = idx[:, None], idx[None, :]
    x = plan.origin[0] + col * plan.step_x[0] + row * plan.step_y[0]
    y = plan.origin[1] + col * plan.step_x[1] + row * plan.step_y[1]
    chip = _bilinear(source, x.reshape(-1), y.reshape(-1)).to(source.dtype)
    if quantize:
        chip = _straight_through(chip, chip.floor())
    return chip.reshape(c, size, size)


def first_pyramid_level(landmarks: np.ndarray, height: int, width: int, size: int = 150, padding: float = 0.25):
    """For a chip that dlib extracts through its pyramid: (crop (left, top, right, bottom) inclusive in the
    photo, the shape (h1, w1) of the crop's first ``pyramid_down`` level, and a function that maps that level
    (C, h1, w1) to the chip (C, size, size) of :func:`face_chips` with ``quantize=False``, in the level's
    units). None when no pyramid level is involved."""
    plan = _sampling_plan(chip_geometry(landmarks, size, padding), height, width)
    if plan is None or plan.pyramid_levels == 0:
        return None
    l, t, r, b = plan.crop
    shape = ((b - t + 1 - 3) // 2, (r - l + 1 - 3) // 2)
    return plan.crop, shape, lambda level: _chip_from_level(level, plan, size, False, plan.pyramid_levels - 1)


def face_chips(images: torch.Tensor, landmarks: torch.Tensor | np.ndarray, size: int = 150,
               padding: float = 0.25, quantize: bool = True) -> torch.Tensor:
    """``dlib.get_face_chip`` for a batch, differentiable with respect to ``images``.

    Args:
        images: photos (N, C, H, W) float in [0, 1] (C = 3 RGB or 1 grey).
        landmarks: dlib's 5-point landmarks (N, 5, 2) as (x, y) pixel coordinates (numpy or tensor).
        size: chip side in pixels (dlib's ResNet: 150).
        padding: dlib's relative padding around the mean face (dlib's ResNet: 0.25).
        quantize: reproduce dlib's 8-bit rounding and truncation (straight-through gradients); False
            gives unquantized bilinear values.

    Returns:
        Chips (N, C, size, size) in [0, 1] on the device and with the dtype of ``images``.
    """
    check_images(images, "images")
    marks = landmarks.detach().cpu().numpy() if isinstance(landmarks, torch.Tensor) else np.asarray(landmarks)
    if marks.shape != (images.shape[0], 5, 2) or not np.isfinite(marks).all():
        raise ValueError(f"landmarks must be finite with shape (N, 5, 2) = ({images.shape[0]}, 5, 2), got {marks.shape}")
    if not isinstance(size, int) or size < 2:
        raise ValueError(f"size must be an integer >= 2, got {size!r}")
    if not 0 <= padding <= 2:
        raise ValueError(f"padding must be in [0, 2], got {padding!r}")
    grey = images * 255.0
    if quantize:
        grey = _straight_through(grey, grey.round())
    chips = [_extract_chip(photo, chip_geometry(points, size, padding), quantize) for photo, points in zip(grey, marks)]
    return torch.stack(chips) / 255.0
