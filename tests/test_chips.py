"""The one face-chip dataset: alignments, grey chips, the sharded cache, unreadable photos, fallbacks."""

from __future__ import annotations

import multiprocessing

import numpy as np
import pytest
import torch
from PIL import Image

from faceveil.data.chips import ChipSpec, FaceChips, grey_chips, judge_view, load_face_chips
from faceveil.data.folders import read_identity_folders
from faceveil.data.images import ImageReadError, to_grey
from faceveil.data.sample import sample_root
from faceveil.faces.align import FaceAligner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def items():
    """Two photos of each of the embedded sample's first 3 people: (path, person)."""
    chosen = {}
    for path, person in read_identity_folders(sample_root() / "lfw"):
        chosen.setdefault(person, []).append(path)
    return [(p, person) for person in list(chosen)[:3] for p in chosen[person][:2]]


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("FACEVEIL_CACHE", str(folder))
    return folder


@pytest.fixture
def count_alignments(monkeypatch):
    calls = []
    align = FaceAligner.align
    monkeypatch.setattr(FaceAligner, "align", lambda self, image: calls.append(1) or align(self, image))
    return calls


def test_a_cache_hit_returns_the_same_tensors_without_aligning(items, private_cache, count_alignments):
    spec = ChipSpec(size=48)
    first = load_face_chips(items, spec, progress=False, shard_size=4)
    assert len(count_alignments) == 6
    assert first.chips.shape == (6, 3, 48, 48) and first.chips.dtype == torch.uint8
    assert first.labels.tolist() == [0, 0, 1, 1, 2, 2] and first.identities == [p for _, p in items[::2]]
    again = load_face_chips(items, spec, progress=False, shard_size=4)
    assert len(count_alignments) == 6  # nothing aligned the second time
    for name in ("chips", "labels", "detected"):
        assert torch.equal(getattr(again, name), getattr(first, name))
    assert again.paths == first.paths and again.teacher is None
    shards = sorted(private_cache.glob("face-chips/*/shard-*.pt"))
    assert len(shards) == 2
    shards[1].unlink()  # as if the run had been interrupted after the first shard
    resumed = load_face_chips(items, spec, progress=False, shard_size=4)
    assert len(count_alignments) == 8 and torch.equal(resumed.chips, first.chips) and shards[1].is_file()
    load_face_chips(items, ChipSpec(size=48, channels=1), progress=False, shard_size=4)
    assert len(count_alignments) == 14  # another spec is another cache entry


def _load_in_a_process(items):
    return load_face_chips(items, ChipSpec(size=40), progress=False, shard_size=2)


def test_two_processes_filling_one_cache_agree(items, private_cache):
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        a, b = pool.map(_load_in_a_process, [items, items])
    assert torch.equal(a.chips, b.chips) and torch.equal(a.detected, b.detected)
    assert not list(private_cache.glob("face-chips/*/*.tmp"))
    assert len(list(private_cache.glob("face-chips/*/shard-*.pt"))) == 3
    assert torch.equal(_load_in_a_process(items).chips, a.chips)


def test_grey_chips_are_bt601_luma_of_the_rgb_chips(items, private_cache):
    rgb = load_face_chips(items[:2], ChipSpec(size=32), progress=False)
    grey = load_face_chips(items[:2], ChipSpec(size=32, channels=1), progress=False)
    assert grey.chips.shape == (2, 1, 32, 32) and grey.chips.dtype == torch.uint8
    expected = (0.299 * rgb.images()[:, :1] + 0.587 * rgb.images()[:, 1:2] + 0.114 * rgb.images()[:, 2:]) * 255
    assert torch.equal(grey.chips, expected.round().to(torch.uint8))
    assert torch.equal(grey.chips, grey_chips(rgb.chips))
    assert (grey.images() - to_grey(rgb.images())).abs().max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize(("method", "size"), [("dlib-chip", (150, 150)), ("template", (112, 112)),
                                              ("template", (112, 96)), ("template", (160, 160))])
def test_every_alignment_gives_chips_of_its_size(items, method, size):
    faces = load_face_chips(items[:1], ChipSpec(method, size), progress=False, cache=False)
    assert faces.chips.shape == (1, 3, *size) and bool(faces.detected[0])
    assert faces.images().shape == (1, 3, *size) and 0 <= faces.images().min() and faces.images().max() <= 1


