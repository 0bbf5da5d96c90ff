"""Output paths of every command, checked before any work: one place for folders, files and clean-up.

A command declares its outputs first (:func:`prepare_folder`, :func:`prepare_file`): the path is checked
(no file where a folder is wanted and the other way round, no existing output without ``--overwrite``,
not inside an input folder), created, and probed by writing a temporary file, so that a read-only
location fails in a second, not after an hour of work. Folders a command created and left empty
(because it failed or was interrupted) are removed by the entry point (:func:`discard_empty`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .options import UserError

#: folders created by the running command, in creation order
_created: list[Path] = []


def _make_folder(folder: Path, option: str) -> None:
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{option} {folder}: {probe} is a file, not a folder")
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:  # made meanwhile by another process (every torchrun rank prepares its outputs)
            continue
        except OSError as err:
            raise UserError(f"{option} {folder}: cannot create {path}: {err.strerror}") from None
        _created.append(path)


def _probe_writable(folder: Path, option: str, shown: Path) -> None:
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".faceveil-probe-")
    except OSError as err:
        raise UserError(f"{option} {shown}: cannot write in {folder}: {err.strerror}") from None
    os.close(handle)
    os.unlink(name)


def check_outside(out: str | Path, inputs, option: str = "--out") -> None:
    """Refuse an output folder that is, or lies inside, one of the input folders (its outputs would
    become inputs of the next run)."""
    target = Path(out).expanduser().resolve()
    for item in inputs:
        folder = Path(item).expanduser().resolve()
        if folder.is_dir() and (target == folder or folder in target.parents):
            raise UserError(f"{option} {out} lies inside the input folder {item}; choose a folder outside it")


def check_not_inputs(out: str | Path, outputs: tuple[str, ...], inputs, option: str = "--out") -> None:
    """Refuse, even with ``--overwrite``, an output that would replace one of the input files."""
    files = {Path(item).expanduser().resolve() for item in inputs if Path(item).expanduser().is_file()}
    if not files:
        return
    folder = Path(out).expanduser().resolve()
    for name in outputs:
        if (folder / name).resolve() in files:
            raise UserError(f"{option} {out}: {folder / name} would replace the input {folder / name}; "
                            "faceveil never writes over an input, choose another folder")


def prepare_folder(path: str | Path, *, option: str = "--out", overwrite: bool = False,
                   outputs: tuple[str, ...] = (), inputs=()) -> Path:
    """Check, create and probe an output folder.

    Args:
        path: the folder.
        option: the flag that named it (for messages).
        overwrite: existing ``outputs`` may be replaced.
        outputs: the names the command will write inside (files or folders).
        inputs: input files and folders the output must stay outside of.

    Raises:
        UserError: a file stands where the folder should be, an output exists without ``overwrite``,
            an output file's place is taken by a folder, the folder lies inside an input folder, an
            output would replace an input file (even with ``overwrite``), or it cannot be created or written.
    """
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise UserError(f"{option} {path} exists and is not a folder")
    check_outside(path, inputs, option)
    check_not_inputs(path, outputs, inputs, option)
    existing = [name for name in outputs if (path / name).exists()]
    if existing and not overwrite:
        raise UserError(f"{option} {path} already holds {', '.join(existing)}; pass --overwrite to replace")
    for name in existing:
        wanted_file = Path(name).suffix != ""
        if wanted_file and (path / name).is_dir():
            raise UserError(f"{option} {path}: {path / name} is a folder; it cannot be replaced by a file")
    _make_folder(path, option)
    _probe_writable(path, option, path)
    return path


def prepare_file(path: str | Path, *, option: str = "--out", overwrite: bool = False,
                 suffix: str | None = None) -> Path:
    """Check an output file and create and probe its folder; raises :class:`UserError` as
    :func:`prepare_folder` does, and when ``suffix`` (e.g. ``".npz"``) does not match."""
    path = Path(path).expanduser()
    if suffix is not None and path.suffix != suffix:
        raise UserError(f"{option} must end with {suffix}, got {path}")
    if path.is_dir():
        raise UserError(f"{option} {path} is a folder; name a {suffix or ''} file".replace("  ", " "))
    if path.exists() and not overwrite:
        raise UserError(f"{option} {path} exists; pass --overwrite to replace it")
    _make_folder(path.parent, option)
    _probe_writable(path.parent, option, path)
    return path


def commit() -> None:
    """The command succeeded: keep every folder it created."""
    _created.clear()


def discard_empty() -> None:
    """Remove the folders the command created and left empty (deepest first); keep everything else."""
    for folder in reversed(_created):
        try:
            folder.rmdir()
        except OSError:  # not empty (partial outputs, caches to resume from) or already gone
            pass
    _created.clear()
