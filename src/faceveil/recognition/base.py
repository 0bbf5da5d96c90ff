"""The embedder interface every face-recognition model of faceveil implements.

An embedder maps aligned face chips (float32 NCHW in [0, 1], RGB) to embeddings (float32 (N, D)).
It declares the alignment it expects (:class:`AlignmentSpec`), so the pipeline that turns photos
into chips is chosen by the model, and an identity string (:meth:`Embedder.cache_key`) that changes
whenever its output would change (weights, test-time options), so cached embeddings stay valid.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch

from .._checks import check_images


ALIGNMENT_METHODS = ("dlib-chip", "template", "box")


@dataclass(frozen=True)
class AlignmentSpec:
    """How to cut a face chip from a photo for a given model.

    Attributes:
        size: chip (height, width) in pixels, e.g. (150, 150) for dlib, (112, 112) for ArcFace.
        method: ``"dlib-chip"`` (dlib's ``get_face_chip`` from 5 landmarks with ``padding``),
            ``"template"`` (similarity transform of eye centres and nose tip onto the 112x112
            ArcFace template, scaled to ``size``) or ``"box"`` (the detector's box, squared and
            widened by ``padding`` of its side on every side, resized bilinearly: no landmarks).
        padding: relative padding for ``"dlib-chip"`` (dlib's default 0.25) and ``"box"``.
    """

    size: tuple[int, int] = (150, 150)
    method: str = "dlib-chip"
    padding: float = 0.25

    def __post_init__(self) -> None:
        if len(self.size) != 2 or min(self.size) < 16:
            raise ValueError(f"alignment size must be (height, width) with both >= 16, got {self.size}")
        if self.method not in ALIGNMENT_METHODS:
            raise ValueError(f"alignment method must be one of {', '.join(ALIGNMENT_METHODS)}, got {self.method!r}")
        if self.method in ("dlib-chip", "box") and self.size[0] != self.size[1]:
            raise ValueError(f"{self.method!r} alignment makes square chips, got size {self.size}")
        if not 0 <= self.padding <= 2:
            raise ValueError(f"alignment padding must be in [0, 2], got {self.padding}")

    def key(self) -> str:
        """A short string that identifies these settings (used in cache keys)."""
        return f"{self.method}-{self.size[0]}x{self.size[1]}-p{self.padding:g}"


class Embedder(abc.ABC):
    """Base class: subclasses implement :meth:`_embed_raw`; flip averaging is handled here.

    Args:
        flip: if True, the embedding of a chip is the mean of the raw embeddings of the chip and of
            its horizontal mirror (test-time augmentation).
    """

    #: registry name of the model (``--model`` on the command line)
    name: str = "embedder"
    #: embedding dimension D
    dim: int = 0
    #: the alignment the model was trained with
    alignment: AlignmentSpec = AlignmentSpec()
    #: cosine threshold for same/different decisions (calibrated on LFW View 2), None if unknown
    verification_threshold: float | None = None
    #: dlib landmark model (5 or 68) the model's chips must be aligned with; None: the user's choice
    landmarks: int | None = None
    #: identity record of the people the model trained on (faceveil.data.identities); None: not trained here
    trained_identities: dict | None = None

    def __init__(self, flip: bool = False) -> None:
        self.flip = bool(flip)

    @abc.abstractmethod
    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        """Model output for chips (N, 3, H, W) in [0, 1]: float32 (N, D), not normalised."""

    def model_key(self) -> str:
        """Identity of the weights and test-time options that change the raw output (no flip)."""
        return self.name

    def cache_key(self) -> str:
        """Identity of everything that changes :meth:`embed_raw`'s output, alignment included."""
        return f"{self.model_key()}|flip={int(self.flip)}|{self.alignment.key()}"

    def embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        """Raw embeddings (N, D) float32 of aligned chips (N, 3, H, W) in [0, 1], flip-averaged if set."""
        check_images(chips, "chips")
        if chips.shape[1] != 3:
            raise ValueError(f"chips must be RGB (N, 3, H, W), got {chips.shape[1]} channel(s)")
        if tuple(chips.shape[-2:]) != tuple(self.alignment.size):
            raise ValueError(
                f"{self.name} expects chips of size {self.alignment.size}, got {tuple(chips.shape[-2:])}"
            )
        if chips.shape[0] == 0:
            return torch.zeros(0, self.dim)
        out = self._embed_raw(chips).float()
        if self.flip:
            out = 0.5 * (out + self._embed_raw(chips.flip(-1)).float())
        return out

    def embed(self, chips: torch.Tensor) -> torch.Tensor:
        """L2-normalised embeddings (N, D) float32 of aligned chips (N, 3, H, W) in [0, 1]."""
        return torch.nn.functional.normalize(self.embed_raw(chips), dim=1)
