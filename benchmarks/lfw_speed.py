"""Speed of the evaluation core on LFW photos, with the command line's default settings: detection +
alignment and embedding separately, and the wall time of a cold (empty cache) and a warm (cached)
verification run.

    python benchmarks/lfw_speed.py --root ../shared/data/lfw --images 256 --folds 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from faceveil.cli import DEFAULTS
from faceveil.data.images import load_rgb, to_tensor
from faceveil.data.lfw import LFW
from faceveil.eval.pairs import evaluate_pairs
from faceveil.faces.align import FaceAligner
from faceveil.recognition.cache import EmbeddingCache
from faceveil.recognition.dlib_native import DlibEmbedder

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default="../shared/data/lfw")
    ap.add_argument("--images", type=int, default=256)
    ap.add_argument("--folds", type=int, default=1, help="View 2 folds (600 pairs each) for the cold/warm run")
    args = ap.parse_args()
    pairs = LFW(args.root).pairs("view2")
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))[: args.images]
    photos = [load_rgb(p) for p in paths]

    judge = DlibEmbedder()
    aligner = FaceAligner(judge.alignment, DEFAULTS["detector"], DEFAULTS["upsample"], DEFAULTS["landmarks"])
    t0 = time.perf_counter()
    chips = to_tensor([aligner.align(photo).chip for photo in photos])
    t_align = time.perf_counter() - t0
    print(f"detection + landmarks + chip (1 process): {len(photos) / t_align:.1f} images/s")
    for workers in (1, 2):
        emb = DlibEmbedder(workers=workers, flip=DEFAULTS["flip"])
        emb.embed_raw(chips[: 2 * workers])  # start the worker processes outside the timing
        t0 = time.perf_counter()
        for batch in chips.split(64):
            emb.embed_raw(batch)
        dt = time.perf_counter() - t0
        emb.close()
        print(f"dlib embedding (flip={DEFAULTS['flip']}), {workers} process(es), batch 64: {len(chips) / dt:.1f} images/s")

    subset = [p for p in pairs if p.fold < args.folds]
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp) / "c.sqlite")
        emb = DlibEmbedder(workers=2, flip=DEFAULTS["flip"])
        for run in ("cold", "warm"):
            t0 = time.perf_counter()
            ev = evaluate_pairs(subset, emb, aligner, cache=cache, batch_size=64, progress=False)
            print(f"{run} run, {len(subset)} pairs ({ev.report['n_images']} images): {time.perf_counter() - t0:.2f} s")
        emb.close()

if __name__ == "__main__":
    main()
