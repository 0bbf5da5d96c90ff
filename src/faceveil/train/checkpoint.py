"""Checkpoint files of :func:`faceveil.train.fit`, written atomically.

A checkpoint is one ``torch.save`` dict, readable with ``weights_only=True``: format and version, the
package version, the task and fit configurations, the provenance record, the models', optimisers',
schedulers' and scaler's states, every random state, the step and epoch counters and the history.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

CHECKPOINT_FORMAT = "faceveil-train-checkpoint"
CHECKPOINT_VERSION = 1


def save_atomic(payload: dict, path: str | Path) -> Path:
    """``torch.save`` ``payload`` to ``path`` through a temporary file renamed over it, so an interruption
    (or a failing write) leaves the previous file whole; the temporary file is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The payload of a checkpoint written by ``fit`` (``checkpoint.pt``, ``best.pt``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable torch file, not a fit checkpoint, or of another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training checkpoint not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for foreign or damaged files
        raise ValueError(f"{path} is not a readable torch checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a faceveil training checkpoint (no format {CHECKPOINT_FORMAT!r})")
    if payload.get("format_version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} has checkpoint format version {payload.get('format_version')!r}; "
                         f"this faceveil reads version {CHECKPOINT_VERSION}")
    return payload
