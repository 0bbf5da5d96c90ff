"""Labeled Faces in the Wild: image paths, pair lists and people splits of View 1 and View 2.

Layout (as unpacked from ``lfw.tgz``)::

    ROOT/lfw/<Name>/<Name>_<NNNN>.jpg
    ROOT/pairs.txt  people.txt  pairsDevTrain.txt  pairsDevTest.txt  peopleDevTrain.txt  peopleDevTest.txt

``ROOT`` may also be the image folder itself when the protocol files sit beside it (then pass
``pairs_file`` explicitly). Pairs files: a header line (``10 300`` for View 2 = folds, matched pairs per
fold; ``1100`` for View 1), then per fold ``n`` matched lines ``Name i j`` followed by ``n`` mismatched lines
``Name1 i Name2 j``. Malformed lines raise :class:`ProtocolFormatError` naming the file and line number.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIX = ".jpg"


class ProtocolFormatError(ValueError):
    """A pairs or people file does not follow the LFW format."""


@dataclass(frozen=True)
class Pair:
    """One verification pair: two image paths, whether they show the same person, and its fold (0-based)."""

    path_a: Path
    path_b: Path
    same: bool
    fold: int


def image_path(image_dir: Path, name: str, number: int) -> Path:
    """Path of image ``number`` (1-based) of person ``name``: ``image_dir/name/name_NNNN.jpg``."""
    return Path(image_dir) / name / f"{name}_{number:04d}{IMAGE_SUFFIX}"


class LFW:
    """An LFW copy on disk.

    Args:
        root: folder holding ``lfw/`` (images) and the protocol files, or the image folder itself.

    Raises:
        FileNotFoundError: if ``root`` or its image folder does not exist.
    """

    def __init__(self, root: str | Path) -> None:
        root = Path(root).expanduser()
        if not root.is_dir():
            raise FileNotFoundError(f"LFW root not found: {root} (expected a folder holding lfw/ and pairs.txt)")
        self.root = root
        self.image_dir = root / "lfw" if (root / "lfw").is_dir() else root
        if not any(self.image_dir.iterdir()):
            raise FileNotFoundError(f"LFW image folder is empty: {self.image_dir}")

    def protocol_file(self, name: str) -> Path:
        """Locate a protocol file (``pairs.txt`` etc.) in the root or beside the image folder."""
        for folder in (self.root, self.image_dir.parent):
            if (folder / name).is_file():
                return folder / name
        raise FileNotFoundError(f"LFW protocol file {name!r} not found in {self.root}")

    def pairs(self, view: str = "view2", on_missing: str = "error") -> list[Pair]:
        """Verification pairs of ``view`` in ``{"view2", "dev-train", "dev-test"}``.

        View 2 has 10 folds (``Pair.fold`` 0..9); View 1 files are one fold (0).
        ``on_missing``: see :func:`read_pairs`.
        """
        files = {"view2": "pairs.txt", "dev-train": "pairsDevTrain.txt", "dev-test": "pairsDevTest.txt"}
        if view not in files:
            raise ValueError(f"view must be one of {sorted(files)}, got {view!r}")
        return read_pairs(self.protocol_file(files[view]), self.image_dir, on_missing=on_missing)

    def people(self, view: str = "view2") -> list[list[tuple[str, int]]]:
        """People splits: for ``view2`` ten folds of (name, image count); for View 1 a single list."""
        files = {"view2": "people.txt", "dev-train": "peopleDevTrain.txt", "dev-test": "peopleDevTest.txt"}
        if view not in files:
            raise ValueError(f"view must be one of {sorted(files)}, got {view!r}")
        return read_people(self.protocol_file(files[view]))

    def images_of(self, people: list[tuple[str, int]]) -> list[tuple[Path, str]]:
        """(path, name) of every image of the given (name, count) people, in file order."""
        return [(image_path(self.image_dir, name, i), name) for name, count in people for i in range(1, count + 1)]


def _ints(tokens: list[str], where: str) -> list[int]:
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise ProtocolFormatError(f"{where}: expected integers, got {' '.join(tokens)!r}") from None


def read_pairs(pairs_file: str | Path, image_dir: str | Path, on_missing: str = "error") -> list[Pair]:
    """Parse an LFW pairs file (View 1 or View 2 format) into :class:`Pair` objects.

    Args:
        on_missing: what to do with a pair whose image file is missing: ``"error"`` (raise),
            ``"skip"`` (drop the pair with a warning naming it) or ``"ignore"`` (do not check files).

    Raises:
        FileNotFoundError: the pairs file, or (with ``on_missing="error"``) an image it names, is missing.
        ProtocolFormatError: a malformed header or line (the message names file and line number).
    """
    if on_missing not in ("error", "skip", "ignore"):
        raise ValueError(f"on_missing must be 'error', 'skip' or 'ignore', got {on_missing!r}")
    pairs_file = Path(pairs_file)
    if not pairs_file.is_file():
        raise FileNotFoundError(f"pairs file not found: {pairs_file}")
    lines = pairs_file.read_text().splitlines()
    if not lines:
        raise ProtocolFormatError(f"{pairs_file}: empty pairs file")
    header = lines[0].split()
    head = _ints(header, f"{pairs_file}:1 (header)")
    if len(head) == 1:
        n_folds, per_fold = 1, head[0]
    elif len(head) == 2:
        n_folds, per_fold = head
    else:
        raise ProtocolFormatError(f"{pairs_file}:1: header must be 'N' or 'FOLDS N', got {lines[0]!r}")
    body = [(no, line.split()) for no, line in enumerate(lines[1:], start=2) if line.strip()]
    if len(body) != 2 * n_folds * per_fold:
        raise ProtocolFormatError(
            f"{pairs_file}: header announces {n_folds} fold(s) x 2 x {per_fold} pairs = "
            f"{2 * n_folds * per_fold} lines, found {len(body)}"
        )
    image_dir = Path(image_dir)
    pairs = []
    for k, (no, tok) in enumerate(body):
        where = f"{pairs_file}:{no}"
        fold, within = divmod(k, 2 * per_fold)
        same = within < per_fold
        if same:
            if len(tok) != 3:
                raise ProtocolFormatError(f"{where}: a matched pair needs 'Name i j', got {' '.join(tok)!r}")
            i, j = _ints(tok[1:], where)
            a, b = image_path(image_dir, tok[0], i), image_path(image_dir, tok[0], j)
        else:
            if len(tok) != 4:
                raise ProtocolFormatError(f"{where}: a mismatched pair needs 'Name1 i Name2 j', got {' '.join(tok)!r}")
            i, j = _ints([tok[1], tok[3]], where)
            a, b = image_path(image_dir, tok[0], i), image_path(image_dir, tok[2], j)
        missing = [p for p in (a, b) if on_missing != "ignore" and not p.is_file()]
        if missing and on_missing == "error":
            raise FileNotFoundError(f"image not found: {missing[0]} (named in {where}); --on-missing skip (on_missing='skip' in Python) drops such pairs")
        if missing:
            warnings.warn(f"skipped the pair of {where}: image not found: {missing[0]}", stacklevel=2)
            continue
        pairs.append(Pair(a, b, same, fold))
    return pairs


def read_people(people_file: str | Path) -> list[list[tuple[str, int]]]:
    """Parse an LFW people file: ``people.txt`` (folds) or ``peopleDev*.txt`` (one list).

    Returns a list of folds, each a list of (name, image count).
    """
    people_file = Path(people_file)
    if not people_file.is_file():
        raise FileNotFoundError(f"people file not found: {people_file}")
    lines = [(no, line.split()) for no, line in enumerate(people_file.read_text().splitlines(), 1) if line.strip()]
    if not lines:
        raise ProtocolFormatError(f"{people_file}: empty people file")
    folds: list[list[tuple[str, int]]] = []
    # View 2 starts with the number of folds and prefixes every fold with its size; View 1 only with a size.
    n_folds = _ints(lines[0][1], f"{people_file}:{lines[0][0]}")[0] if len(lines[0][1]) == 1 else 0
    view2 = n_folds > 0 and len(lines) > 1 and len(lines[1][1]) == 1
    k = 1 if view2 else 0
    for _ in range(n_folds if view2 else 1):
        no, tok = lines[k]
        if len(tok) != 1:
            raise ProtocolFormatError(f"{people_file}:{no}: expected a fold size, got {' '.join(tok)!r}")
        size = _ints(tok, f"{people_file}:{no}")[0]
        fold = []
        for no, tok in lines[k + 1 : k + 1 + size]:
            if len(tok) != 2:
                raise ProtocolFormatError(f"{people_file}:{no}: expected 'Name count', got {' '.join(tok)!r}")
            fold.append((tok[0], _ints(tok[1:], f"{people_file}:{no}")[0]))
        if len(fold) != size:
            raise ProtocolFormatError(f"{people_file}: fold announces {size} people, found {len(fold)}")
        folds.append(fold)
        k += 1 + size
    if k != len(lines):
        raise ProtocolFormatError(f"{people_file}:{lines[k][0]}: unexpected extra line {' '.join(lines[k][1])!r}")
    return folds
