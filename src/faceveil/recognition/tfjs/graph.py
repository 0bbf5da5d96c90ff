"""A TensorFlow graph (the ``modelTopology`` of a TF.js graph model) run by PyTorch.

:class:`TfjsGraph` is an ``nn.Module`` built from the graph's nodes: float constants become buffers,
integer constants (axes, shapes, paddings) stay Python values, and each op is a torch function with
TensorFlow's semantics. Activations keep TensorFlow's NHWC layout, so broadcasting, reshapes and axes
mean what they meant in the graph; convolutions run on channels-last views (no copies). ``SAME``
padding is TensorFlow's: the extra pixel of an odd total goes to the bottom / right.

Only the ops below are implemented; a graph with any other op is refused when the module is built,
naming the op and the node, rather than failing at the first forward pass.
"""

from __future__ import annotations

import base64
import math
import re

import numpy as np
import torch
import torch.nn.functional as F

#: elementwise ops with two inputs (NumPy broadcasting, as TensorFlow); all accept ``out=``
ELEMENTWISE_BINARY = {
    "Add": torch.add, "AddV2": torch.add, "BiasAdd": torch.add, "Sub": torch.sub, "Mul": torch.mul,
    "RealDiv": torch.div, "Maximum": torch.maximum, "Minimum": torch.minimum,
}
#: elementwise ops with one input; all accept ``out=``
ELEMENTWISE_UNARY = {
    "Relu": lambda x, out=None: torch.clamp(x, min=0, out=out),
    "Relu6": lambda x, out=None: torch.clamp(x, 0, 6, out=out),
    "Abs": torch.abs, "Square": torch.square, "Sqrt": torch.sqrt, "Rsqrt": torch.rsqrt, "Neg": torch.neg,
    "Sigmoid": torch.sigmoid, "Tanh": torch.tanh,
}
REDUCTIONS = {"Sum": torch.sum, "Mean": torch.mean, "Max": torch.amax}
CONVOLUTIONS = ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative")
#: ops whose output is a view of their input (never written in place)
VIEWS = ("Identity", "Squeeze", "Reshape")
OTHER_OPS = ("Placeholder", "Const", "Softmax", "Pad", "MatMul", "_FusedMatMul", "Prelu", *VIEWS)
SUPPORTED_OPS = frozenset(ELEMENTWISE_BINARY) | frozenset(ELEMENTWISE_UNARY) | frozenset(REDUCTIONS) | frozenset(
    CONVOLUTIONS) | frozenset(OTHER_OPS)
#: activations a fused convolution or matmul may end with (after its BiasAdd)
FUSED_ACTIVATIONS = ("Relu", "Relu6", "Sigmoid", "Tanh")


class UnsupportedGraphError(ValueError):
    """The graph uses an op or an attribute value this interpreter does not implement."""


def attribute(node: dict, key: str, default=None):
    """The value of a node attribute: strings decoded from base64, integer strings as ints, lists as lists."""
    attr = node.get("attr", {}).get(key)
    if attr is None:
        return default
    if "s" in attr:
        return base64.b64decode(attr["s"]).decode()
    if "i" in attr:
        return int(attr["i"])
    if "f" in attr:
        return float(attr["f"])
    if "b" in attr:
        return bool(attr["b"])
    if "list" in attr:
        values = attr["list"]
        if "i" in values:
            return [int(v) for v in values["i"]]
        if "s" in values:
            return [base64.b64decode(v).decode() for v in values["s"]]
        if "f" in values:
            return [float(v) for v in values["f"]]
        return []
    if "type" in attr:
        return attr["type"]
    return default


def input_names(node: dict) -> list[str]:
    """The data inputs of a node (control inputs ``^name`` dropped; ``name:0`` is ``name``)."""
    names = []
    for ref in node.get("input", []):
        if ref.startswith("^"):
            continue
        name, _, index = ref.partition(":")
        if index not in ("", "0"):
            raise UnsupportedGraphError(f"node {node['name']!r} reads output {index} of {name!r}: "
                                        "multi-output ops are not supported")
        names.append(name)
    return names


