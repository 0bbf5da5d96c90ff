"""Reader of dlib's binary serialization (``dlib/serialize.h``) for the layers of a DNN model file.

dlib writes a network by nesting: the loss layer writes its version and details, then its subnetwork;
every ``add_layer`` writes its version, then its whole subnetwork, then its own layer details and
training state; ``tag``/``skip`` layers write only a version and their subnetwork. The file therefore
holds the versions from the output down to the input, the input layer, then the layer details from
the input up to the output. Nothing in the file says which wrapper (tag, skip, layer) comes next, so,
like dlib, the reader is driven by the network's declaration: a *layer stack* of names from the
output down to the input (see :data:`LAYER_NAMES`).

Encodings (checked against dlib's sources):

* integers: a control byte (bit 7: negative; low 4 bits: byte count n <= 8), then n little-endian
  bytes of the magnitude;
* floats: two integers, the mantissa m then the exponent e, value m * 2**e (e = 32000, 32001, 32002
  mean +inf, -inf, NaN);
* strings: an integer length then the bytes; booleans: the ASCII byte ``'0'`` or ``'1'``;
* tensors: version 2, the four dimensions (num_samples, k, nr, nc) as integers, then the values as
  little-endian IEEE float32.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np

_FLOAT_SPECIALS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}

#: layer names accepted in a layer stack (tags, skips and add_prev carry their tag id: ``tag1``, ...)
LAYER_NAMES = ("loss_metric", "fc", "con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "tag", "skip",
               "input_rgb_image_sized")


class DlibFormatError(ValueError):
    """A file is not a dlib model of the expected structure (truncated, corrupt, or another network)."""


@dataclass(frozen=True)
class Conv:
    """dlib ``con_``: cross-correlation with ``filters`` (out, in, kh, kw) and ``bias`` (out,) or None."""

    filters: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """dlib ``affine_`` (a frozen batch norm): ``y = gamma * x + beta`` per channel (``conv_mode``) or per value."""

    gamma: np.ndarray
    beta: np.ndarray
    conv_mode: bool


@dataclass(frozen=True)
class FullyConnected:
    """dlib ``fc_``: ``y = x.flatten() @ weights + bias`` with ``weights`` (inputs, outputs)."""

    weights: np.ndarray
    bias: np.ndarray | None


@dataclass(frozen=True)
class Relu:
    """dlib ``relu_``."""


@dataclass(frozen=True)
class Pool:
    """dlib ``max_pool_`` / ``avg_pool_``; ``size`` (0, 0) pools over the whole input (``avg_pool_everything``)."""

    mode: str
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class AddPrev:
    """dlib ``add_prev_``: adds the output of the layer tagged ``tag`` to the current output."""

    tag: int


@dataclass(frozen=True)
class Tag:
    """dlib ``tag<id>``: names its input so that ``skip``/``add_prev`` can refer to it."""

    id: int


@dataclass(frozen=True)
class Skip:
    """dlib ``skip<id>``: replaces the current output by the output of the layer tagged ``id``."""

    id: int


@dataclass(frozen=True)
class RgbInput:
    """dlib ``input_rgb_image_sized``: ``(pixel - mean_rgb) / 256`` per channel for (rows, cols) images."""

    mean_rgb: tuple[float, float, float]
    size: tuple[int, int]


@dataclass(frozen=True)
class MetricLoss:
    """dlib ``loss_metric_`` (training only): the embedding is the output of the layer below."""

    margin: float
    distance_threshold: float


Layer = Union[Conv, Affine, FullyConnected, Relu, Pool, AddPrev, Tag, Skip, RgbInput, MetricLoss]


class DlibReader:
    """A cursor over the bytes of a dlib-serialized file; every read raises :class:`DlibFormatError`
    naming the file and the byte offset when the data is not what was expected."""

    def __init__(self, data: bytes, source: str = "<bytes>") -> None:
        self.data = memoryview(data)
        self.source = source
        self.pos = 0

    def error(self, message: str) -> DlibFormatError:
        return DlibFormatError(f"{self.source}: {message} (at byte {self.pos} of {len(self.data)})")

    def take(self, n: int, what: str) -> memoryview:
        if self.pos + n > len(self.data):
            raise self.error(f"file ends while reading {what} (truncated file?)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def read_int(self, what: str = "an integer") -> int:
        control = self.take(1, what)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise self.error(f"invalid integer control byte 0x{control:02x} while reading {what}")
        value = int.from_bytes(self.take(size, what), "little")
        return -value if control & 0x80 else value

    def read_float(self, what: str = "a float") -> float:
        mantissa = self.read_int(what)
        exponent = self.read_int(what)
        if exponent in _FLOAT_SPECIALS:
            return _FLOAT_SPECIALS[exponent]
        return math.ldexp(mantissa, exponent)

    def read_bool(self, what: str = "a boolean") -> bool:
        byte = self.take(1, what)[0]
        if byte not in (ord("0"), ord("1")):
            raise self.error(f"invalid boolean byte 0x{byte:02x} while reading {what}")
        return byte == ord("1")

    def read_string(self, what: str = "a string", max_length: int = 1 << 16) -> str:
        length = self.read_int(what)
        if not 0 <= length <= max_length:
            raise self.error(f"implausible string length {length} while reading {what}")
        return bytes(self.take(length, what)).decode("latin-1")

    def read_version(self, accepted: Sequence[int], what: str) -> int:
        found = self.read_int(f"the version of {what}")
        if found not in accepted:
            raise self.error(f"unexpected version {found} of {what}, expected one of {list(accepted)}")
        return found

    def read_layer_name(self, accepted: Sequence[str], what: str) -> str:
        found = self.read_string(f"the name of {what}", max_length=64)
        if found not in accepted:
            raise self.error(f"expected {what} ({' or '.join(map(repr, accepted))}), found {found!r}")
        return found

    def read_dims(self, what: str) -> tuple[int, int, int, int]:
        dims = tuple(self.read_int(f"the shape of {what}") for _ in range(4))
        if min(dims) < 0:
            raise self.error(f"negative dimension in the shape {dims} of {what}")
        return dims

    def read_tensor(self, what: str = "a tensor") -> np.ndarray:
        """A dlib tensor as float32 array (num_samples, k, nr, nc)."""
        self.read_version((2,), what)
        dims = self.read_dims(what)
        count = math.prod(dims)
        raw = self.take(4 * count, f"the {count} values of {what}")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def read_alias_tensor(self, what: str = "an alias tensor") -> tuple[int, int, int, int]:
        """The shape of a dlib ``alias_tensor`` (a view into a layer's parameter tensor)."""
        self.read_version((1,), what)
        return self.read_dims(what)


def _slice_params(r: DlibReader, params: np.ndarray, shape: tuple[int, ...], offset: int, what: str) -> np.ndarray:
    count = math.prod(shape)
    flat = params.reshape(-1)
    if offset + count > flat.size:
        raise r.error(f"{what} of shape {shape} does not fit in a parameter tensor of {flat.size} values")
    return flat[offset : offset + count].reshape(shape).copy()


def read_con(r: DlibReader) -> Conv:
    name = r.read_layer_name(("con_4", "con_5", "con_6"), "a con layer")
    params = r.read_tensor("con parameters")
    num_filters = r.read_int()
    nr, nc = r.read_int(), r.read_int()
    stride = (r.read_int(), r.read_int())
    padding = (r.read_int(), r.read_int())
    filters = r.read_alias_tensor("con filters")
    biases = r.read_alias_tensor("con biases")
    for _ in range(4):  # learning-rate and weight-decay multipliers of filters and biases
        r.read_float()
    use_bias = r.read_bool() if name in ("con_5", "con_6") else True
    if name == "con_6":
        r.read_bool()  # use_relu: a fused ReLU, never set by add_layer-built networks
    if filters[0] != num_filters or filters[2:] != (nr, nc):
        raise r.error(f"con filter shape {filters} disagrees with {num_filters} filters of {nr}x{nc}")
    weight = _slice_params(r, params, filters, 0, "con filters")
    bias = _slice_params(r, params, (num_filters,), weight.size, "con biases") if use_bias and math.prod(biases) else None
    return Conv(weight, bias, stride, padding)


def read_affine(r: DlibReader) -> Affine:
    name = r.read_layer_name(("affine_", "affine_2"), "an affine layer")
    params = r.read_tensor("affine parameters")
    gamma_shape = r.read_alias_tensor("affine gamma")
    r.read_alias_tensor("affine beta")
    conv_mode = r.read_int("the affine mode") == 0  # dlib's layer_mode: CONV_MODE = 0, FC_MODE = 1
    if name == "affine_2":
        r.read_bool("the affine 'disabled' flag")
    gamma = _slice_params(r, params, gamma_shape, 0, "affine gamma")
    beta = _slice_params(r, params, gamma_shape, gamma.size, "affine beta")
    return Affine(gamma.reshape(-1), beta.reshape(-1), conv_mode)


def read_fc(r: DlibReader) -> FullyConnected:
    name = r.read_layer_name(("fc_2", "fc_3"), "an fc layer")
    num_outputs, num_inputs = r.read_int(), r.read_int()
    params = r.read_tensor("fc parameters")
    r.read_alias_tensor("fc weights")
    r.read_alias_tensor("fc biases")
    has_bias = r.read_int("the fc bias mode") == 0  # dlib's fc_bias_mode: FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    for _ in range(4):
        r.read_float()
    use_bias = r.read_bool() if name == "fc_3" else True
    weights = _slice_params(r, params, (num_inputs, num_outputs), 0, "fc weights")
    bias = _slice_params(r, params, (num_outputs,), weights.size, "fc biases") if has_bias and use_bias else None
    return FullyConnected(weights, bias)


def read_relu(r: DlibReader) -> Relu:
    if r.read_layer_name(("relu_", "relu_2"), "a relu layer") == "relu_2":
        r.read_bool("the relu 'disabled' flag")
    return Relu()


def read_pool(r: DlibReader, mode: str) -> Pool:
    r.read_layer_name((f"{mode}_pool_2",), f"a {mode}_pool layer")
    size = (r.read_int(), r.read_int())
    stride = (r.read_int(), r.read_int())
    padding = (r.read_int(), r.read_int())
    return Pool(mode, size, stride, padding)


def read_input(r: DlibReader) -> RgbInput:
    r.read_layer_name(("input_rgb_image_sized",), "the input layer")
    mean_rgb = (r.read_float(), r.read_float(), r.read_float())
    size = (r.read_int(), r.read_int())
    return RgbInput(mean_rgb, size)


def read_metric_loss(r: DlibReader) -> MetricLoss:
    if r.read_layer_name(("loss_metric_", "loss_metric_2"), "the loss layer") == "loss_metric_":
        return MetricLoss(0.1, 0.75)  # dlib's hard-coded values of the first version
    return MetricLoss(r.read_float(), r.read_float())


def _split_id(entry: str) -> tuple[str, int]:
    base = entry.rstrip("0123456789")
    return base, int(entry[len(base):] or 0)


def _read_details(r: DlibReader, entry: str) -> Layer:
    base, tag = _split_id(entry)
    if base == "con":
        return read_con(r)
    if base == "affine":
        return read_affine(r)
    if base == "fc":
        return read_fc(r)
    if base == "relu":
        return read_relu(r)
    if base in ("max_pool", "avg_pool"):
        return read_pool(r, base[:3])
    r.read_layer_name(("add_prev_",), "an add_prev layer")
    return AddPrev(tag)


def read_network(data: bytes, stack: Sequence[str], source: str = "<bytes>") -> list[Layer]:
    """Parse a serialized dlib network whose declaration is ``stack``.

    Args:
        data: the file's bytes.
        stack: layer names from the output down to the input, e.g. ``["loss_metric", "fc", ...,
            "con", "input_rgb_image_sized"]``; the first must be ``loss_metric``, the last
            ``input_rgb_image_sized``; tags, skips and add_prev carry their id (``"tag1"``).
        source: name of the data in error messages.

    Returns:
        The layers in forward order: the input layer first, the loss layer last.

    Raises:
        DlibFormatError: the data is truncated, corrupt, or holds another network.
        ValueError: ``stack`` is not a valid declaration.
    """
    bases = [_split_id(e)[0] for e in stack]
    bad = [e for e, b in zip(stack, bases) if b not in LAYER_NAMES]
    if len(stack) < 3 or bases[0] != "loss_metric" or bases[-1] != "input_rgb_image_sized" or bases[-2] in ("tag", "skip") or bad:
        raise ValueError("invalid layer stack: it must run from 'loss_metric' to 'input_rgb_image_sized', with a layer "
                         f"other than a tag or skip right above the input, got {list(stack)}")
    r = DlibReader(data, source)
    r.read_version((1,), "the loss layer wrapper")
    loss = read_metric_loss(r)
    body = list(stack[1:-1])
    versions = []
    for i, entry in enumerate(body):
        base, _ = _split_id(entry)
        if base in ("tag", "skip"):
            versions.append(r.read_version((1,), f"the {entry} layer"))
        elif i == len(body) - 1:  # dlib's add_layer specialisation for a layer right above the input
            versions.append(r.read_version((2, 3), f"the {entry} layer above the input"))
        else:
            versions.append(r.read_version((1, 2), f"the {entry} layer"))
    layers: list[Layer] = [read_input(r)]
    for i in reversed(range(len(body))):
        entry = body[i]
        base, ident = _split_id(entry)
        if base == "tag":
            layers.append(Tag(ident))
            continue
        if base == "skip":
            layers.append(Skip(ident))
            continue
        layers.append(_read_details(r, entry))
        for flag in ("this_layer_setup_called", "gradient_input_is_stale", "get_output_and_gradient_input_disabled"):
            r.read_bool(flag)
        r.read_tensor("x_grad")
        r.read_tensor("cached_output")
        if i == len(body) - 1:
            r.read_tensor("grad_final")
            if versions[i] == 3:
                r.read_int("sample_expansion_factor")
        elif versions[i] == 2:
            r.read_tensor("params_grad")
    if r.pos != len(r.data):
        raise r.error(f"{len(r.data) - r.pos} unexpected bytes after the network")
    layers.append(loss)
    return layers


def read_network_file(path: str | Path, stack: Sequence[str]) -> list[Layer]:
    """:func:`read_network` on a file; ``FileNotFoundError`` if it does not exist."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dlib model file not found: {path}")
    return read_network(path.read_bytes(), stack, str(path))
