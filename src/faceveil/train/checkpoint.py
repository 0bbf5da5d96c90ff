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


def read_payload(path: str | Path, format_name: str, format_version: int, what: str,
                 map_location: str | torch.device = "cpu") -> dict:
    """The dict saved in a faceveil torch file of format ``format_name``, version ``format_version``.

    Raises:
        FileNotFoundError: no file at ``path`` (the message calls it ``what``).
        ValueError: the file is not a readable torch file, not of that format, or of another version.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch raises many types for foreign or damaged files
        raise ValueError(f"{path} is not a readable torch checkpoint: {err}") from err
    if not isinstance(payload, dict) or payload.get("format") != format_name:
        raise ValueError(f"{path} is not a faceveil {what} (no format {format_name!r})")
    if payload.get("format_version") != format_version:
        raise ValueError(f"{path} has checkpoint format version {payload.get('format_version')!r}; "
                         f"this faceveil reads version {format_version}")
    return payload


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The payload of a checkpoint written by ``fit`` (``checkpoint.pt``, ``best.pt``): :func:`read_payload`."""
    return read_payload(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, "training checkpoint", map_location)
