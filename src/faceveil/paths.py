"""Where faceveil keeps derived files (embedding caches, converted weights)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$FACEVEIL_CACHE`` if set, else ``$XDG_CACHE_HOME/faceveil``, else ``~/.cache/faceveil`` (created)."""
    env = os.environ.get("FACEVEIL_CACHE")
    if env:
        path = Path(env).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base).expanduser() / "faceveil"
    path.mkdir(parents=True, exist_ok=True)
    return path
