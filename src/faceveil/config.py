"""Configuration dataclasses to and from plain dicts (JSON files, checkpoints), with strict key checks."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path


def to_dict(config) -> dict:
    """A (nested) dataclass as a plain dict of JSON types."""
    if not dataclasses.is_dataclass(config):
        raise ValueError(f"expected a configuration dataclass, got {type(config).__name__}")
    return dataclasses.asdict(config)


def from_dict(cls, data, where: str = "config"):
    """Build dataclass ``cls`` from ``data``, recursing into fields whose type is a dataclass.

    Missing keys take their defaults. Raises ``ValueError`` naming ``where`` and the key for an
    unknown key or a section that is not a dict; the dataclasses' own checks run as they are built.
    """
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a mapping of settings, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {', '.join(unknown)}; expected some of {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        kind = hints[name]
        values[name] = from_dict(kind, value, f"{where}.{name}") if dataclasses.is_dataclass(kind) else value
    try:
        return cls(**values)
    except TypeError as err:  # a required setting is missing
        raise ValueError(f"{where}: {err}") from err


def differences(a: dict, b: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two nested dicts (keys of either)."""
    keys = sorted(set(a) | set(b))
    out = []
    for key in keys:
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):
            out += differences(x, y, f"{prefix}{key}.")
        elif x != y:
            out.append(f"{prefix}{key}")
    return out


def config_file(name_or_path: str | Path, shipped: Path) -> Path:
    """The configuration file of ``name_or_path``: one shipped in the folder ``shipped`` by name
    (``smoke``, ``paper``), or a path. Raises ``FileNotFoundError`` naming the shipped ones."""
    named = shipped / f"{name_or_path}.json"
    if named.is_file() and not Path(name_or_path).exists():
        return named
    path = Path(name_or_path).expanduser()
    if not path.is_file():
        names = ", ".join(sorted(p.stem for p in shipped.glob("*.json")))
        raise FileNotFoundError(f"training configuration not found: {path} (the shipped ones: {names})")
    return path


def load_config(cls, name_or_path: str | Path, shipped: Path, data: dict | None = None, **overrides):
    """Read a configuration dataclass ``cls`` from JSON (nested sections as objects; keys starting with
    ``_`` are comments), by path or shipped name (:func:`config_file`). ``data`` updates the ``data``
    section, ``overrides`` replace top-level settings; None values are ignored. Raises ``ValueError``
    naming an unknown or bad setting."""
    path = config_file(name_or_path, shipped)
    try:
        settings = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(settings, dict):
        raise ValueError(f"{path} must hold a JSON object of settings")
    settings = {k: v for k, v in settings.items() if not k.startswith("_")}
    changes = {k: v for k, v in (data or {}).items() if v is not None}
    if changes:
        settings["data"] = {**settings.get("data", {}), **changes}
    settings |= {k: v for k, v in overrides.items() if v is not None}
    return from_dict(cls, settings, str(path))
