"""The PyTorch port of dlib's ResNet judge and of dlib's face chips against dlib itself.

Parity tests run on 10 photos of the LFW sample shipped with the package (one per identity), with
dlib's HOG detector (upsample 1) and 5-point landmarks; they skip when dlib's model files or the
sample are missing. The benchmark on >= 100 LFW photos is ``faceveil bench dlib-torch``.
"""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from faceveil.data.images import load_rgb, to_tensor, to_uint8
from faceveil.data.sample import sample_root
from faceveil.faces.torch_align import MEAN_FACE_5, _sampling_plan, chip_geometry, face_chips
from faceveil.model_files import dlib_model_path
from faceveil.recognition import dlib_resnet
from faceveil.recognition.dlib_resnet import DlibTorchEmbedder, ResidualBlock, cached_state_dict, dlib_add, layer_stack
from faceveil.recognition.dlib_serialization import Conv, DlibFormatError, DlibReader, Pool, RgbInput, read_network, read_network_file

dlib = pytest.importorskip("dlib")


def _model_file(kind: str):
    try:
        return dlib_model_path(kind)
    except FileNotFoundError as err:
        pytest.skip(str(err))


@pytest.fixture(scope="module")
def weights():
    return _model_file("resnet")


@pytest.fixture(scope="module")
def embedder(weights, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACEVEIL_CACHE", str(tmp_path_factory.mktemp("cache")))
        return DlibTorchEmbedder(batch_size=4)


@pytest.fixture(scope="module")
def faces():
    """10 sample photos (uint8 (150, 150, 3)), their landmarks (10, 5, 2) and dlib's chips (10, 150, 150, 3)."""
    files = sorted((sample_root() / "lfw").glob("*/*.jpg"))[::16]
    if len(files) < 10:
        pytest.skip("the embedded LFW sample is not installed")
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(_model_file("landmarks5")))
    photos, marks, chips = [], [], []
    for path in files:
        photo = np.array(load_rgb(path))
        boxes = detector(photo, 1)
        if not boxes:
            continue
        shape = predictor(photo, boxes[0])
        photos.append(photo)
        marks.append([[p.x, p.y] for p in shape.parts()])
        chips.append(dlib.get_face_chip(photo, shape, size=150, padding=0.25))
    assert len(photos) >= 8, "dlib should find faces in most LFW photos"
    return np.stack(photos), np.array(marks, dtype=np.float64), np.stack(chips)


def _dlib_chip(photo: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    parts = [dlib.point(int(x), int(y)) for x, y in landmarks]
    shape = dlib.full_object_detection(dlib.rectangle(0, 0, 1, 1), parts)
    return dlib.get_face_chip(np.ascontiguousarray(photo), shape, size=150, padding=0.25)


# --- dlib's serialization -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data, method, expected",
    [
        (b"\x01\x02", "read_int", 2),
        (b"\x81\x05", "read_int", -5),
        (b"\x02\x00\x01", "read_int", 256),
        (b"\x03\x0a\xd7\xa3\x81\x1c", "read_float", float(np.float32(0.04))),  # 10737418 * 2**-28, dlib's margin
        (b"\x01\x03\x81\x01", "read_float", 1.5),  # 3 * 2**-1
        (b"\x01\x00\x02\x00\x7d", "read_float", math.inf),  # exponent 32000
        (b"\x01\x03abc", "read_string", "abc"),
        (b"1", "read_bool", True),
        (b"0", "read_bool", False),
    ],
)
def test_reader_decodes_dlib_encodings(data, method, expected):
    reader = DlibReader(data)
    assert getattr(reader, method)() == expected
    assert reader.pos == len(data)


def test_reader_decodes_tensors():
    values = np.array([[1.5, -2.0, 0.25]], dtype="<f4")
    data = b"\x01\x02" + b"\x01\x01\x01\x01\x01\x01\x01\x03" + values.tobytes()
    np.testing.assert_array_equal(DlibReader(data).read_tensor(), values.reshape(1, 1, 1, 3))


@pytest.mark.parametrize(
    "data, method, message",
    [(b"\x02\x01", "read_int", "file ends"), (b"\x09" + bytes(9), "read_int", "control byte"), (b"x", "read_bool", "boolean"),
     (b"\x01\x02\x01\x01\x01\x01\x01\x01\x01\x05" + bytes(8), "read_tensor", "file ends")],
)
def test_reader_rejects_bad_bytes(data, method, message):
    with pytest.raises(DlibFormatError, match=message):
        getattr(DlibReader(data, "bad.dat"), method)()


