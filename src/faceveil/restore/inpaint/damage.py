"""Damage for the inpainting restorer (seed 002): Algorithm 1 occlusions and irregular hole masks.

Every generator works on aligned face chips (dlib's chip, padding 0.25) and returns the damaged image with
its mask (1 where a pixel was damaged). Pixel sizes are the seed's at 256 x 256, scaled by chip side / 256.

* :func:`algorithm1_mask`, ``variant="paper"`` (seed 002, Algorithm 1): a 20 px square centred on a random
  landmark among left eye, right eye, nose and mouth, then 30 segments of 10-20 px, width 8-13 px, each in a
  random direction among left/right/up/down other than the previous one, inside the face region.
  ``variant="code"`` (the public reference code): a random start box inside the face region and moves in
  the eight directions (diagonals too).
* :func:`occlude`: fills the mask with Gaussian noise N(128, 35) (0-255 units): ``noise="add"`` adds it
  to the image (Algorithm 1 line 15, "add them to original image"), ``noise="replace"`` puts it in place of
  the pixels (the public code). Either way the result is clipped to [0, 1].
* :func:`irregular_mask`: LaMa-style free-form masks (thick strokes of random width, length and angle, and
  boxes) over the whole chip, drawn until the hole ratio falls in a bin ((0, 10 %], ..., (40 %, 50 %]: the
  bins of the NVIDIA irregular mask set, which is not available offline); :func:`irregular_mask_set` is one
  fixed, seeded set shared by every method compared.

Landmarks: :data:`CHIP_LANDMARKS_112` are the mean positions of dlib's 68-point landmarks on 1,000 LFW
chips at 112 px (eye centres, nose tip, mouth centre; per-chip std 1-5 px), and :data:`FACE_REGION_112` the
ellipse around the mean jaw-line and brows. A caller with per-face landmarks passes them instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..._checks import check_choice, check_int

#: (x, y) at a 112-px dlib chip (padding 0.25): left eye (image left), right eye, nose tip, mouth centre
CHIP_LANDMARKS_112 = np.array([[35.0, 34.3], [74.5, 34.4], [54.8, 56.3], [54.8, 79.1]])
#: the face region of a 112-px dlib chip: ellipse centre (x, y) and semi-axes (a, b), from the mean 68 points
FACE_REGION_112 = ((54.8, 64.0), (45.5, 45.3))
#: Algorithm 1 at 256 px: start square side, segments, segment length range, width range
PAPER_SQUARE, PAPER_SEGMENTS, PAPER_LENGTH, PAPER_WIDTH = 20, 30, (10, 20), (8, 13)
#: N(128, 35) in 0-255 units
NOISE_MEAN, NOISE_STD = 128.0, 35.0
#: hole-ratio bins of irregular masks (fractions of the chip), the NVIDIA set's up to 50 %
HOLE_BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, 0.5))
VARIANTS = ("paper", "code")
NOISES = ("add", "replace")
_FOUR = ((-1, 0), (1, 0), (0, -1), (0, 1))
_EIGHT = _FOUR + ((-1, -1), (-1, 1), (1, -1), (1, 1))


def chip_landmarks(size: int) -> np.ndarray:
    """:data:`CHIP_LANDMARKS_112` scaled to a ``size``-px chip: (4, 2) float (x, y)."""
    return CHIP_LANDMARKS_112 * size / 112.0


def face_region(size: int) -> np.ndarray:
    """The face ellipse of a ``size``-px chip as a (size, size) bool array."""
    (cx, cy), (a, b) = FACE_REGION_112
    s = size / 112.0
    y, x = np.mgrid[0:size, 0:size] + 0.5
    return ((x - cx * s) / (a * s)) ** 2 + ((y - cy * s) / (b * s)) ** 2 <= 1.0


def _scaled(pixels: float, size: int) -> float:
    return pixels * size / 256.0


def _inside(point, region: np.ndarray) -> bool:
    x, y = int(round(point[0])), int(round(point[1]))
    return 0 <= y < region.shape[0] and 0 <= x < region.shape[1] and bool(region[y, x])


def algorithm1_mask(size: int, rng: np.random.Generator, variant: str = "paper",
                    landmarks: np.ndarray | None = None) -> np.ndarray:
    """One Algorithm 1 occlusion mask (size, size) float32 in {0, 1}, confined to the face region.

    Args:
        size: chip side in pixels (>= 16).
        rng: the random stream (numpy ``Generator``): the same stream gives the same mask.
        variant: ``"paper"`` (start at a landmark, moves left/right/up/down) or ``"code"`` (a random start
            box in the face region, diagonal moves too).
        landmarks: (4, 2) (x, y) of left eye, right eye, nose, mouth in chip pixels; default
            :func:`chip_landmarks`.

    A segment whose end would leave the face region is drawn in another allowed direction; if every
    direction leaves it, the walk stays put for that segment.
    """
    check_int(size, "size", 16)
    check_choice(variant, "variant", VARIANTS)
    region = face_region(size)
    points = chip_landmarks(size) if landmarks is None else np.asarray(landmarks, dtype=float)
    canvas = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(canvas)
    half = _scaled(PAPER_SQUARE, size) / 2
    if variant == "paper":
        start = points[rng.integers(len(points))].copy()
    else:
        ys, xs = np.nonzero(region)
        k = rng.integers(len(xs))
        start = np.array([xs[k] + 0.5, ys[k] + 0.5])
    draw.rectangle([start[0] - half, start[1] - half, start[0] + half, start[1] + half], fill=255)
    moves, previous = (_FOUR if variant == "paper" else _EIGHT), None
    for _ in range(PAPER_SEGMENTS):
        allowed = [m for m in moves if m != previous]
        order = rng.permutation(len(allowed))
        distance = _scaled(rng.integers(PAPER_LENGTH[0], PAPER_LENGTH[1] + 1), size)
        width = max(1, round(_scaled(rng.integers(PAPER_WIDTH[0], PAPER_WIDTH[1] + 1), size)))
        for k in order:
            dx, dy = allowed[k]
            norm = math.hypot(dx, dy)
            end = start + distance * np.array([dx, dy]) / norm
            if _inside(end, region):
                draw.line([tuple(start), tuple(end)], fill=255, width=width, joint="curve")
                start, previous = end, allowed[k]
                break
    return ((np.asarray(canvas) > 0) & region).astype(np.float32)


def occlude(images: torch.Tensor, masks: torch.Tensor, generator: torch.Generator | None = None,
            noise: str = "add") -> torch.Tensor:
    """Fill ``masks`` of ``images`` with Gaussian noise N(128, 35) / 255.

    Args:
        images: (N, C, H, W) in [0, 1]; masks: (N, 1, H, W) in {0, 1} (1: damaged).
        generator: the noise's random stream; noise: ``"add"`` (the paper) or ``"replace"`` (the public code).

    Returns:
        (N, C, H, W) in [0, 1], equal to ``images`` outside the masks.
    """
    check_choice(noise, "noise", NOISES)
    if masks.shape[0] != images.shape[0] or masks.shape[1] != 1 or masks.shape[-2:] != images.shape[-2:]:
        raise ValueError(f"masks must be (N, 1, H, W) for images {tuple(images.shape)}, got {tuple(masks.shape)}")
    values = (torch.randn(images.shape, generator=generator) * NOISE_STD + NOISE_MEAN).to(images) / 255
    filled = images + values if noise == "add" else values
    return torch.where(masks > 0.5, filled.clamp(0, 1), images)


def erase(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``images`` (N, C, H, W) with the holes of ``masks`` (N, 1, H, W) set to 1 (white, the look of the
    NVIDIA irregular masks applied to faces)."""
    return torch.where(masks > 0.5, torch.ones_like(images), images)


