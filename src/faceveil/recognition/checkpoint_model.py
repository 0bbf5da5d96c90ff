"""A recogniser trained by ``faceveil train`` as an embedder: ``--model checkpoint:PATH``.

Today's trained recognisers are the optical systems (MEM-FR, LOEN): scene -> simulated camera -> back-end.
Their embedder sees the face as the camera did: a dlib chip of the model's scene size (padding 0.25,
five landmarks), passed through the optics and the sensor with noise drawn from a fixed seed per image,
so that an image always gets the same embedding (the embedding cache relies on it).

The embedder carries the identity record of the people the model trained on
(:attr:`CheckpointEmbedder.trained_identities`): every evaluation checks it against the people it scores.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .base import AlignmentSpec, Embedder
from .cache import content_digest

#: the seed of the sensor noise of every embedded image
SENSOR_SEED = 0


def trained_identities(payload: dict) -> dict:
    """The identity record of a checkpoint payload (``provenance.protocol.train_identities``), or
    :data:`~faceveil.data.identities.UNKNOWN_IDENTITIES` for a checkpoint that did not record them."""
    from ..data.identities import UNKNOWN_IDENTITIES, check_record

    protocol = (payload.get("provenance") or {}).get("protocol") or {}
    record = protocol.get("train_identities")
    return UNKNOWN_IDENTITIES if record is None else check_record(record)


class CheckpointEmbedder(Embedder):
    """Embeddings (N, D) of aligned chips (N, 3, S, S) in [0, 1] through a trained optical model.

    Args:
        path: ``model.pt`` written by ``faceveil train optical``.
        flip: average the embeddings of each chip and its mirror image.
        device: torch device.

    Raises:
        FileNotFoundError: ``path`` does not exist. ValueError: it is not a faceveil checkpoint.
    """

    name = "checkpoint"
    landmarks = 5

    def __init__(self, path: str | Path, flip: bool = False, device: str = "cpu") -> None:
        from ..protect.optical.model import load_checkpoint

        super().__init__(flip)
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {self.path}")
        self.model, payload = load_checkpoint(self.path, map_location=device)
        self.device = torch.device(device)
        self.model.to(self.device)
        size = self.model.config.encoder.image_size
        self.alignment = AlignmentSpec((size, size), "dlib-chip", 0.25)
        self.dim = self.model.config.embedding_dim
        self.name = f"checkpoint:{self.path.name} ({self.model.config.encoder.system})"
        self.trained_identities = trained_identities(payload)
        self._digest = content_digest(self.path)

    def model_key(self) -> str:
        return f"checkpoint:{self._digest[:16]}|sensor-seed={SENSOR_SEED}"

    def _embed_raw(self, chips: torch.Tensor) -> torch.Tensor:
        from ..data.images import to_grey

        scenes = chips if self.model.config.channels == 3 else to_grey(chips)
        captured = torch.cat([self.model.encrypt(scene[None].to(self.device), torch.Generator().manual_seed(SENSOR_SEED))
                              for scene in scenes])  # a CPU generator: the same noise on every device
        with torch.no_grad():
            self.model.eval()
            return self.model.recognise(captured).cpu()
