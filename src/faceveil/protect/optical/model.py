"""The opto-electronic network of seed 000 (Fig. 3): optical encoder + electronic back-end, and its checkpoints.

A checkpoint is one ``torch.save`` file holding the model's configuration (so it rebuilds itself), its
weights, whether the mask is binarised, and any extra entries of the caller (training state, history).
It also holds a digest of the configuration and the PSF the camera had when it was saved: a checkpoint
whose settings were edited afterwards, whose weights do not fit its settings, or whose optics this
faceveil would simulate differently is refused with a message (format version 2: the PSFs derived from
the optics; version 1 held hand-set dilations and a normalised PSF, a different camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import hashlib
import json

import torch
import torch.nn.functional as F
from torch import nn

from ... import __version__
from ..._checks import check_choice, check_images, check_int
from ...recognition.backbones import BACKBONES, make_backbone
from ...config import from_dict, to_dict
from ...train.checkpoint import read_payload, save_atomic
from .encoder import EncoderConfig, OpticalEncoder

CHECKPOINT_FORMAT = "faceveil-optical-model"
CHECKPOINT_VERSION = 2


@dataclass(frozen=True)
class ModelConfig:
    """An opto-electronic face-recognition model.

    Attributes:
        encoder: the optics and sensor.
        backbone: the electronic network, one of :data:`~faceveil.recognition.backbones.BACKBONES`.
        channels: 3 (RGB scenes and sensor) or 1 (grey).
        embedding_dim: D of the face embedding.
        n_classes: identities of the classification head (0: no head).
        distill_dim: dimension of a linear head regressing the reference judge's embedding (0: none;
            128 for the dlib judge).
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    backbone: str = "light"
    channels: int = 3
    embedding_dim: int = 128
    n_classes: int = 0
    distill_dim: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.encoder, EncoderConfig):
            raise ValueError(f"encoder must be an EncoderConfig, got {type(self.encoder).__name__}")
        check_choice(self.backbone, "backbone", BACKBONES)
        check_choice(self.channels, "channels", (1, 3))
        check_int(self.embedding_dim, "embedding_dim", 1)
        check_int(self.n_classes, "n_classes", 0)
        check_int(self.distill_dim, "distill_dim", 0)


class ModelOutput(NamedTuple):
    """captured (N, C, H, W) in [0, 1]; embedding (N, D) raw; logits (N, n_classes) or None;
    distilled (N, distill_dim) or None."""

    captured: torch.Tensor
    embedding: torch.Tensor
    logits: torch.Tensor | None
    distilled: torch.Tensor | None


