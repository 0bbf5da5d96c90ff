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
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        source = "$FACEVEIL_CACHE" if env else "the cache folder (set $FACEVEIL_CACHE to move it)"
        raise ValueError(f"cannot create {source} {path}: {err.strerror}") from None
    return path
