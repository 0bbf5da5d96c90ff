"""The small LFW sample shipped inside the package (40 identities x 4 images, 120 pairs in 10 folds)."""

from __future__ import annotations

from pathlib import Path


def sample_root() -> Path:
    """Root of the embedded LFW sample (holds ``lfw/`` and ``pairs.txt``), usable as ``LFW(sample_root())``."""
    return Path(__file__).parent / "sample" / "lfw"
