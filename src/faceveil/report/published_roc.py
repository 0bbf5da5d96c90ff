"""Reading the ROC curves that LFW participants published (``lfw/roc-files``), to plot beside ours.

The files are plain text in several dialects: two columns separated by spaces, tabs or commas, CRLF or
LF line ends, optional header or comment lines (``TP FP``, ``% false positive rate; true positive
rate``, Octave's ``# name: ...``), extra columns (Octave matrices, whose first two columns are the
curve), ``NaN`` rows, and above all no agreed column order: LFW's own gnuplot script reads column 1 as
TPR and column 2 as FPR, but some files are the other way round, and at least one header names its
columns in the wrong order (``LFW_ROC_SFRD+PMML.txt``). Headers are therefore ignored and the order is
detected from the data (see :func:`read_published_roc`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

CURVE_SUFFIXES = (".txt", ".tpfp")
_SEPARATORS = re.compile(r"[\s,;]+")
_COMMENT_PREFIXES = ("#", "%")


def _numeric_rows(path: Path) -> np.ndarray:
    """The numeric table of a text file (R, C): header lines before the data are skipped."""
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise ValueError(f"{path.name}: a binary file, not a text ROC curve")
    rows, width = [], None
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith(_COMMENT_PREFIXES):
            continue
        try:
            values = [float(token) for token in _SEPARATORS.split(text)]
        except ValueError:
            if rows:
                raise ValueError(f"{path.name}:{number}: non-numeric line inside the data: {text[:40]!r}") from None
            continue  # a header line
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise ValueError(f"{path.name}:{number}: {len(values)} columns where earlier lines have {width}")
        rows.append(values)
    if not rows:
        raise ValueError(f"{path.name}: no numeric rows found")
    if width < 2:
        raise ValueError(f"{path.name}: one column only; a ROC curve needs a TPR and an FPR column")
    return np.asarray(rows, dtype=np.float64)


def read_published_roc(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a published ROC curve file as ``(fpr, tpr)``.

    The first two numeric columns are the curve. Rows with NaN are dropped; all other values must lie
    in [0, 1]. Column order heuristic: the curve of any system better than chance lies above the
    diagonal, so the column with the larger mean is taken as TPR (on an exact tie, LFW's order: TPR
    first). Duplicate points are merged, and the points are returned sorted by FPR, then TPR; the
    TPR must then be non-decreasing, which rejects files holding several curves one after the other.

    Args:
        path: a curve file, e.g. ``.../lfw/roc-files/dlib_LFW_roc_curve.txt``.

    Returns:
        ``(fpr, tpr)``, two float64 arrays (T,) with ``fpr`` non-decreasing.

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file cannot be read as one ROC curve (the message names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ROC file not found: {path}")
    table = _numeric_rows(path)[:, :2]
    table = table[~np.isnan(table).any(axis=1)]
    if table.shape[0] < 2:
        raise ValueError(f"{path.name}: fewer than 2 points without NaN")
    if table.min() < 0 or table.max() > 1:
        raise ValueError(f"{path.name}: values outside [0, 1] ({table.min():g} to {table.max():g}); not TPR/FPR rates")
    first_is_tpr = table[:, 0].mean() >= table[:, 1].mean()
    points = np.unique(table[:, ::-1] if first_is_tpr else table, axis=0)  # rows (fpr, tpr), sorted
    fpr, tpr = points[:, 0], points[:, 1]
    if (np.diff(tpr) < 0).any():
        raise ValueError(f"{path.name}: TPR decreases as FPR grows; not a single ROC curve")
    return fpr, tpr


def list_published_rocs(root) -> list[Path]:
    """Candidate curve files in ``root``: ``*.txt`` and ``*.TPFP`` (any case), sorted by name.

    Editor backups (``name~``) and hidden files are skipped. Some listed files may still fail
    :func:`read_published_roc` (e.g. a binary upload, or a single-column file).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"ROC folder not found: {root}")
    return sorted(
        p for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in CURVE_SUFFIXES and not p.name.startswith(".")
    )