def test_reads_the_structure_of_dlibs_model(weights):
    layers = read_network_file(weights, layer_stack())
    (rgb,) = [layer for layer in layers if isinstance(layer, RgbInput)]
    convs = [layer for layer in layers if isinstance(layer, Conv)]
    assert rgb.size == (150, 150) and rgb.mean_rgb == pytest.approx((122.782, 117.001, 104.298), abs=1e-4)
    assert len(convs) == 29 and convs[0].filters.shape == (32, 3, 7, 7)
    assert [(c.stride, c.padding) for c in convs if c.stride != (1, 1)] == [((2, 2), (0, 0))] * 5
    assert [p.size for p in layers if isinstance(p, Pool)] == [(3, 3), (2, 2), (2, 2), (2, 2), (2, 2), (0, 0)]
    assert layers[-1].margin == pytest.approx(0.04) and layers[-1].distance_threshold == pytest.approx(0.6)


@pytest.mark.parametrize("keep", [5_000, 11_000_000])
def test_truncated_model_file_is_rejected(weights, tmp_path, monkeypatch, keep):
    monkeypatch.setenv("FACEVEIL_CACHE", str(tmp_path / "cache"))
    broken = tmp_path / "truncated.dat"
    broken.write_bytes(weights.read_bytes()[:keep])
    with pytest.raises(DlibFormatError, match="truncated"):
        DlibTorchEmbedder(weights=broken)


@pytest.mark.parametrize(
    "name, replacement, message",
    [(b"loss_metric_2", b"loss_mmod_v2_", "loss_mmod_v2_"), (b"input_rgb_image_sized", b"input_rgb_image_sizeX", "input layer")],
)
def test_model_file_of_another_network_is_rejected(weights, tmp_path, name, replacement, message):
    data = weights.read_bytes()
    assert name in data
    wrong = tmp_path / "wrong.dat"
    wrong.write_bytes(data.replace(name, replacement, 1))
    with pytest.raises(DlibFormatError, match=message):
        read_network_file(wrong, layer_stack())


def test_model_file_that_is_not_dlib_is_rejected(tmp_path):
    jpeg = next((sample_root() / "lfw").glob("*/*.jpg"), None)
    data = jpeg.read_bytes() if jpeg else bytes(range(256)) * 4
    with pytest.raises(DlibFormatError):
        read_network(data, layer_stack(), "photo.jpg")


def test_read_network_rejects_invalid_declarations():
    with pytest.raises(ValueError, match="layer stack"):
        read_network(b"", ["fc", "input_rgb_image_sized"])
    with pytest.raises(ValueError, match="layer stack"):
        read_network(b"", ["loss_metric", "relu", "tag1", "input_rgb_image_sized"])


def test_embedder_rejects_bad_arguments():
    with pytest.raises(ValueError, match="nonsense"):
        DlibTorchEmbedder(device="nonsense")
    with pytest.raises(ValueError, match="batch_size"):
        DlibTorchEmbedder(batch_size=0)


def test_missing_model_file_and_package(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="nope.dat"):
        DlibTorchEmbedder(weights=tmp_path / "nope.dat")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "face_recognition_models" else real_find_spec(name, *a))
    with pytest.raises(FileNotFoundError, match="face_recognition_models"):
        DlibTorchEmbedder()


def test_converted_weights_are_cached(weights, tmp_path, monkeypatch):
    monkeypatch.setenv("FACEVEIL_CACHE", str(tmp_path))
    first = cached_state_dict(weights)
    (cached,) = tmp_path.glob("dlib_resnet_v1-*.pt")
    monkeypatch.setattr(dlib_resnet, "convert_dlib_model", lambda w: pytest.fail("converted again despite the cache"))
    again = cached_state_dict(weights)
    assert again.keys() == first.keys() and all(torch.equal(again[k], first[k]) for k in first)
    cached.write_bytes(b"damaged")
    monkeypatch.undo()
    monkeypatch.setenv("FACEVEIL_CACHE", str(tmp_path))
    rebuilt = cached_state_dict(weights)
    assert torch.equal(rebuilt["fc.weight"], first["fc.weight"]) and cached.stat().st_size > 1_000_000
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]  # no temporary file left behind


# --- the network -------------------------------------------------------------------------------------


def test_dlib_add_zero_pads_channels_rows_and_columns():
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 3, 2, 2), 2.0)
    out = dlib_add(a, b)
    expected = torch.zeros(1, 3, 3, 3)
    expected[:, :2] += 1
    expected[:, :, :2, :2] += 2
    torch.testing.assert_close(out, expected)


