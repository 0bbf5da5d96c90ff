"""Configuration dataclasses to and from plain dicts (JSON files, checkpoints), with strict key checks."""

from __future__ import annotations

import dataclasses
import typing


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
