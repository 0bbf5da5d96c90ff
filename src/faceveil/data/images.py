"""Reading image files into the library's conventions, the only place where file formats are handled.

Supported: anything Pillow reads (jpg, png, pgm/ppm, bmp, tiff), 8- or 16-bit, grey, RGB or RGBA.
16-bit images are scaled to 8 bit, grey is replicated to RGB, alpha is dropped (composited on black).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from .._checks import check_images

#: ITU-R BT.601 luma weights (R, G, B)
LUMA = (0.299, 0.587, 0.114)


class ImageReadError(ValueError):
    """An image file exists but cannot be decoded."""


def load_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as an RGB ``uint8`` array of shape (H, W, 3).

    Raises ``FileNotFoundError`` naming the path when it does not exist and ``ImageReadError``
    when it cannot be decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            return pil_to_rgb_array(im)
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ImageReadError(f"cannot read image {path}: {err}") from err


def pil_to_rgb_array(im: Image.Image) -> np.ndarray:
    """Convert a PIL image of any common mode to an RGB ``uint8`` array (H, W, 3)."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        a = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        a = np.clip(np.round(a * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        a = np.clip(np.round(a * (255.0 if a.max() <= 1.0 else 1.0)), 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float64)
        rgb = rgba[:, :, :3] * (rgba[:, :, 3:4] / 255.0)
        return np.clip(np.round(rgb), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def to_tensor(images: np.ndarray | list[np.ndarray]) -> torch.Tensor:
    """Convert uint8 arrays (H, W, 3) or (N, H, W, 3) to a float32 tensor (N, 3, H, W) in [0, 1]."""
    arr = np.stack(images) if isinstance(images, list) else np.array(images)  # a writable copy for torch
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.dtype != np.uint8:
        raise ValueError(f"expected uint8 arrays of shape (H, W, C) or (N, H, W, C), got {arr.dtype} {arr.shape}")
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Convert a float tensor (N, C, H, W) in [0, 1] to uint8 arrays (N, H, W, C), rounding to nearest."""
    if images.ndim != 4:
        raise ValueError(f"expected a tensor of shape (N, C, H, W), got {tuple(images.shape)}")
    scaled = images.detach().clamp(0, 1)  # one float temporary, then in place (a 12-megapixel photo: 144 MB)
    out = scaled.mul_(255.0).round_().to(torch.uint8)
    del scaled
    return np.ascontiguousarray(out.permute(0, 2, 3, 1).cpu().numpy())  # dlib's bindings refuse strided arrays


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """RGB (N, 3, H, W) in [0, 1] -> BT.601 luma (N, 1, H, W), a linear map; grey input is returned as is."""
    check_images(images)
    if images.shape[1] == 1:
        return images
    return (images * images.new_tensor(LUMA)[:, None, None]).sum(1, keepdim=True)


#: mean and standard deviation of the pixel values of dlib face chips of LFW, in [0, 1]
CHIP_MEAN, CHIP_STD = 0.45, 0.25


def auto_gain(images: torch.Tensor, clamp: bool = True) -> torch.Tensor:
    """Each image (N, C, H, W) standardised over its pixels and mapped to the statistics of a face chip
    (mean :data:`CHIP_MEAN`, standard deviation :data:`CHIP_STD`): a camera's automatic gain and offset, so
    a dark or pale sensor image shows its content at a judge's usual contrast. Clamped to [0, 1] when
    ``clamp``; differentiable. A constant image becomes uniform grey."""
    flat = images.flatten(1)
    z = (images - flat.mean(1).view(-1, 1, 1, 1)) / (flat.std(1).view(-1, 1, 1, 1) + 1e-6)
    out = CHIP_MEAN + CHIP_STD * z
    return out.clamp(0, 1) if clamp else out


def save_png(image: torch.Tensor | np.ndarray, path: str | Path) -> Path:
    """Write one image as an 8-bit PNG (grey for one channel), creating its folder: a float tensor
    (C, H, W) in [0, 1], or a uint8 array (H, W, C) written as it is."""
    array = image if isinstance(image, np.ndarray) else to_uint8(image[None])[0]
    if array.dtype != np.uint8 or array.ndim != 3:
        raise ValueError(f"expected a uint8 array (H, W, C), got {array.dtype} {array.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # zlib level 1: a third of the default's time (1 s for 12 megapixels), files about 10 % larger, lossless
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path, compress_level=1)
    return path