def test_unreadable_photos_fail_or_are_skipped(items, tmp_path, private_cache):
    broken, missing = tmp_path / "broken.jpg", tmp_path / "missing.jpg"
    broken.write_bytes(b"not an image")
    mixed = [items[0], (broken, "x"), items[1], (missing, "y")]
    with pytest.raises(FileNotFoundError, match="missing.jpg"):
        load_face_chips(mixed, progress=False)
    with pytest.raises(ImageReadError, match="broken.jpg"):
        load_face_chips(mixed[:3], ChipSpec(size=32), progress=False)
    faces = load_face_chips(mixed, ChipSpec(size=32), progress=False, on_error="skip")
    assert len(faces) == 2 and faces.paths == [items[0][0], items[1][0]] and faces.identities == [items[0][1]]
    assert [path for path, _ in faces.skipped] == [broken, missing]
    assert "broken.jpg" in faces.skipped[0][1] and "missing.jpg" in faces.skipped[1][1]
    cached = load_face_chips(mixed, ChipSpec(size=32), progress=False, on_error="skip")
    assert torch.equal(cached.chips, faces.chips) and cached.skipped == faces.skipped
    with pytest.raises(ValueError, match="none of the 2 photos"):
        load_face_chips([(broken, "x"), (missing, "y")], progress=False, on_error="skip")
    with pytest.raises(ValueError, match="on_error"):
        load_face_chips(items, on_error="ignore")


def test_a_photo_without_a_face_is_counted_as_a_fallback(items, tmp_path):
    noise = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (150, 150, 3), dtype=np.uint8)).save(noise)
    faces = load_face_chips(items[:2] + [(noise, "noise")], ChipSpec(size=32), progress=False, cache=False)
    assert faces.detected.tolist() == [True, True, False] and faces.fallbacks == 1


def test_teacher_embeddings_are_the_judge_on_the_rgb_chips(items):
    from faceveil.recognition.dlib_resnet import DlibTorchEmbedder

    grey = load_face_chips(items[:2], ChipSpec(size=48, channels=1), "dlib-torch", progress=False)
    rgb = load_face_chips(items[:2], ChipSpec(size=48), progress=False, cache=False)
    assert grey.teacher.shape == (2, 128) and grey.teacher.dtype == torch.float32
    expected = DlibTorchEmbedder().embed_raw(judge_view(rgb.images()))
    assert torch.allclose(grey.teacher, expected, atol=1e-5)
    with pytest.raises(ValueError, match="teacher"):
        load_face_chips(items, teacher="arcface")


def test_the_dataset_indexes_subsets_and_batches(items):
    faces = load_face_chips(items, ChipSpec(size=32), progress=False)
    part = faces.subset(torch.tensor([1, 4]))
    assert part.paths == [items[1][0], items[4][0]] and part.labels.tolist() == [0, 2]
    assert part.identities == faces.identities and torch.equal(part.chips, faces.chips[[1, 4]])
    assert len(faces.subset(faces.labels == 1)) == 2 and len(faces.subset(slice(0, 3))) == 3
    item = faces[3]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32 and int(item["label"]) == 1
    batch = next(iter(torch.utils.data.DataLoader(faces, batch_size=4)))
    assert batch["image"].shape == (4, 3, 32, 32) and batch["label"].tolist() == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="6 paths"):
        FaceChips(faces.chips, faces.labels[:5], faces.identities, faces.paths, faces.detected)


def test_chip_specs_are_checked_and_keyed():
    assert ChipSpec(size=112).size == (112, 112) and ChipSpec(method="template", size=(112, 96)).landmarks == 68
    assert ChipSpec().key() != ChipSpec(channels=1).key() != ChipSpec(detector="cnn").key()
    with pytest.raises(ValueError, match="square"):
        ChipSpec(size=(112, 96))
    with pytest.raises(ValueError, match="landmarks"):
        ChipSpec(method="template", size=112, landmarks=5)
    with pytest.raises(ValueError, match="channels"):
        ChipSpec(channels=2)
    with pytest.raises(ValueError, match="detector"):
        ChipSpec(detector="mtcnn")
    with pytest.raises(ValueError, match="spec must be a ChipSpec"):
        load_face_chips([(sample_root() / "x.jpg", "x")], spec=(150, 150))
    with pytest.raises(ValueError, match="no photos"):
        load_face_chips([])