def _stroke(draw: ImageDraw.ImageDraw, size: int, rng: np.random.Generator) -> None:
    """One LaMa-style thick polyline: 1-5 vertices, random angles, widths 4-14 % of the chip."""
    x, y = rng.uniform(0, size, 2)
    width = max(1, round(rng.uniform(0.04, 0.14) * size))
    for _ in range(rng.integers(1, 6)):
        angle = rng.uniform(0, 2 * math.pi)
        length = rng.uniform(0.1, 0.4) * size
        nx = float(np.clip(x + length * math.cos(angle), 0, size - 1))
        ny = float(np.clip(y + length * math.sin(angle), 0, size - 1))
        draw.line([(x, y), (nx, ny)], fill=255, width=width, joint="curve")
        x, y = nx, ny


def _box(draw: ImageDraw.ImageDraw, size: int, rng: np.random.Generator) -> None:
    """One box of 10-30 % of the chip side a side."""
    w, h = rng.uniform(0.1, 0.3, 2) * size
    x, y = rng.uniform(0, size - w), rng.uniform(0, size - h)
    draw.rectangle([x, y, x + w, y + h], fill=255)


def irregular_mask(size: int, rng: np.random.Generator, hole_bin: tuple[float, float],
                   max_tries: int = 200) -> np.ndarray:
    """One free-form mask (size, size) float32 in {0, 1} whose hole ratio lies in ``hole_bin`` = (lo, hi]:
    strokes (and a box with probability 0.3 each time) are added until the ratio exceeds ``lo``; a mask
    that overshoots ``hi`` is drawn again.

    Raises:
        ValueError: a bin outside (0, 1], or no mask found in ``max_tries`` draws.
    """
    check_int(size, "size", 16)
    lo, hi = hole_bin
    if not 0 <= lo < hi <= 1:
        raise ValueError(f"hole_bin must be (lo, hi] with 0 <= lo < hi <= 1, got {hole_bin!r}")
    for _ in range(max_tries):
        canvas = Image.new("L", (size, size), 0)
        draw = ImageDraw.Draw(canvas)
        ratio = 0.0
        while ratio <= lo:
            (_box if rng.random() < 0.3 else _stroke)(draw, size, rng)
            ratio = float((np.asarray(canvas) > 0).mean())
        if ratio <= hi:
            return (np.asarray(canvas) > 0).astype(np.float32)
    raise ValueError(f"no mask with a hole ratio in ({lo}, {hi}] after {max_tries} draws at {size} px")