def same_padding(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's ``SAME`` padding of one spatial axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def spatial_padding(node: dict, x: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) padding of an NHWC input for a conv/pool node (F.pad order)."""
    padding = attribute(node, "padding", "VALID")
    if padding == "VALID":
        return 0, 0, 0, 0
    if padding == "SAME":
        top, bottom = same_padding(x.shape[1], kernel[0], stride[0], dilation[0])
        left, right = same_padding(x.shape[2], kernel[1], stride[1], dilation[1])
        return left, right, top, bottom
    if padding == "EXPLICIT":
        p = attribute(node, "explicit_paddings")
        return p[4], p[5], p[2], p[3]
    raise UnsupportedGraphError(f"node {node['name']!r}: padding {padding!r}")


def torch_filter(w: torch.Tensor, depthwise: bool) -> torch.Tensor:
    """A TF conv filter in torch's layout: (H, W, I, O) -> (O, I, H, W); depthwise (H, W, C, M) ->
    (C * M, 1, H, W), output channel c * M + m as in TensorFlow."""
    if depthwise:
        h, k, c, m = w.shape
        return w.permute(2, 3, 0, 1).reshape(c * m, 1, h, k).contiguous()
    return w.permute(3, 2, 0, 1).contiguous()


def _check_nhwc(node: dict) -> None:
    fmt = attribute(node, "data_format", "NHWC")
    if fmt != "NHWC":
        raise UnsupportedGraphError(f"node {node['name']!r}: data_format {fmt!r} (only NHWC)")


def _hw(values: list[int] | None) -> tuple[int, int]:
    values = values or [1, 1, 1, 1]
    return values[1], values[2]


def _safe(name: str, taken: set[str]) -> str:
    base = "c_" + re.sub(r"\W", "_", name)
    out, k = base, 1
    while out in taken:
        out, k = f"{base}_{k}", k + 1
    taken.add(out)
    return out


def _no_grad_needed(args) -> bool:
    """True when writing into an input cannot break autograd (no input requires a gradient)."""
    return not torch.is_grad_enabled() or not any(isinstance(a, torch.Tensor) and a.requires_grad for a in args)


class TfjsGraph(torch.nn.Module):
    """A TensorFlow graph as a torch module: ``forward(x)`` maps the placeholder's input to the outputs.

    Args:
        nodes: the graph's nodes (``modelTopology["node"]``).
        constants: constant name -> array (from :func:`faceveil.recognition.tfjs.weights.decode_weights`
            or a converted state).
        outputs: names of the nodes to return (in this order); only the ops they depend on are kept.

    ``forward`` takes an NHWC float tensor (N, H, W, C) as the graph's placeholder did and returns one
    tensor (one output) or a tuple. It is differentiable with respect to its input. Without autograd
    (inference mode, or no input requiring a gradient), elementwise ops write into an input that no later
    op reads: fresh large tensors cost more than the arithmetic on a CPU (page faults), and this halves the
    time of the MobileNet graphs. Activations are freed after their last use.

    Raises:
        UnsupportedGraphError: an op or attribute outside :data:`SUPPORTED_OPS`, a missing constant, or a
            graph with other than one placeholder among the kept nodes.
    """

    def __init__(self, nodes: list[dict], constants: dict[str, np.ndarray | torch.Tensor], outputs: list[str]) -> None:
        super().__init__()
        by_name = {n["name"]: n for n in nodes}
        order = self._topological(by_name, outputs)
        placeholders = [n for n in order if by_name[n]["op"] == "Placeholder"]
        if len(placeholders) != 1:
            raise UnsupportedGraphError(f"expected one input placeholder, found {placeholders}")
        self.input_name, self.output_names = placeholders[0], list(outputs)
        #: the nodes the outputs depend on, in execution order
        self.node_names = list(order)
        self._values: dict[str, object] = {}  # integer constants, as Python values
        self._buffers_of: dict[str, str] = {}  # float constant (filters in torch layout) -> buffer name
        taken: set[str] = set()
        filters = self._filters(by_name, order)
        steps = []
        for name in order:
            node = by_name[name]
            op = node["op"]
            if op not in SUPPORTED_OPS:
                raise UnsupportedGraphError(f"op {op!r} of node {name!r} is not implemented")
            if op == "Const":
                if name not in constants:
                    raise UnsupportedGraphError(f"constant {name!r} has no value in the weights")
                value = torch.as_tensor(np.asarray(constants[name]))
                if name in filters:
                    self._add_buffer(name, torch_filter(value.float(), filters[name]), taken)
                elif value.is_floating_point():
                    self._add_buffer(name, value.float(), taken)
                else:
                    self._values[name] = value.tolist()
            elif op != "Placeholder":
                steps.append((name, op, self._build(node, constants), input_names(node)))
        last_use = {ref: i for i, (_, _, _, inputs) in enumerate(steps) for ref in inputs}
        fresh = {name for name, op, _, _ in steps if op not in VIEWS} - set(outputs)
        self._steps = []
        for i, (name, op, fn, inputs) in enumerate(steps):
            writable = []  # inputs this elementwise op may overwrite: fresh tensors read by no later op
            if op in ELEMENTWISE_BINARY or op in ELEMENTWISE_UNARY:
                writable = [k for k, ref in enumerate(inputs)
                            if ref in fresh and last_use[ref] == i and inputs.count(ref) == 1]
            dying = [ref for ref in inputs if last_use[ref] == i and ref not in self._values
                     and ref not in self._buffers_of and ref not in outputs and ref != self.input_name]
            self._steps.append((name, fn, inputs, writable, dying))

    @staticmethod
    def _topological(by_name: dict[str, dict], outputs: list[str]) -> list[str]:
        order: list[str] = []
        state: dict[str, int] = {}
        for out in outputs:
            if out not in by_name:
                raise UnsupportedGraphError(f"output node {out!r} is not in the graph")
            stack = [(out, False)]
            while stack:
                name, done = stack.pop()
                if done:
                    if state[name] == 1:
                        state[name] = 2
                        order.append(name)
                    continue
                if state.get(name):
                    if state[name] == 1:
                        raise UnsupportedGraphError(f"the graph has a cycle through {name!r}")
                    continue
                if name not in by_name:
                    raise UnsupportedGraphError(f"node input {name!r} is not in the graph")
                state[name] = 1
                stack.append((name, True))
                stack.extend((ref, False) for ref in reversed(input_names(by_name[name])) if state.get(ref) != 2)
        return order

    @staticmethod
    def _filters(by_name: dict[str, dict], order: list[str]) -> dict[str, bool]:
        """Constants that are convolution filters -> depthwise?; they are stored in torch's layout only."""
        filters: dict[str, bool] = {}
        other: set[str] = set()
        for name in order:
            node = by_name[name]
            refs = input_names(node)
            if node["op"] in CONVOLUTIONS:
                if by_name[refs[1]]["op"] != "Const":
                    raise UnsupportedGraphError(f"node {name!r}: its filter {refs[1]!r} is not a constant")
                filters[refs[1]] = "Depthwise" in node["op"]
                other.update(refs[:1] + refs[2:])
            else:
                other.update(refs)
        shared = sorted(set(filters) & other)
        if shared:
            raise UnsupportedGraphError(f"convolution filters also used by other ops: {shared}")
        return filters

    def _add_buffer(self, key: str, value: torch.Tensor, taken: set[str]) -> None:
        buffer = _safe(key, taken)
        self.register_buffer(buffer, value)
        self._buffers_of[key] = buffer

    def _int_constant(self, node: dict, ref: str):
        if ref not in self._values:
            raise UnsupportedGraphError(f"node {node['name']!r} needs {ref!r} to be an integer constant")
        return self._values[ref]

    def _build(self, node: dict, constants: dict):
        op, name = node["op"], node["name"]
        if op in ELEMENTWISE_BINARY:
            return ELEMENTWISE_BINARY[op]
        if op in ELEMENTWISE_UNARY:
            return ELEMENTWISE_UNARY[op]
        if op in REDUCTIONS:
            axes = self._int_constant(node, input_names(node)[1])
            axes = [axes] if isinstance(axes, int) else list(axes)
            keep, reduce = attribute(node, "keep_dims", False), REDUCTIONS[op]
            return lambda x, _axes: reduce(x, dim=axes, keepdim=keep)
        if op in CONVOLUTIONS:
            return self._build_conv(node, constants)
        if op == "Identity":
            return lambda x: x
        if op == "Softmax":
            return lambda x: torch.softmax(x, -1)
        if op == "Squeeze":
            dims = attribute(node, "squeeze_dims", [])
            return lambda x: x.squeeze(dims) if dims else x.squeeze()
        if op == "Reshape":
            shape = self._int_constant(node, input_names(node)[1])
            return lambda x, _shape: x.reshape(shape)
        if op == "Pad":
            pads = self._int_constant(node, input_names(node)[1])
            flat = [p for pair in reversed(pads) for p in pair]  # F.pad: last axis first
            return lambda x, _pads: F.pad(x, flat)
        if op in ("MatMul", "_FusedMatMul"):
            return self._build_matmul(node)
        if op == "Prelu":
            return lambda x, alpha: torch.where(x < 0, alpha * x, x)
        raise UnsupportedGraphError(f"op {op!r} of node {name!r} is not implemented")  # pragma: no cover

    @staticmethod
    def _activation(node: dict) -> str | None:
        """The activation fused after BiasAdd ("" for none, None without BiasAdd); refuses other fusions."""
        fused = attribute(node, "fused_ops", [])
        if not fused:
            return None
        if fused[0] != "BiasAdd" or len(fused) > 2 or (len(fused) == 2 and fused[1] not in FUSED_ACTIVATIONS):
            raise UnsupportedGraphError(f"node {node['name']!r}: fused ops {fused} (only BiasAdd[+activation])")
        if attribute(node, "num_args", 1) != 1:
            raise UnsupportedGraphError(f"node {node['name']!r}: fused op with {attribute(node, 'num_args')} args")
        return fused[1] if len(fused) == 2 else ""

    def _build_conv(self, node: dict, constants: dict):
        _check_nhwc(node)
        depthwise = "Depthwise" in node["op"]
        stride, dilation = _hw(attribute(node, "strides")), _hw(attribute(node, "dilations"))
        activation = self._activation(node)
        kernel = tuple(np.asarray(constants[input_names(node)[1]]).shape[:2])

        def conv(x, w, bias=None):  # w: the filter in torch layout (see torch_filter)
            left, right, top, bottom = spatial_padding(node, x, kernel, stride, dilation)
            xc = x.permute(0, 3, 1, 2)  # a channels-last NCHW view of the NHWC tensor
            symmetric = left == right and top == bottom
            if not symmetric:
                xc = F.pad(xc, (left, right, top, bottom))
            y = F.conv2d(xc, w, bias, stride, (top, left) if symmetric else 0, dilation,
                         xc.shape[1] if depthwise else 1)
            return _activate(y, activation, _no_grad_needed((x, w, bias))).permute(0, 2, 3, 1)

        return conv

    def _build_matmul(self, node: dict):
        ta, tb = attribute(node, "transpose_a", False), attribute(node, "transpose_b", False)
        activation = self._activation(node) if node["op"] == "_FusedMatMul" else None

        def matmul(a, b, bias=None):
            y = (a.transpose(-1, -2) if ta else a) @ (b.transpose(-1, -2) if tb else b)
            return y if bias is None else _activate(y + bias, activation, _no_grad_needed((a, b, bias)))

        return matmul

    def forward(self, x: torch.Tensor):
        env: dict[str, object] = {self.input_name: x}
        env.update(self._values)
        for key, buffer in self._buffers_of.items():
            env[key] = getattr(self, buffer)
        for name, fn, inputs, writable, dying in self._steps:
            args = [env[ref] for ref in inputs]
            target = _writable_input(args, writable) if writable else None
            env[name] = fn(*args) if target is None else fn(*args, out=target)
            for ref in dying:  # free activations after their last use
                del env[ref]
        outs = tuple(env[name] for name in self.output_names)
        return outs[0] if len(outs) == 1 else outs


def _activate(y: torch.Tensor, activation: str | None, inplace: bool) -> torch.Tensor:
    """A fused activation of a fresh tensor, in place when autograd does not need ``y``."""
    if not activation:
        return y
    fn = ELEMENTWISE_UNARY[activation]
    return fn(y, out=y) if inplace else fn(y)


def _writable_input(args: list, positions: list[int]) -> torch.Tensor | None:
    """An input an elementwise op may write its result into: float32, of the result's shape, with no
    autograd to protect; None if there is none."""
    if not _no_grad_needed(args):
        return None
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if any(t.dtype != torch.float32 for t in tensors):
        return None
    shape = torch.broadcast_shapes(*(t.shape for t in tensors))
    for k in positions:
        if args[k].shape == shape:
            return args[k]
    return None
