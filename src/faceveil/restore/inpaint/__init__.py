"""Reconstruction of occluded faces (seed 002): Algorithm 1 occlusions and irregular masks, a GAN whose
generator (a V-Net by default) sees only the damaged face, OpenCV baselines, and judges of identity."""

from __future__ import annotations

from pathlib import Path

#: the shipped generator (V-Net 16-32-64-128-128 of view2-2fold split 0, float16) and its card
WEIGHTS = Path(__file__).parent / "weights"
#: the model ``faceveil restore inpaint`` uses without ``--model``
SHIPPED = "vnet16-split0.pt"


def shipped_model() -> Path | None:
    """The shipped V-Net (trained on the people of View 2 folds 1-5), or None if absent."""
    path = WEIGHTS / SHIPPED
    return path if path.is_file() else None
