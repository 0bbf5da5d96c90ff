"""Reader of the TF.js graph-model format: ``model.json`` (topology + ``weightsManifest``) and its shards.

The manifest is a list of groups; each group names its shard files (``paths``, concatenated in order) and
its weights (``name``, ``shape``, ``dtype``, optional ``quantization``). The weights of a group lie back to
back in the concatenated shards, little-endian, in manifest order. Quantised weights
(``quantization.dtype`` uint8 / uint16 with ``scale`` and ``min``: value = q * scale + min; float16: IEEE
half precision) are expanded to their ``original_dtype`` (float32). Reference: the TF.js converter's
``weights_manifest`` format (tfjs-core ``io/types.ts``, ``io/io_utils.ts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: storage bytes and numpy type of each TF.js dtype
DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype("u1")}
QUANTIZED = {"uint8": np.dtype("u1"), "uint16": np.dtype("<u2"), "float16": np.dtype("<f2")}


class TfjsFormatError(ValueError):
    """A model.json or weight shard that is not a readable TF.js graph model (the message names the file)."""


@dataclass
class GraphModel:
    """A TF.js graph model read from disk.

    Attributes:
        nodes: the ``GraphDef`` nodes (dicts with ``name``, ``op``, ``input``, ``attr``), in file order.
        weights: constant name -> array (float32, int32 or bool), dequantised.
        signature: the model's declared inputs/outputs (may be empty).
        source: the model.json path.
    """

    nodes: list[dict]
    weights: dict[str, np.ndarray]
    signature: dict
    source: Path


def read_model_json(path: str | Path) -> dict:
    """The parsed ``model.json`` of a TF.js graph model; raises :class:`TfjsFormatError` if it is not one."""
    path = Path(path)
    try:
        spec = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise TfjsFormatError(f"{path} is not a TF.js model.json: {err}") from None
    if not isinstance(spec, dict) or "modelTopology" not in spec or "weightsManifest" not in spec:
        raise TfjsFormatError(f"{path} is not a TF.js model.json (no modelTopology / weightsManifest)")
    if spec.get("format") not in (None, "graph-model"):
        raise TfjsFormatError(f"{path} is a TF.js {spec.get('format')!r}, not a graph-model")
    if "node" not in spec["modelTopology"]:
        raise TfjsFormatError(f"{path} has no graph nodes: a Keras layers-model is not supported")
    return spec


def decode_weights(manifest: list[dict], shards: list[bytes], where: str = "weights") -> dict[str, np.ndarray]:
    """Weights of a ``weightsManifest`` from the bytes of its shards (one bytes object per group, its
    paths already concatenated).

    Raises:
        TfjsFormatError: an unknown dtype or quantisation, or a shard shorter or longer than its manifest.
    """
    if len(manifest) != len(shards):
        raise TfjsFormatError(f"{where}: {len(manifest)} manifest groups but {len(shards)} shard blobs")
    out: dict[str, np.ndarray] = {}
    for group, blob in zip(manifest, shards):
        offset = 0
        for entry in group["weights"]:
            name, shape, dtype = entry["name"], [int(s) for s in entry["shape"]], entry["dtype"]
            if dtype not in DTYPES:
                raise TfjsFormatError(f"{where}: weight {name!r} has unsupported dtype {dtype!r}")
            count = int(np.prod(shape, dtype=np.int64))
            quant = entry.get("quantization")
            stored = DTYPES[dtype] if quant is None else QUANTIZED.get(quant.get("dtype"))
            if stored is None:
                raise TfjsFormatError(f"{where}: weight {name!r} has unsupported quantisation {quant!r}")
            size = count * stored.itemsize
            if offset + size > len(blob):
                raise TfjsFormatError(f"{where}: the shard ends inside weight {name!r} "
                                      f"(needs {offset + size} bytes, has {len(blob)})")
            raw = np.frombuffer(blob, stored, count, offset)
            offset += size
            if quant is None:
                value = raw.astype(DTYPES[dtype].newbyteorder("="))
            elif quant["dtype"] == "float16":
                value = raw.astype(np.float32)
            else:
                value = raw.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
                if dtype == "int32":
                    value = np.round(value).astype(np.int32)
            out[name] = value.reshape(shape)
        if offset != len(blob):
            raise TfjsFormatError(f"{where}: {len(blob) - offset} bytes after the last weight of the manifest")
    return out


def read_graph_model(path: str | Path) -> GraphModel:
    """Read ``model.json`` and the shards it names (looked up beside it).

    Raises:
        FileNotFoundError: the model.json or a shard is missing. TfjsFormatError: malformed files.
    """
    path = Path(path)
    spec = read_model_json(path)
    shards = []
    for group in spec["weightsManifest"]:
        blob = b""
        for name in group["paths"]:
            shard = path.parent / name
            if not shard.is_file():
                raise FileNotFoundError(f"weight shard {shard} named by {path} is missing")
            blob += shard.read_bytes()
        shards.append(blob)
    weights = decode_weights(spec["weightsManifest"], shards, str(path))
    signature = spec.get("signature") or (spec.get("userDefinedMetadata") or {}).get("signature") or {}
    return GraphModel(spec["modelTopology"]["node"], weights, signature, path)
