"""``faceveil compare``: are two face photos of the same person?"""

from __future__ import annotations

import argparse

from .options import COSINE_THRESHOLD, UserError, add_model_options, build_judge


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Embed two photos and compare the cosine similarity of their faces with the model's "
                          "threshold. A verdict needs a face in both photos: without one the command stops "
                          "(exit 2) unless --allow-fallback.")
    parser.add_argument("image1")
    parser.add_argument("image2")
    parser.add_argument("--threshold", type=COSINE_THRESHOLD, default=None,
                        help="cosine threshold in [-1, 1] (default: the model's LFW threshold)")
    parser.add_argument("--allow-fallback", action="store_true",
                        help="compare even where no face is detected, using the centred fallback box")
    add_model_options(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ..recognition.pipeline import embed_files

    embedder, aligner, cache = build_judge(args)
    threshold = args.threshold if args.threshold is not None else embedder.verification_threshold
    if threshold is None:
        raise UserError(f"model {embedder.name} has no calibrated threshold; pass --threshold")
    emb = embed_files([Path(args.image1), Path(args.image2)], embedder, aligner, cache=cache, progress=False)
    faceless = [str(p) for p, d in zip(emb.paths, emb.detected) if not d]
    if faceless and not args.allow_fallback:
        raise UserError(f"no face detected in {' and '.join(faceless)}: no verdict without a face in both "
                        "photos (--allow-fallback compares the centred fallback box anyway)")
    for path in faceless:
        print(f"warning: no face detected in {path}; compared the centred fallback box (--allow-fallback)")
    v = emb.normalized()
    score = float(v[0] @ v[1])
    same = score >= threshold
    print(f"cosine similarity {score:.4f}, threshold {threshold:.4f}: {'same person' if same else 'different people'}")
    return 0