def test_downsampling_block_gradcheck():
    torch.manual_seed(0)
    block = ResidualBlock(2, 3, downsample=True).double()
    for p in block.parameters():
        p.data.uniform_(-0.5, 0.5)
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64, requires_grad=True)
    assert block(x).shape == (1, 3, 3, 3)  # pooled skip 3x3, stride-2 branch 2x2 zero-padded
    assert torch.autograd.gradcheck(block, (x,))


def test_embeddings_equal_dlib(embedder, weights, faces):
    _, _, chips = faces
    native = dlib.face_recognition_model_v1(str(weights))
    expected = torch.tensor(np.array([np.asarray(d) for d in native.compute_face_descriptor(list(chips))]), dtype=torch.float32)
    got = embedder.embed_raw(to_tensor(chips))
    assert got.shape == (len(chips), 128) and got.dtype == torch.float32
    assert F.cosine_similarity(got, expected).min() >= 0.9999
    assert (got - expected).abs().max() <= 1e-3


def test_embedder_batches_and_gradients_agree(embedder, faces):
    chips = to_tensor(faces[2][:5])
    raw = embedder.embed_raw(chips)  # batches of 4 and 1
    with_grad = embedder.forward_with_grad(chips.clone().requires_grad_(True))
    assert with_grad.requires_grad
    torch.testing.assert_close(with_grad.detach(), raw, atol=1e-5, rtol=1e-4)
    assert embedder.model_key().startswith("dlib-torch:") and len(embedder.model_key()) == len("dlib-torch:") + 12
    with pytest.raises(ValueError, match="150"):
        embedder.forward_with_grad(torch.rand(1, 3, 112, 112))


def test_identity_loss_moves_the_photo_towards_another_identity(embedder, faces):
    photos, marks, _ = faces
    target = F.normalize(embedder.embed_faces(to_tensor(photos[1]), marks[1:2]), dim=1).detach()
    image = to_tensor(photos[0])
    cosines = []
    for _ in range(3):
        image.requires_grad_(True)
        cosine = F.cosine_similarity(embedder.embed_faces(image, marks[0:1]), target).sum()
        cosine.backward()
        cosines.append(cosine.item())
        with torch.no_grad():
            image = (image + 2 / 255 * image.grad.sign()).clamp(0, 1)
    assert cosines[2] > cosines[1] > cosines[0]
    assert cosines[2] - cosines[0] > 0.02


# --- the alignment -------------------------------------------------------------------------------------


def test_chips_equal_dlib_get_face_chip(faces):
    photos, marks, chips = faces
    exact = to_uint8(face_chips(to_tensor(photos), marks)).astype(np.int16)
    smooth = face_chips(to_tensor(photos), marks, quantize=False).permute(0, 2, 3, 1).numpy() * 255
    assert np.abs(exact - chips).mean() < 0.01 and (exact != chips).mean() < 0.001
    assert np.abs(smooth - chips).mean() < 1.0


@pytest.mark.parametrize("case", ["upscaled x6 (pyramid)", "face cut by the border", "grey"])
def test_chips_equal_dlib_in_special_cases(faces, case):
    photo, marks = faces[0][2], faces[1][2]
    if case.startswith("upscaled"):
        photo = np.array(Image.fromarray(photo).resize((900, 900), Image.BILINEAR))
        marks = marks * 6 + 2
        assert _sampling_plan(chip_geometry(marks), 900, 900).pyramid_levels >= 1
    elif case.startswith("face cut"):
        photo, marks = photo[45:, 50:], marks - [50, 45]
    else:
        photo = np.array(Image.fromarray(photo).convert("L"))[:, :, None]
    expected = _dlib_chip(photo if photo.shape[-1] == 3 else photo[:, :, 0], marks).reshape(150, 150, -1)
    got = to_uint8(face_chips(to_tensor(np.ascontiguousarray(photo)), marks[None]))[0]
    assert got.shape == expected.shape
    assert np.abs(got.astype(np.int16) - expected).mean() < 0.01


def test_chip_gradcheck_with_respect_to_the_photo():
    landmarks = torch.from_numpy((0.25 + MEAN_FACE_5) / 1.5 * 10 + 1.3)[None]
    photo = torch.rand(1, 1, 12, 12, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: face_chips(x, landmarks, size=8, quantize=False), (photo,))


def test_face_chips_validate_arguments():
    with pytest.raises(ValueError, match="landmarks"):
        face_chips(torch.rand(2, 3, 20, 20), np.zeros((2, 68, 2)))
    with pytest.raises(ValueError, match="size"):
        face_chips(torch.rand(1, 3, 20, 20), np.zeros((1, 5, 2)), size=1)
