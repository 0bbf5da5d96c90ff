"""The one provenance record every command, checkpoint and result file carries.

A record answers "where did this come from?": the command line, the data, the protocol (and the
identities a model trained on), the seed, the package version and the machine. Commands build it
with :func:`provenance` and store it under the key ``"provenance"`` of their ``result.json``,
sidecars and checkpoints; nothing else in the package builds such a record by hand.
"""

from __future__ import annotations

import datetime
import os
import platform
import shlex
import sys

from . import __version__

#: the command line of this process, set by the ``faceveil`` entry point (``faceveil`` + its arguments)
_COMMAND: list[str] | None = None


def set_command(argv: list[str]) -> None:
    """Remember the arguments of the running ``faceveil`` command (called once by the entry point)."""
    global _COMMAND
    _COMMAND = ["faceveil", *argv]


def command_line(secret_options: tuple[str, ...] = (), hidden_words: tuple[str, ...] = ()) -> str:
    """The running command as a shell line: the ``faceveil`` command if one runs, else ``sys.argv``.

    The values of ``secret_options`` (e.g. ``("--seed",)``, a seed that would let anyone remove DP
    noise) are replaced by ``<secret>``, in both the ``--seed 3`` and the ``--seed=3`` form; words equal
    to one of ``hidden_words`` (e.g. input paths, whose names can be identities) by ``<input>``.
    """
    words = _COMMAND if _COMMAND is not None else [os.path.basename(sys.argv[0]), *sys.argv[1:]]
    shown, hide = [], False
    for word in words:
        option = word.split("=", 1)[0]
        if hide:
            shown.append("<secret>")
        elif word in hidden_words:
            shown.append("<input>")
        elif option in secret_options and "=" in word:
            shown.append(f"{option}=<secret>")
        else:
            shown.append(word)
        hide = word in secret_options
    return shlex.join(shown)


def machine() -> dict:
    """Facts about this machine that change measured speeds and, rarely, numbers."""
    facts = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count()}
    if "torch" in sys.modules:  # never import torch just to describe the machine
        torch = sys.modules["torch"]
        facts |= {"torch": str(torch.__version__), "torch_threads": torch.get_num_threads(),
                  "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    return facts


def provenance(*, data: dict | None = None, protocol: dict | None = None, seed: int | None = None,
               secret_options: tuple[str, ...] = (), hidden_words: tuple[str, ...] = (), **extra) -> dict:
    """The provenance record of a result, checkpoint or sidecar written now.

    Args:
        data: what was read (root folder, view, image count, whether it is the embedded sample...).
        protocol: the evaluation or training protocol (:meth:`faceveil.data.protocols.Split.record`),
            including the identities a model trained on.
        seed: the seed of every random choice, or None where nothing is random.
        secret_options: options whose values the record must not show (:func:`command_line`).
        hidden_words: words of the command line the record must not show (:func:`command_line`).
        extra: further facts of the command (settings), stored as given.
    """
    record = {"command": command_line(secret_options, hidden_words), "data": data, "protocol": protocol, "seed": seed,
              "version": __version__, "machine": machine(),
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    return record | extra
