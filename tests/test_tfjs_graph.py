"""The TF.js format reader and the graph interpreter, on hand-made models (no download needed).

The graph's ops are checked against an independent NumPy implementation of TensorFlow's semantics
(NHWC, ``SAME`` padding with the odd pixel at the bottom/right, depthwise channel order c * M + m).
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from faceveil.recognition.tfjs.graph import TfjsGraph, UnsupportedGraphError, same_padding
from faceveil.recognition.tfjs.weights import TfjsFormatError, decode_weights, read_graph_model, read_model_json


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _ints(values) -> dict:
    return {"list": {"i": [str(v) for v in values]}}


def _node(name, op, inputs=(), **attr):
    return {"name": name, "op": op, "input": list(inputs), "attr": attr}


def _conv_attrs(stride, padding="SAME", fused=None):
    attrs = {"strides": _ints([1, stride, stride, 1]), "dilations": _ints([1, 1, 1, 1]), "padding": _s(padding),
             "data_format": _s("NHWC")}
    if fused:
        attrs["fused_ops"] = {"list": {"s": [base64.b64encode(f.encode()).decode() for f in fused]}}
        attrs["num_args"] = {"i": "1"}
    return attrs


# ---- an independent NumPy reference of the ops -------------------------------------------------------------

def np_pad_same(x, k, stride):
    (t, b), (l, r) = same_padding(x.shape[1], k, stride, 1), same_padding(x.shape[2], k, stride, 1)
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)))


def np_conv(x, w, stride):  # x (N, H, W, I), w (k, k, I, O), SAME
    x = np_pad_same(x, w.shape[0], stride)
    k = w.shape[0]
    oh, ow = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, w.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j, :] = np.einsum("nhwi,hwio->no", patch, w)
    return out


def np_depthwise(x, w, stride):  # w (k, k, C, M): output channel c * M + m
    x = np_pad_same(x, w.shape[0], stride)
    k, c, m = w.shape[0], w.shape[2], w.shape[3]
    oh, ow = (x.shape[1] - k) // stride + 1, (x.shape[2] - k) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, c * m))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + k, j * stride:j * stride + k, :]
            out[:, i, j, :] = np.einsum("nhwc,hwcm->ncm", patch, w).reshape(x.shape[0], c * m)
    return out


@pytest.fixture(scope="module")
def small_graph():
    """input (N, 7, 6, 3) -> conv 3x3/2 SAME + bias + relu -> depthwise 3x3/1 x2 + bias -> relu6 -> mean (1, 2)
    -> matmul + bias -> l2 normalise (square, sum keep_dims, maximum, rsqrt, mul), with its NumPy reference."""
    rng = np.random.default_rng(0)
    consts = {"w1": rng.normal(size=(3, 3, 3, 4)).astype(np.float32), "b1": rng.normal(size=4).astype(np.float32),
              "w2": rng.normal(size=(3, 3, 4, 2)).astype(np.float32), "b2": rng.normal(size=8).astype(np.float32),
              "axes": np.array([1, 2], np.int32), "fc": rng.normal(size=(8, 5)).astype(np.float32),
              "fcb": rng.normal(size=5).astype(np.float32), "one": np.array(1, np.int32),
              "eps": np.array(1e-10, np.float32)}
    nodes = [_node("x", "Placeholder")] + [_node(k, "Const") for k in consts] + [
        _node("c1", "_FusedConv2D", ["x", "w1", "b1"], **_conv_attrs(2, fused=["BiasAdd", "Relu"])),
        _node("c2", "FusedDepthwiseConv2dNative", ["c1", "w2", "b2"], **_conv_attrs(1, fused=["BiasAdd"])),
        _node("r6", "Relu6", ["c2"]),
        _node("pool", "Mean", ["r6", "axes"], keep_dims={"b": False}),
        _node("fc_out", "_FusedMatMul", ["pool", "fc", "fcb"], fused_ops={"list": {"s": [_s("BiasAdd")["s"]]}},
              num_args={"i": "1"}, transpose_a={"b": False}, transpose_b={"b": False}),
        _node("sq", "Square", ["fc_out"]), _node("sum", "Sum", ["sq", "one"], keep_dims={"b": True}),
        _node("max", "Maximum", ["sum", "eps"]), _node("rs", "Rsqrt", ["max"]), _node("emb", "Mul", ["fc_out", "rs"]),
        _node("unused", "Relu", ["emb"]),
    ]

    def reference(x):
        y = np.maximum(np_conv(x, consts["w1"], 2) + consts["b1"], 0)
        y = np.clip(np_depthwise(y, consts["w2"], 1) + consts["b2"], 0, 6)
        y = y.mean(axis=(1, 2)) @ consts["fc"] + consts["fcb"]
        return y / np.linalg.norm(y, axis=1, keepdims=True)

    return nodes, consts, reference


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding(6, 3, 2, 1) == (0, 1)  # TF: out 3, total 1
    assert same_padding(7, 3, 2, 1) == (1, 1)
    assert same_padding(112, 3, 1, 1) == (1, 1)
    assert same_padding(8, 1, 2, 1) == (0, 0)
    assert same_padding(5, 3, 1, 2) == (2, 2)  # dilation widens the kernel to 5


def test_graph_matches_the_numpy_reference(small_graph):
    nodes, consts, reference = small_graph
    module = TfjsGraph(nodes, consts, ["emb"])
    x = np.random.default_rng(1).uniform(0, 1, (3, 7, 6, 3)).astype(np.float32)
    with torch.no_grad():
        ours = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, reference(x.astype(np.float64)), atol=2e-6)
    assert "unused" not in module.node_names  # only what the output needs


def test_in_place_inference_equals_autograd_and_leaves_the_input_alone(small_graph):
    nodes, consts, _ = small_graph
    module = TfjsGraph(nodes, consts, ["emb", "c1"])
    x = torch.rand(2, 7, 6, 3)
    before = x.clone()
    with torch.inference_mode():
        fast = module(x)
    assert torch.equal(x, before)
    xg = x.clone().requires_grad_(True)
    slow = module(xg)
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b.detach())
    slow[0][:, 0].sum().backward()
    assert xg.grad is not None and xg.grad.abs().sum() > 0
    # and the gradient is that of the function (float64 finite differences)
    double = TfjsGraph(nodes, consts, ["emb"]).double()
    x64 = torch.rand(2, 7, 6, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(double, (x64,), eps=1e-6, atol=1e-5)


def test_pad_valid_conv_reshape_squeeze_and_biasadd():
    rng = np.random.default_rng(2)
    consts = {"pads": np.array([[0, 0], [1, 1], [2, 0], [0, 0]], np.int32),
              "w": rng.normal(size=(3, 3, 2, 3)).astype(np.float32), "shape": np.array([-1, 12], np.int32),
              "b": rng.normal(size=12).astype(np.float32)}
    nodes = [_node("x", "Placeholder")] + [_node(k, "Const") for k in consts] + [
        _node("p", "Pad", ["x", "pads"]),
        _node("c", "Conv2D", ["p", "w"], **_conv_attrs(1, "VALID")),
        _node("r", "Reshape", ["c", "shape"]),
        _node("o", "BiasAdd", ["r", "b"])]
    x = rng.uniform(-1, 1, (2, 2, 2, 2)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (2, 0), (0, 0)))
    k = consts["w"]
    expected = np.zeros((2, 2, 2, 3))
    for i in range(2):
        for j in range(2):
            expected[:, i, j] = np.einsum("nhwi,hwio->no", padded[:, i:i + 3, j:j + 3], k)
    with torch.no_grad():
        ours = TfjsGraph(nodes, consts, ["o"])(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, expected.reshape(2, 12) + consts["b"], atol=1e-5)


@pytest.mark.parametrize("change, message", [
    (lambda n, c: n.append(_node("bad", "Conv3D", ["x"])) or "bad", "Conv3D"),
    (lambda n, c: (c.pop("w1"), "emb")[1], "has no value"),
    (lambda n, c: n.append(_node("y", "Placeholder")) or n.append(_node("two", "Add", ["x", "y"])) or "two",
     "one input placeholder"),
    (lambda n, c: "nowhere", "not in the graph"),
])
def test_unsupported_graphs_are_refused_when_built(small_graph, change, message):
    nodes, consts, _ = small_graph
    nodes, consts = [dict(n) for n in nodes], dict(consts)
    output = change(nodes, consts)
    with pytest.raises(UnsupportedGraphError, match=message):
        TfjsGraph(nodes, consts, [output])


def test_a_fused_op_other_than_biasadd_is_refused(small_graph):
    nodes, consts, _ = small_graph
    nodes = [dict(n) for n in nodes]
    c1 = next(n for n in nodes if n["name"] == "c1")
    c1["attr"] = dict(c1["attr"], fused_ops={"list": {"s": [_s("FusedBatchNorm")["s"]]}})
    with pytest.raises(UnsupportedGraphError, match="fused ops"):
        TfjsGraph(nodes, consts, ["emb"])


# ---- the weights format -----------------------------------------------------------------------------------

def test_decode_weights_reads_every_stored_type_and_quantisation():
    a = np.arange(6, dtype="<f4").reshape(2, 3) / 7
    i = np.array([-3, 5], "<i4")
    q8 = np.array([0, 128, 255], np.uint8)
    q16 = np.array([0, 40000], "<u2")
    h = np.array([0.5, -2.25, 1e-3], "<f2")
    manifest = [
        {"paths": ["g1.bin"], "weights": [{"name": "a", "shape": [2, 3], "dtype": "float32"},
                                         {"name": "i", "shape": [2], "dtype": "int32"}]},
        {"paths": ["g2.bin"], "weights": [
            {"name": "q8", "shape": [3], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1}},
            {"name": "q16", "shape": [2], "dtype": "float32",
             "quantization": {"dtype": "uint16", "scale": 1e-3, "min": 2.0}},
            {"name": "h", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}}]},
    ]
    out = decode_weights(manifest, [a.tobytes() + i.tobytes(), q8.tobytes() + q16.tobytes() + h.tobytes()])
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["i"], i)
    assert out["i"].dtype == np.int32 and out["a"].dtype == np.float32
    np.testing.assert_allclose(out["q8"], [-1, 63, 126.5])
    np.testing.assert_allclose(out["q16"], [2.0, 42.0], rtol=1e-6)
    np.testing.assert_array_equal(out["h"], h.astype(np.float32))


@pytest.mark.parametrize("blob, entry, message", [
    (b"\0" * 8, {"name": "w", "shape": [3], "dtype": "float32"}, "ends inside"),
    (b"\0" * 16, {"name": "w", "shape": [3], "dtype": "float32"}, "bytes after"),
    (b"\0" * 12, {"name": "w", "shape": [3], "dtype": "complex64"}, "unsupported dtype"),
    (b"\0" * 3, {"name": "w", "shape": [3], "dtype": "float32", "quantization": {"dtype": "int4"}}, "quantisation"),
])
def test_decode_weights_refuses_malformed_shards(blob, entry, message):
    with pytest.raises(TfjsFormatError, match=message):
        decode_weights([{"paths": ["x.bin"], "weights": [entry]}], [blob])


def test_read_graph_model_joins_shards_and_names_bad_files(tmp_path):
    w = np.arange(10, dtype="<f4")
    (tmp_path / "s1.bin").write_bytes(w[:4].tobytes())
    (tmp_path / "s2.bin").write_bytes(w[4:].tobytes())
    spec = {"format": "graph-model", "modelTopology": {"node": [_node("x", "Placeholder"), _node("w", "Const")]},
            "weightsManifest": [{"paths": ["s1.bin", "s2.bin"], "weights": [{"name": "w", "shape": [10],
                                                                           "dtype": "float32"}]}]}
    (tmp_path / "model.json").write_text(json.dumps(spec))
    model = read_graph_model(tmp_path / "model.json")
    np.testing.assert_array_equal(model.weights["w"], w)
    (tmp_path / "s2.bin").unlink()
    with pytest.raises(FileNotFoundError, match="s2.bin"):
        read_graph_model(tmp_path / "model.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(TfjsFormatError, match="bad.json"):
        read_model_json(tmp_path / "bad.json")
    (tmp_path / "layers.json").write_text(json.dumps({"format": "layers-model", "modelTopology": {},
                                                      "weightsManifest": []}))
    with pytest.raises(TfjsFormatError, match="layers-model"):
        read_model_json(tmp_path / "layers.json")
