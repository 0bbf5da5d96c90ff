"""Parity of the torch port with the reference runtime: the same TF.js graph run by TensorFlow.js in Node.

:func:`reference_runtime` installs ``@tensorflow/tfjs-core``, ``-converter`` and ``-backend-cpu`` (the
pure-JavaScript CPU backend, pinned to :data:`TFJS_VERSION`) with npm into the user cache, once;
:func:`run_reference` runs ``reference.mjs`` on NHWC inputs; :func:`compare_outputs` gives the figures of
the comparison (per-row cosine, largest absolute difference). Node is slow here (about 2 s per 224 x 224
image): a parity check on tens of chips, not a way to embed.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from ...paths import cache_dir
from .install import InstallError

TFJS_VERSION = "4.22.0"
TFJS_PACKAGES = tuple(f"@tensorflow/tfjs-{part}@{TFJS_VERSION}" for part in ("core", "converter", "backend-cpu"))
REFERENCE_SCRIPT = Path(__file__).with_name("reference.mjs")


def reference_runtime(folder: Path | None = None) -> Path:
    """The folder whose ``node_modules`` holds the TF.js packages (installed there by npm if missing).

    Raises:
        InstallError: node or npm is missing, or npm fails.
    """
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise InstallError("the reference runtime needs Node.js and npm on the PATH")
    folder = folder or cache_dir() / f"tfjs-reference-{TFJS_VERSION}"
    if (folder / "node_modules" / "@tensorflow" / "tfjs-converter").is_dir():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"name": "faceveil-tfjs-reference", "private": true}\n')
    done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", *TFJS_PACKAGES], cwd=folder,
                          capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()] or [f"exit status {done.returncode}"]
        raise InstallError(f"npm install of {', '.join(TFJS_PACKAGES)} failed: {lines[-1]}")
    return folder


def run_reference(model_json: Path, inputs: np.ndarray, output: str, runtime: Path) -> np.ndarray:
    """Outputs (N, D) float32 of the graph in Node for NHWC float32 ``inputs`` (N, H, W, C)."""
    inputs = np.ascontiguousarray(inputs, dtype="<f4")
    n, h, w, c = inputs.shape
    with tempfile.TemporaryDirectory(prefix="faceveil-tfjs-") as tmp:
        src, dst = Path(tmp) / "input.f32", Path(tmp) / "output.f32"
        inputs.tofile(src)
        done = subprocess.run(["node", str(REFERENCE_SCRIPT), str(runtime), str(model_json), str(src), str(n), str(h),
                               str(w), str(c), output, str(dst)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the TF.js reference run failed: {done.stderr.strip()[-2000:]}")
        return np.fromfile(dst, "<f4").reshape(n, -1)


def compare_outputs(ours: np.ndarray, reference: np.ndarray) -> dict:
    """Per-row cosine (min, mean) and the largest absolute difference of two (N, D) arrays."""
    ours, reference = np.asarray(ours, np.float64), np.asarray(reference, np.float64)
    if ours.shape != reference.shape:
        raise ValueError(f"shapes differ: {ours.shape} and {reference.shape}")
    cos = (ours * reference).sum(1) / np.maximum(np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1),
                                                 1e-30)
    return {"n": int(len(ours)), "cosine_min": float(cos.min()), "cosine_mean": float(cos.mean()),
            "max_abs_difference": float(np.abs(ours - reference).max()),
            "max_abs_reference": float(np.abs(reference).max())}
