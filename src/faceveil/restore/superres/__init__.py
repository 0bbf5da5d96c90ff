"""Identity-preserving face hallucination (seed 003): EDSR x4 trained with an identity loss through a frozen
recogniser, so that very low-resolution faces still match their high-resolution gallery photos."""

from __future__ import annotations

from pathlib import Path

#: the shipped models (EDSR_{16,64,0.5} of each view2-2fold split, float16) and their card
WEIGHTS = Path(__file__).parent / "weights"
#: the model ``faceveil restore superres`` uses without ``--model``
SHIPPED = "edsr16-64-id0.5-split0.pt"


def shipped_model() -> Path | None:
    """The shipped EDSR_{16,64,0.5} (trained on the people of View 2 folds 1-5), or None if absent."""
    path = WEIGHTS / SHIPPED
    return path if path.is_file() else None
