"""``faceveil embed``: embeddings of face images into an .npz file."""

from __future__ import annotations

import argparse

from . import outputs
from .options import add_model_options, add_on_error, add_overwrite, build_judge


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Embed face photos (files or folders, searched recursively) into an .npz file: "
                          "arrays embeddings (N, D) L2-normalised, raw_embeddings, paths (N,), detected (N,), "
                          "skipped, and provenance (a JSON string: command, data, version, machine).")
    parser.add_argument("inputs", nargs="+", help="image files or folders")
    parser.add_argument("--out", required=True, help="output .npz file")
    add_overwrite(parser)
    add_on_error(parser)
    add_model_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    import json

    import numpy as np

    from ..data.folders import expand_inputs
    from ..provenance import provenance
    from ..recognition.pipeline import embed_files

    paths = expand_inputs(args.inputs)
    out = outputs.prepare_file(args.out, overwrite=args.overwrite, suffix=".npz")
    embedder, aligner, cache = build_judge(args)
    emb = embed_files(paths, embedder, aligner, cache=cache, batch_size=args.batch_size, progress=not args.quiet,
                      on_error=args.on_error)
    np.savez(out, embeddings=emb.normalized().astype(np.float32), raw_embeddings=emb.embeddings,
             paths=np.array([str(p) for p in emb.paths]), detected=emb.detected, model=embedder.cache_key(),
             skipped=np.array([str(p) for p in emb.skipped], dtype=str),
             provenance=json.dumps(provenance(data={"inputs": [str(i) for i in args.inputs], "images": len(paths)})))
    print(f"wrote {len(emb.paths)} embeddings of dimension {emb.embeddings.shape[1]} to {out} "
          f"({emb.fallbacks} without a detected face, {emb.cached} from cache)")
    report_skipped(emb.skipped)
    return 0


def report_skipped(skipped) -> None:
    """One line per file that --on-error skip left out, and their count."""
    for path, reason in skipped.items():
        print(f"skipped {path}: {reason}")
    if skipped:
        print(f"{len(skipped)} unreadable file(s) skipped (--on-error skip)")
