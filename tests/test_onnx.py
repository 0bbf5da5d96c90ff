"""ONNX embedders through onnxruntime, on a small hand-built ONNX graph."""

from __future__ import annotations

import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from faceveil.recognition.onnx_model import OnnxEmbedder  # noqa: E402
from faceveil.recognition.registry import make_embedder  # noqa: E402


@pytest.fixture
def linear_model(tmp_path):
    """An ONNX graph y = flatten(x) @ W, input (N, 3, 16, 16), output (N, 8)."""
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(size=(3 * 16 * 16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("MatMul", ["f", "W"], ["y"])],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])],
        [numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / "linear.onnx"
    onnx.save(model, path)
    return path, w


def test_onnx_embedder_matches_the_graph(linear_model):
    path, w = linear_model
    emb = make_embedder(f"onnx:{path}")
    assert isinstance(emb, OnnxEmbedder)
    assert emb.alignment.size == (16, 16) and emb.dim == 8
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    expected = ((x.numpy() - 0.5) / 0.5).reshape(3, -1) @ w
    assert np.allclose(emb.embed_raw(x).numpy(), expected, atol=1e-4)
    bgr = OnnxEmbedder(path, bgr=True)
    expected_bgr = ((x.numpy()[:, ::-1] - 0.5) / 0.5).reshape(3, -1) @ w
    assert np.allclose(bgr.embed_raw(x).numpy(), expected_bgr, atol=1e-4)
    assert bgr.cache_key() != emb.cache_key()


def test_onnx_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="ONNX model not found"):
        OnnxEmbedder(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    with pytest.raises(ValueError, match="cannot load ONNX model"):
        OnnxEmbedder(bad)
