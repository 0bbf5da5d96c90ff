"""Writing result files atomically: a reader (or an interrupt) never sees half a result.json."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(path: str | Path, data) -> Path:
    """Write ``data`` as indented JSON to ``path`` through a temporary file and an atomic rename."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)
    return path
