"""Image loading at the edges: every supported format ends as RGB uint8; bad files are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from faceveil.data.images import ImageReadError, load_rgb, to_tensor, to_uint8


@pytest.fixture
def gradient():
    y, x = np.mgrid[0:20, 0:30]
    return ((x * 8 + y * 3) % 256).astype(np.uint8)


def test_grey_8_bit_png_and_pgm_become_rgb(tmp_path, gradient):
    for name in ("g.png", "g.pgm"):
        Image.fromarray(gradient, "L").save(tmp_path / name)
        rgb = load_rgb(tmp_path / name)
        assert rgb.shape == (20, 30, 3) and rgb.dtype == np.uint8
        assert (rgb == gradient[:, :, None]).all()


def test_16_bit_grey_is_scaled_to_8_bit(tmp_path, gradient):
    sixteen = gradient.astype(np.uint16) * 257  # 8-bit value v -> 16-bit v * 257 (full-range scaling)
    Image.fromarray(sixteen).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    rgb = load_rgb(tmp_path / "g16.png")
    assert (rgb[:, :, 0] == gradient).all()


def test_rgba_is_composited_on_black(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    rgb = load_rgb(tmp_path / "a.png")
    assert rgb.shape == (4, 4, 3)
    assert rgb[0, 0, 0] == round(200 * 128 / 255) and rgb[0, 0, 1] == 0


def test_missing_and_unreadable_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="image not found: .*nope.jpg"):
        load_rgb(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ImageReadError, match="cannot read image .*bad.jpg"):
        load_rgb(tmp_path / "bad.jpg")


def test_tensor_round_trip_is_exact():
    arr = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    t = to_tensor(arr)
    assert t.shape == (2, 3, 5, 7) and t.dtype == torch.float32 and float(t.max()) <= 1.0
    assert (to_uint8(t) == arr).all()
    with pytest.raises(ValueError, match="uint8"):
        to_tensor(arr.astype(np.float32))