class OpticalFaceModel(nn.Module):
    """Scene -> optical encoder -> sensor image -> back-end -> embedding (+ identity logits, distillation).

    The back-end sees the sensor image standardised as ``(x - 0.5) / 0.5``.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = OpticalEncoder(config.encoder)
        self.backbone = make_backbone(config.backbone, config.channels, config.embedding_dim)
        if config.encoder.image_size < self.backbone.min_size:
            raise ValueError(f"the {config.backbone} back-end needs images of at least {self.backbone.min_size} "
                             f"pixels, got image_size {config.encoder.image_size}")
        self.classifier = nn.Linear(config.embedding_dim, config.n_classes) if config.n_classes else None
        self.distill_head = nn.Linear(config.embedding_dim, config.distill_dim) if config.distill_dim else None

    def check_scenes(self, scenes: torch.Tensor) -> torch.Tensor:
        """Raise ``ValueError`` unless ``scenes`` is (N, channels, image_size, image_size) in [0, 1]."""
        check_images(scenes, "scenes")
        size, channels = self.config.encoder.image_size, self.config.channels
        if scenes.shape[1:] != (channels, size, size):
            raise ValueError(f"scenes must have shape (N, {channels}, {size}, {size}) for this model, "
                             f"got {tuple(scenes.shape)}")
        return scenes

    def recognise(self, captured: torch.Tensor) -> torch.Tensor:
        """Raw embeddings (N, D) of sensor images (N, C, H, W) in [0, 1]."""
        return self.backbone((captured - 0.5) / 0.5)

    def forward(self, scenes: torch.Tensor, generator: torch.Generator | None = None) -> ModelOutput:
        """The whole system on scenes (N, C, S, S) in [0, 1]; ``generator`` draws the sensor noise."""
        captured = self.encoder(self.check_scenes(scenes), generator)
        embedding = self.recognise(captured)
        logits = self.classifier(embedding) if self.classifier is not None else None
        distilled = self.distill_head(embedding) if self.distill_head is not None else None
        return ModelOutput(captured, embedding, logits, distilled)

    @torch.no_grad()
    def encrypt(self, scenes: torch.Tensor, generator: torch.Generator | None = None,
                batch_size: int = 64) -> torch.Tensor:
        """Sensor images (N, C, S, S) in [0, 1] of scenes, in batches, without gradients
        (:meth:`~faceveil.protect.optical.encoder.OpticalEncoder.encrypt` after checking the scenes' shape)."""
        return self.encoder.encrypt(self.check_scenes(scenes), generator, batch_size)

    @torch.no_grad()
    def embed(self, captured: torch.Tensor, batch_size: int = 64) -> torch.Tensor:
        """L2-normalised embeddings (N, D) of sensor images, in eval mode (restored afterwards)."""
        check_int(batch_size, "batch_size", 1)
        check_images(captured, "captured")
        was_training = self.training
        self.eval()
        try:
            return torch.cat([F.normalize(self.recognise(batch), dim=1) for batch in captured.split(batch_size)])
        finally:
            self.train(was_training)


def config_digest(config: dict) -> str:
    """SHA-256 of a configuration dict in canonical JSON (sorted keys): what a checkpoint's settings were."""
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def camera_digest(model: OpticalFaceModel) -> str:
    """SHA-256 of the camera alone (encoder settings and deployed transmissions): the identity of the
    optics that made an encrypted image, recorded beside encrypted images and checked by attacks."""
    transmissions = model.encoder.transmissions().detach().cpu().numpy().round(6).tolist()
    record = {"encoder": to_dict(model.config.encoder), "channels": model.config.channels,
              "binary": bool(model.encoder.binary), "transmissions": transmissions}
    return config_digest(record)


def save_checkpoint(path: str | Path, model: OpticalFaceModel, extra: dict | None = None) -> Path:
    """Write ``model`` (configuration, weights, binary flag) and ``extra`` entries to ``path``, atomically
    (a temporary file renamed over the target, so an interruption never leaves half a checkpoint)."""
    config = to_dict(model.config)
    payload = {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "faceveil_version": __version__,
               "config": config, "config_digest": config_digest(config), "binary": bool(model.encoder.binary),
               "psf": model.encoder.psf().detach().cpu(), "camera_digest": camera_digest(model),
               "state_dict": model.state_dict(), **(extra or {})}
    return save_atomic(payload, path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The raw payload of a checkpoint, checked to be one of this module's."""
    try:
        payload = read_payload(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "optical model checkpoint", map_location)
    except ValueError as err:
        if "format version 1" not in str(err):
            raise
        raise ValueError(f"{err} (a version-1 camera had hand-set dilations and a PSF normalised to sum 1, not the "
                         "optics' PSF and light: retrain it with 'faceveil train optical')") from None
    if config_digest(payload["config"]) != payload.get("config_digest"):
        raise ValueError(f"{path}: the settings stored in this checkpoint were edited after it was saved (their "
                         "digest does not match); the weights belong to the original settings: retrain, or restore "
                         "the original file")
    return payload


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[OpticalFaceModel, dict]:
    """Rebuild the model saved by :func:`save_checkpoint` (in eval mode) and return it with the payload.

    Raises ``ValueError`` (never a bare traceback) if the settings were edited, the weights do not fit
    the settings, or the rebuilt camera's PSF differs from the saved one."""
    payload = read_checkpoint(path, map_location)
    model = OpticalFaceModel(from_dict(ModelConfig, payload["config"], f"{path}: config"))
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise ValueError(f"{path}: the weights do not match the checkpoint's settings "
                         f"({first[1].strip() if len(first) > 1 else first[0]})") from None
    model.encoder.binary = bool(payload["binary"])
    psf = model.encoder.psf().detach().cpu()
    saved = payload["psf"]
    if psf.shape != saved.shape or not torch.allclose(psf, saved, rtol=1e-4, atol=1e-7):
        raise ValueError(f"{path}: this faceveil simulates the camera's optics differently from the one that saved "
                         f"it (PSF {tuple(saved.shape)} saved, {tuple(psf.shape)} rebuilt, or other values): its "
                         "back-end was trained on other images; retrain it with this version")
    return model.eval(), payload
