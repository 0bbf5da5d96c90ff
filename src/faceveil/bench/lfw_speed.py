"""Speed of the evaluation core on LFW photos, with the command line's default settings: detection +
alignment and embedding separately, and the wall time of a cold (empty cache) and a warm (cached)
verification run. Writes ``result.json`` into ``--out``.

Run of docs/benchmarks.md:
    faceveil bench lfw-speed --root ../shared/data/lfw --images 256 --folds 1 --out runs/lfw-speed
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ..cli.options import DEFAULTS
from ..data.images import load_rgb, to_tensor
from ..data.lfw import LFW
from ..eval.pairs import evaluate_pairs
from ..faces.align import FaceAligner
from ..provenance import provenance
from ..recognition.cache import EmbeddingCache
from ..recognition.dlib_native import DlibEmbedder
from ..report.io import write_json

OUTPUTS = ("result.json",)


def run(args: argparse.Namespace) -> int:
    """``faceveil bench lfw-speed`` (options: :func:`faceveil.cli.bench._lfw_speed`)."""
    from ..cli import outputs

    root = Path(args.root)
    pairs = LFW(root).pairs("view2")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS, inputs=[root])
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))[: args.images]
    photos = [load_rgb(p) for p in paths]

    judge = DlibEmbedder()
    aligner = FaceAligner(judge.alignment, DEFAULTS["detector"], DEFAULTS["upsample"], DEFAULTS["landmarks"])
    t0 = time.perf_counter()
    chips = to_tensor([aligner.align(photo).chip for photo in photos])
    t_align = time.perf_counter() - t0
    print(f"detection + landmarks + chip (1 process): {len(photos) / t_align:.1f} images/s")
    embedding = []
    for workers in (1, 2):
        emb = DlibEmbedder(workers=workers, flip=DEFAULTS["flip"])
        emb.embed_raw(chips[: 2 * workers])  # start the worker processes outside the timing
        t0 = time.perf_counter()
        for batch in chips.split(64):
            emb.embed_raw(batch)
        dt = time.perf_counter() - t0
        emb.close()
        embedding.append({"workers": workers, "batch_size": 64, "images_per_s": len(chips) / dt})
        print(f"dlib embedding (flip={DEFAULTS['flip']}), {workers} process(es), batch 64: {len(chips) / dt:.1f} images/s")

    subset = [p for p in pairs if p.fold < args.folds]
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        cache = EmbeddingCache(Path(tmp) / "c.sqlite")
        emb = DlibEmbedder(workers=2, flip=DEFAULTS["flip"])
        for label in ("cold", "warm"):
            t0 = time.perf_counter()
            ev = evaluate_pairs(subset, emb, aligner, cache=cache, batch_size=64, progress=False)
            seconds = time.perf_counter() - t0
            runs[label] = {"seconds": seconds, "pairs": len(subset), "images": ev.report["n_images"],
                           "images_from_cache": ev.embeddings.cached}
            print(f"{label} run, {len(subset)} pairs ({ev.report['n_images']} images): {seconds:.2f} s")
        emb.close()

    data = {"root": str(root.resolve()), "view": "view2", "images": len(photos), "folds": args.folds}
    result = {"settings": {**DEFAULTS, "model": judge.name, "images": args.images, "folds": args.folds},
              "alignment": {"processes": 1, "images": len(photos), "seconds": t_align,
                            "images_per_s": len(photos) / t_align},
              "embedding": embedding, "verification": runs,
              "provenance": provenance(data=data, seed=None)}
    write_json(out / "result.json", result)
    print(f"wrote {out / 'result.json'}")
    return 0
