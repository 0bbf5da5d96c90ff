"""Detection, landmarks and alignment on real sample faces; the fallback path on a face-less image."""

from __future__ import annotations

import numpy as np
import pytest

from faceveil.data.images import load_rgb
from faceveil.data.sample import sample_root
from faceveil.faces.align import ARCFACE_TEMPLATE_112, FaceAligner, arcface_points, template_points
from faceveil.faces.detect import FALLBACK_BOX, FaceDetector, fallback_box, pick_central, Box
from faceveil.recognition.base import AlignmentSpec


@pytest.fixture(scope="module")
def photo():
    return load_rgb(next(iter(sorted((sample_root() / "lfw").rglob("*.jpg")))))


def test_dlib_chip_of_a_sample_face(photo):
    face = FaceAligner(AlignmentSpec()).align(photo)
    assert face.detected and face.chip.shape == (150, 150, 3) and face.chip.dtype == np.uint8
    assert face.landmarks.shape == (5, 2)
    # the face of an LFW photo is centred
    cx, cy = face.box.center
    assert abs(cx - photo.shape[1] / 2) < 20 and abs(cy - photo.shape[0] / 2) < 20


@pytest.mark.parametrize("size", [(112, 112), (112, 96), (160, 160)])
def test_template_chip_puts_the_eyes_on_the_template(photo, size):
    aligner = FaceAligner(AlignmentSpec(size, "template"))
    face = aligner.align(photo)
    assert face.chip.shape == (*size, 3) and face.landmarks.shape == (68, 2)
    # the warp must be the least-squares similarity of the five points onto the template (solved here
    # independently in closed form): landmarks re-detected in the (upscaled) chip land where it sends them
    src, dst = arcface_points(face.landmarks), template_points(size)
    zs, zd = (src - src.mean(0)) @ [1, 1j], (dst - dst.mean(0)) @ [1, 1j]
    a = (np.conj(zs) @ zd) / (np.conj(zs) @ zs)
    mapped = a * zs + dst.mean(0) @ [1, 1j]
    big = np.ascontiguousarray(np.kron(face.chip, np.ones((2, 2, 1), np.uint8)))
    box, found = aligner.locate(big)
    assert found
    again = arcface_points(aligner.landmarks.predict(big, box)) / 2.0
    assert np.abs(again @ [1, 1j] - mapped).max() < 2.0
    assert np.abs(mapped - dst @ [1, 1j]).mean() < 4.0


def test_template_points_follow_the_conventions():
    assert np.allclose(template_points((112, 112)), ARCFACE_TEMPLATE_112)
    assert np.allclose(template_points((112, 96))[:, 0], ARCFACE_TEMPLATE_112[:, 0] - 8)
    assert np.allclose(template_points((224, 224)), 2 * ARCFACE_TEMPLATE_112)


def test_no_face_uses_the_documented_fallback_box():
    blank = np.full((150, 150, 3), 128, np.uint8)
    face = FaceAligner(AlignmentSpec()).align(blank)
    assert not face.detected
    assert face.box.left == round(FALLBACK_BOX[0] * 150) and face.box.bottom == round(FALLBACK_BOX[3] * 150)
    assert face.chip.shape == (150, 150, 3)


def test_pick_central_and_fallback_box():
    boxes = [Box(0, 0, 40, 40), Box(50, 50, 100, 100), Box(100, 100, 149, 149)]
    assert pick_central(boxes, 150, 150) == boxes[1]
    assert pick_central([], 150, 150) is None
    b = fallback_box(300, 200)
    assert (b.left, b.top, b.right, b.bottom) == (60, 98, 143, 226)


def test_bad_arguments():
    with pytest.raises(ValueError, match="detector kind"):
        FaceDetector("haar")
    with pytest.raises(ValueError, match="upsample"):
        FaceDetector("hog", upsample=9)
    with pytest.raises(ValueError, match="RGB uint8"):
        FaceDetector().detect(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="square"):
        AlignmentSpec((112, 96), "dlib-chip")
    with pytest.raises(ValueError, match="method"):
        AlignmentSpec((112, 112), "mtcnn")
    with pytest.raises(ValueError, match=">= 16"):
        AlignmentSpec((8, 8))


def test_box_chip_squares_and_widens_the_box_and_fills_outside_with_black():
    from faceveil.faces.align import box_chip
    from faceveil.faces.detect import Box

    image = np.zeros((100, 100, 3), np.uint8)
    image[20:60, 30:70] = 200  # the 40 x 40 "face" of an inclusive box 30..69 x 20..59
    tight = box_chip(image, Box(30, 20, 69, 59), 20, 0.0)
    assert tight.shape == (20, 20, 3) and (tight == 200).all()
    wide = box_chip(image, Box(30, 20, 69, 59), 40, 0.25)  # 60 px around the centre: 10 px of margin a side
    assert (wide[10:30, 10:30] == 200).all() and (wide[:5] == 0).all() and (wide[:, :5] == 0).all()
    edge = box_chip(image, Box(0, 0, 39, 39), 40, 0.25)  # half the widened box lies outside the photo
    assert (edge[:8, :8] == 0).all() and edge.shape == (40, 40, 3)
