"""Ablation of the dlib judge's LFW pipeline: which factor closes the gap to dlib's published 99.38 %?

Each configuration changes one factor of the baseline (HOG detector with one upsampling, face nearest
the centre, 5-point landmarks, fixed box when nothing is detected, no jitter, no flip, cosine score).
Embeddings go through the shared cache, so configurations that share chips share work. Prints one JSON
row per configuration and a markdown table; writes ``result.json`` (the rows) and ``table.md`` into
``--out``.

Runs of docs/benchmarks.md:
    faceveil bench lfw-ablation --root ../shared/data/lfw --model dlib-torch --folds 0,1 \\
        --configs landmarks68+flip,landmarks68+jitter10,baseline,flip --out runs/abl_torch_jitter_2folds
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..data.lfw import LFW
from ..eval.pairs import evaluate_pairs
from ..faces.align import FaceAligner
from ..provenance import provenance
from ..recognition.cache import EmbeddingCache
from ..recognition.registry import make_embedder
from ..report.io import write_json

OUTPUTS = ("result.json", "table.md")
BASE_ALIGN = {"detector": "hog", "upsample": 1, "landmarks": 5, "upscale": 1.0}
BASE_EMBED = {"flip": False, "jitter": 0}

#: name -> (aligner changes, embedder changes, score); the names are listed in faceveil.cli.bench too
CONFIGS = {
    "baseline": ({}, {}, "cosine"),
    "euclidean": ({}, {}, "euclidean"),
    "upsample2": ({"upsample": 2}, {}, "cosine"),
    "hog+cnn": ({"detector": "hog+cnn"}, {}, "cosine"),
    "cnn": ({"detector": "cnn"}, {}, "cosine"),
    "landmarks68": ({"landmarks": 68}, {}, "cosine"),
    "upscale250": ({"upscale": 250 / 150}, {}, "cosine"),
    "flip": ({}, {"flip": True}, "cosine"),
    "jitter10": ({}, {"jitter": 10}, "cosine"),
    "flip+euclidean": ({}, {"flip": True}, "euclidean"),
    "jitter10+euclidean": ({}, {"jitter": 10}, "euclidean"),
    "landmarks68+flip": ({"landmarks": 68}, {"flip": True}, "cosine"),
    "landmarks68+flip+euclidean": ({"landmarks": 68}, {"flip": True}, "euclidean"),
    "landmarks68+jitter10": ({"landmarks": 68}, {"jitter": 10}, "cosine"),
    "hog+cnn+landmarks68+flip": ({"detector": "hog+cnn", "landmarks": 68}, {"flip": True}, "cosine"),
    "hog+cnn+landmarks68+flip+euclidean": ({"detector": "hog+cnn", "landmarks": 68}, {"flip": True}, "euclidean"),
}


def ablate(pairs: list, names: list[str], model: str, workers: int, progress: bool = True) -> list[dict]:
    """One row per configuration of ``names`` (keys of :data:`CONFIGS`): the verification report of
    ``pairs`` with ``model`` (``workers`` processes for the native judge) and the seconds it took."""
    unknown = [name for name in names if name not in CONFIGS]
    if unknown or not names:
        raise ValueError(f"unknown configuration(s) {unknown or names}; expected some of {', '.join(CONFIGS)}")
    cache = EmbeddingCache()
    rows = []
    for name in names:
        align_kw, embed_kw, metric = CONFIGS[name]
        options = {**BASE_EMBED, **embed_kw}
        if model == "dlib":
            options["workers"] = workers
        embedder = make_embedder(model, **options)
        aligner = FaceAligner(embedder.alignment, **{**BASE_ALIGN, **align_kw})
        t0 = time.perf_counter()
        ev = evaluate_pairs(pairs, embedder, aligner, metric=metric, cache=cache, batch_size=64, progress=progress)
        getattr(embedder, "close", lambda: None)()
        r = ev.report
        rows.append({
            "config": name, "model": model, "accuracy_mean": r["accuracy_mean"], "accuracy_std": r["accuracy_std"],
            "auc": r["auc"], "eer": r["eer"], "tar@1e-3": r["tar_at_far"]["1e-03"], "fallbacks": r["fallbacks"],
            "n_images": r["n_images"], "n_pairs": r["n_pairs"], "seconds": time.perf_counter() - t0,
            "fold_thresholds": r["fold_thresholds"],
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as a markdown table; the accuracy differences are against the first row."""
    base = rows[0]["accuracy_mean"]
    lines = ["| configuration | accuracy (%) | std | vs first row (points) | AUC | EER (%) | TAR@FAR=1e-3 (%) | fallbacks |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['config']} | {100 * r['accuracy_mean']:.2f} | {100 * r['accuracy_std']:.2f} | "
            f"{100 * (r['accuracy_mean'] - base):+.2f} | {r['auc']:.4f} | {100 * r['eer']:.2f} | "
            f"{100 * r['tar@1e-3']:.2f} | {r['fallbacks']} of {r['n_images']} |"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """``faceveil bench lfw-ablation`` (options: :func:`faceveil.cli.bench._lfw_ablation`)."""
    from ..cli import outputs

    root = Path(args.root)
    pairs = LFW(root).pairs("view2")
    if args.folds is not None:
        pairs = [p for p in pairs if p.fold in args.folds]
    if not pairs:
        raise ValueError(f"--folds {args.folds}: no View 2 pairs of {root} lie in these folds")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS, inputs=[root])
    rows = ablate(pairs, list(args.configs), args.model, args.workers, progress=not args.quiet)
    table = markdown(rows)
    print(table)
    (out / "table.md").write_text(table + "\n")
    settings = {"configs": list(args.configs), "model": args.model, "workers": args.workers,
                "base_alignment": BASE_ALIGN, "base_embedding": BASE_EMBED}
    data = {"root": str(root.resolve()), "view": "view2", "folds": args.folds if args.folds is not None else "all",
            "pairs": len(pairs)}
    write_json(out / "result.json", {"settings": settings, "rows": rows, "table": table,
                                     "provenance": provenance(data=data, seed=None)})
    print(f"wrote {out / 'result.json'} and {out / 'table.md'}")
    return 0