@dataclass(frozen=True)
class MaskSet:
    """A fixed set of irregular masks: (N, 1, S, S) float32 in {0, 1}, ``bins[i]`` the hole-ratio bin of
    mask i (an index into :data:`HOLE_BINS`), and the seed that drew them."""

    masks: torch.Tensor
    bins: torch.Tensor
    seed: int

    def __len__(self) -> int:
        return len(self.masks)

    def for_images(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Masks and bins for ``n`` images: the set repeated from its start once exhausted (the seed's
        rule for its 12,000 NVIDIA masks)."""
        index = torch.arange(n) % len(self)
        return self.masks[index], self.bins[index]


def irregular_mask_set(size: int, count: int, seed: int = 0, bins=HOLE_BINS) -> MaskSet:
    """``count`` irregular masks at ``size`` px, the same number in each bin of ``bins`` (in turn), drawn
    from ``seed``: one fixed set for every method compared."""
    check_int(count, "count", 1)
    rng = np.random.default_rng(seed)
    which = [i % len(bins) for i in range(count)]
    masks = np.stack([irregular_mask(size, rng, bins[b]) for b in which])[:, None]
    return MaskSet(torch.from_numpy(masks), torch.tensor(which), seed)


def algorithm1_masks(count: int, size: int, seed: int = 0, variant: str = "paper") -> torch.Tensor:
    """``count`` Algorithm 1 masks (count, 1, size, size) drawn from ``seed``."""
    check_int(count, "count", 0)
    rng = np.random.default_rng(seed)
    masks = [algorithm1_mask(size, rng, variant) for _ in range(count)]
    return torch.from_numpy(np.stack(masks)[:, None] if masks else np.zeros((0, 1, size, size), np.float32))
