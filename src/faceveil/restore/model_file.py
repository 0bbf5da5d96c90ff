"""The deployable file of a trained restorer (``model.pt``): settings that rebuild the network, its weights
(float16 by default: a few MB), the face-chip geometry it restores and the training's record."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from torch import nn


def save_network(path: str | Path, format_name: str, format_version: int, model: nn.Module, chip: dict,
                 extra: dict | None = None, half: bool = True) -> Path:
    """Write ``model`` (``model.settings()`` and its weights, float16 if ``half``), the geometry of the
    ``chip`` it restores (``{"method", "size", "padding"}``) and ``extra`` entries (the training's config,
    history, provenance with the people trained on), atomically."""
    from .. import __version__
    from ..train.checkpoint import save_atomic

    weights = {k: v.detach().cpu().half() if half and v.is_floating_point() else v.detach().cpu()
               for k, v in model.state_dict().items()}
    return save_atomic({"format": format_name, "format_version": format_version, "faceveil_version": __version__,
                        "model": model.settings(), "chip": dict(chip), "state_dict": weights, **(extra or {})}, path)


def load_network(path: str | Path, format_name: str, format_version: int, what: str,
                 build: Callable[[dict], nn.Module], map_location="cpu") -> tuple[nn.Module, dict]:
    """The network (float32, eval mode) ``build(settings)`` with the stored weights, and the whole payload of
    a file of :func:`save_network`.

    Raises:
        FileNotFoundError / ValueError: no such file, not a ``what``, or settings that do not match the
            stored weights (an edited file).
    """
    from ..train.checkpoint import read_payload

    payload = read_payload(path, format_name, format_version, what, map_location)
    try:
        model = build(dict(payload["model"]))
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in payload["state_dict"].items()})
    except (TypeError, KeyError, RuntimeError, ValueError) as err:
        raise ValueError(f"{path}: the stored settings {payload.get('model')} do not build a network that matches "
                         f"the stored weights ({str(err).splitlines()[0]})") from None
    return model.eval(), payload


class TrainedRestorer:
    """What a restorer built from a file of :func:`save_network` has: :meth:`from_file`, the ``path`` and
    ``payload`` it came from and the people it trained on. Subclasses set :attr:`read_model` (path ->
    (network, payload)) and take ``(network, payload, **options)``."""

    read_model: Callable[[str | Path], tuple[nn.Module, dict]]
    payload: dict
    path: Path | None = None

    @classmethod
    def from_file(cls, path: str | Path, **kwargs):
        """The restorer of a ``model.pt`` of ``faceveil train``; ``kwargs`` go to the constructor."""
        model, payload = cls.read_model(path)
        restorer = cls(model, payload, **kwargs)
        restorer.path = Path(path)
        return restorer

    @property
    def train_identities(self) -> dict | None:
        """The identity record of the people the model trained on (None if it does not say)."""
        protocol = (self.payload.get("provenance") or {}).get("protocol") or {}
        return protocol.get("train_identities")
