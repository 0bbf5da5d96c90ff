"""Embedders, the embedding pipeline and its cache, on real sample faces."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from faceveil.data.images import load_rgb, to_tensor
from faceveil.data.lfw import LFW
from faceveil.data.sample import sample_root
from faceveil.faces.align import FaceAligner
from faceveil.recognition.base import AlignmentSpec
from faceveil.recognition.cache import EmbeddingCache
from faceveil.recognition.dlib_native import DlibEmbedder
from faceveil.recognition.pipeline import embed_files
from faceveil.recognition.registry import make_embedder
from faceveil.recognition.torch_module import TorchEmbedder


@pytest.fixture(scope="module")
def judge():
    return DlibEmbedder()


@pytest.fixture(scope="module")
def aligner(judge):
    return FaceAligner(judge.alignment)


@pytest.fixture(scope="module")
def two_people():
    """Two images of one person and one of another, from the sample."""
    pair = next(p for p in LFW(sample_root()).pairs() if p.same)
    other = next(p.path_b for p in LFW(sample_root()).pairs() if not p.same and p.path_b.parent != pair.path_a.parent)
    return [pair.path_a, pair.path_b, other]


def test_dlib_judge_separates_identities(judge, aligner, two_people):
    emb = embed_files(two_people, judge, aligner, progress=False)
    raw = emb.embeddings
    assert raw.shape == (3, 128) and raw.dtype == np.float32
    # dlib's metric: Euclidean distance < 0.6 for the same person
    assert np.linalg.norm(raw[0] - raw[1]) < 0.6 < np.linalg.norm(raw[0] - raw[2])
    v = emb.normalized()
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-6)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_cache_hits_on_content_and_misses_on_settings(judge, aligner, two_people, tmp_path):
    cache = EmbeddingCache(tmp_path / "c.sqlite")
    first = embed_files(two_people, judge, aligner, cache=cache, progress=False)
    assert first.cached == 0 and len(cache) == 3
    renamed = tmp_path / "renamed.jpg"
    shutil.copy(two_people[0], renamed)
    again = embed_files([*two_people, renamed], judge, aligner, cache=cache, progress=False)
    assert again.cached == 4
    assert np.array_equal(again.embeddings[:3], first.embeddings) and np.array_equal(again.embeddings[3], first.embeddings[0])
    flipped = DlibEmbedder(flip=True)
    assert flipped.cache_key() != judge.cache_key()
    other = embed_files(two_people[:1], flipped, aligner, cache=cache, progress=False)
    assert other.cached == 0 and len(cache) == 4


def test_worker_processes_give_the_same_descriptors(judge, aligner, two_people):
    chips = to_tensor([aligner.align(load_rgb(p)).chip for p in two_people * 2])
    pooled = DlibEmbedder(workers=2)
    try:
        assert torch.equal(pooled.embed_raw(chips), judge.embed_raw(chips))
    finally:
        pooled.close()


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3 * 16 * 16, 8)
        torch.manual_seed(0)
        torch.nn.init.normal_(self.fc.weight)

    def forward(self, x):
        return self.fc(x.flatten(1))


def test_torch_embedder_normalises_and_flip_averages():
    spec = AlignmentSpec((16, 16), "template")
    plain = TorchEmbedder(_Linear(), "lin", 8, spec)
    flip = TorchEmbedder(plain.module, "lin", 8, spec, flip=True)
    x = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    expected = 0.5 * (plain.embed_raw(x) + plain.embed_raw(x.flip(-1)))
    assert torch.allclose(flip.embed_raw(x), expected, atol=1e-6)
    assert torch.allclose(plain.embed(x).norm(dim=1), torch.ones(4), atol=1e-6)
    # the normalisation (x - 0.5) / 0.5 is applied before the network
    manual = plain.module(((x - 0.5) / 0.5)).detach()
    assert torch.allclose(plain.embed_raw(x), manual, atol=1e-6)


def test_embedder_input_checks(judge, aligner):
    with pytest.raises(ValueError, match=r"expects chips of size \(150, 150\)"):
        judge.embed(torch.rand(1, 3, 112, 112))
    with pytest.raises(ValueError, match="non-finite"):
        judge.embed(torch.full((1, 3, 150, 150), float("nan")))
    with pytest.raises(ValueError, match="RGB"):
        judge.embed(torch.rand(1, 1, 150, 150))
    with pytest.raises(ValueError, match="expects alignment"):
        embed_files([], judge, FaceAligner(AlignmentSpec((112, 112), "template")))
    with pytest.raises(FileNotFoundError, match="image not found"):
        embed_files(["/nonexistent.jpg"], judge, aligner)
    with pytest.raises(ValueError, match="unknown model 'arcface'"):
        make_embedder("arcface")
    with pytest.raises(ValueError, match="jitter is only supported by the .dlib. and .dlib-torch. models"):
        make_embedder("onnx:/x.onnx", jitter=3)
    with pytest.raises(ValueError, match="jitter must be"):
        DlibEmbedder(jitter=-1)
