"""The ``faceveil`` command: one subcommand per capability.

    faceveil eval lfw [--root PATH] [--model NAME] --out DIR
    faceveil embed [--model NAME] INPUT... --out FILE.npz
    faceveil compare IMG1 IMG2 [--model NAME]
    faceveil protect dp --method {rdp,rdp-na,rdp-lmgd,pixel,dct} --epsilon E --p P INPUT... --out DIR
    faceveil train optical --config FILE.json [--out DIR]
    faceveil protect optical [--checkpoint FILE] INPUT... --out DIR [--overwrite]
    faceveil attack deconv --encrypted DIR --original DIR --out DIR [--method unet|wiener]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, cli_dp, cli_optical
from .bench import dp as bench_dp
from .bench import optical as bench_optical
from .bench import optical_sweep as bench_optical_sweep
from .data.folders import expand_inputs
from .data.lfw import LFW
from .data.sample import sample_root
from .faces.align import FaceAligner
from .recognition.cache import EmbeddingCache
from .recognition.registry import MODEL_NAMES, make_embedder
from .recognition.pipeline import embed_files

#: the settings that won the LFW ablation (docs/benchmarks.md); the defaults of every command
DEFAULTS = {"detector": "hog", "upsample": 1, "landmarks": 68, "flip": True, "jitter": 0, "metric": "cosine"}


class CliError(Exception):
    """A user error: printed as one line, exit status 2."""


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and alignment")
    g.add_argument("--model", default="dlib", help=f"embedder: {', '.join(MODEL_NAMES)} (default: dlib)")
    g.add_argument("--detector", choices=("hog", "cnn", "hog+cnn"), default=DEFAULTS["detector"],
                   help="face detector (hog+cnn: the CNN only where HOG finds no face)")
    g.add_argument("--upsample", type=int, default=DEFAULTS["upsample"], help="detector upsampling (0-3)")
    g.add_argument("--landmarks", type=int, choices=(5, 68), default=DEFAULTS["landmarks"],
                   help="dlib landmark model used for the dlib chip (the template alignment always uses 68)")
    g.add_argument("--flip", action=argparse.BooleanOptionalAction, default=DEFAULTS["flip"],
                   help="average the embeddings of each chip and its mirror image")
    g.add_argument("--jitter", type=int, default=DEFAULTS["jitter"], help="dlib num_jitters: mean embedding of K jittered chips (dlib, dlib-torch)")
    g.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for the native dlib judge")
    g.add_argument("--device", default="cpu", help="torch device for torch models")
    g.add_argument("--cache", default=None, help="embedding cache file (default: the user cache directory)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    g.add_argument("--batch-size", type=int, default=32)
    g.add_argument("--quiet", action="store_true", help="no progress bars")


def _build(args) -> tuple:
    embedder = make_embedder(args.model, flip=args.flip, jitter=args.jitter, workers=args.workers, device=args.device)
    aligner = FaceAligner(embedder.alignment, args.detector, args.upsample, args.landmarks)
    cache = None if args.no_cache else EmbeddingCache(args.cache)
    return embedder, aligner, cache


def _prepare_out_dir(out: Path, overwrite: bool, names: tuple[str, ...]) -> None:
    clash = [n for n in names if (out / n).exists()]
    if clash and not overwrite:
        raise CliError(f"{out} already holds {', '.join(clash)}; pass --overwrite to replace")
    out.mkdir(parents=True, exist_ok=True)


def cmd_eval_lfw(args) -> int:
    from .eval.pairs import evaluate_pairs
    from .eval.verification import format_report_table, roc_curve
    from .report.plots import plot_roc, plot_score_histogram

    out = Path(args.out)
    outputs = ("result.json", "roc.png", "scores.png")
    _prepare_out_dir(out, args.overwrite, outputs)
    root = Path(args.root) if args.root else sample_root()
    lfw = LFW(root)
    pairs = lfw.pairs(args.view, on_missing=args.on_missing)
    embedder, aligner, cache = _build(args)
    t0 = time.perf_counter()
    ev = evaluate_pairs(pairs, embedder, aligner, metric=args.metric, cache=cache, threshold=args.threshold,
                        batch_size=args.batch_size, progress=not args.quiet)
    elapsed = time.perf_counter() - t0
    rep = ev.report
    print(f"LFW {args.view} at {root} ({'embedded sample' if not args.root else 'user data'}), model {embedder.name}")
    print(format_report_table(rep))
    print(f"  fallbacks     {rep['fallbacks']} of {rep['n_images']} images (in {rep['fallback_pairs']} pairs)")
    fpr, tpr, _ = roc_curve(ev.scores, ev.labels)
    result = {
        **rep,
        "command": "faceveil " + " ".join(shlex.quote(a) for a in args.argv),
        "data": {"root": str(root.resolve()), "view": args.view, "embedded_sample": not args.root,
                 "pairs_evaluated": len(pairs)},
        "model": {"name": embedder.name, "cache_key": embedder.cache_key(), "alignment": aligner.key()},
        "seed": None,
        "version": __version__,
        "timing": {"seconds": elapsed, "images_from_cache": ev.embeddings.cached},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "fallback_images": [str(p) for p in ev.embeddings.fallback_paths],
        "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    plot_roc({embedder.name: (fpr, tpr)}, out / "roc.png", title=f"LFW {args.view}: {embedder.name}",
             overwrite=args.overwrite)
    plot_score_histogram(ev.scores, ev.labels, out / "scores.png", overwrite=args.overwrite)
    print(f"wrote {', '.join(str(out / n) for n in outputs)}")
    return 0


def cmd_embed(args) -> int:
    out = Path(args.out)
    if out.suffix != ".npz":
        raise CliError(f"--out must end with .npz, got {out}")
    if out.exists() and not args.overwrite:
        raise CliError(f"{out} exists; pass --overwrite to replace it")
    paths = expand_inputs(args.inputs)
    embedder, aligner, cache = _build(args)
    emb = embed_files(paths, embedder, aligner, cache=cache, batch_size=args.batch_size, progress=not args.quiet)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, embeddings=emb.normalized().astype(np.float32), raw_embeddings=emb.embeddings,
             paths=np.array([str(p) for p in emb.paths]), detected=emb.detected, model=embedder.cache_key())
    print(f"wrote {len(paths)} embeddings of dimension {emb.embeddings.shape[1]} to {out} "
          f"({emb.fallbacks} fallback(s), {emb.cached} from cache)")
    return 0


def cmd_compare(args) -> int:
    embedder, aligner, cache = _build(args)
    emb = embed_files([Path(args.image1), Path(args.image2)], embedder, aligner, cache=cache, progress=False)
    v = emb.normalized()
    score = float(v[0] @ v[1])
    threshold = args.threshold if args.threshold is not None else embedder.verification_threshold
    if threshold is None:
        raise CliError(f"model {embedder.name} has no calibrated threshold; pass --threshold")
    same = score >= threshold
    print(f"cosine similarity {score:.4f}, threshold {threshold:.4f}: {'same person' if same else 'different people'}")
    for p, d in zip(emb.paths, emb.detected):
        if not d:
            print(f"warning: no face detected in {p}; used the centred fallback box")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="faceveil", description="Privacy-preserving and degradation-robust face recognition.")
    parser.add_argument("--version", action="version", version=f"faceveil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    ev = sub.add_parser("eval", help="evaluate face recognition on a benchmark")
    ev_sub = ev.add_subparsers(dest="benchmark", required=True)
    lfw = ev_sub.add_parser("lfw", help="LFW verification (View 2: 10-fold protocol)")
    lfw.add_argument("--root", default=None, help="LFW folder with lfw/ and pairs.txt (default: the embedded sample)")
    lfw.add_argument("--view", choices=("view2", "dev-test", "dev-train"), default="view2")
    lfw.add_argument("--on-missing", choices=("error", "skip"), default="error",
                     help="a pair whose image file is missing: stop with an error, or skip it with a warning")
    lfw.add_argument("--metric", choices=("cosine", "euclidean"), default=DEFAULTS["metric"])
    lfw.add_argument("--threshold", type=float, default=None, help="also report ACC/TPR/FPR at this fixed threshold")
    lfw.add_argument("--out", required=True, help="output folder for result.json, roc.png, scores.png")
    lfw.add_argument("--overwrite", action="store_true")
    _add_model_options(lfw)
    lfw.set_defaults(func=cmd_eval_lfw)

    em = sub.add_parser("embed", help="embed face images into an .npz file")
    em.add_argument("inputs", nargs="+", help="image files or folders")
    em.add_argument("--out", required=True, help="output .npz (arrays embeddings (N, D), paths (N,))")
    em.add_argument("--overwrite", action="store_true")
    _add_model_options(em)
    em.set_defaults(func=cmd_embed)

    cp = sub.add_parser("compare", help="are two face images of the same person?")
    cp.add_argument("image1")
    cp.add_argument("image2")
    cp.add_argument("--threshold", type=float, default=None, help="cosine threshold (default: the model's LFW threshold)")
    _add_model_options(cp)
    cp.set_defaults(func=cmd_compare)

    protect = sub.add_parser("protect", help="protect face images (differential privacy, optical encoders)")
    protect_sub = protect.add_subparsers(dest="protection", required=True)
    cli_dp.register(protect_sub)
    train = sub.add_parser("train", help="train models (optical encoders)")
    attack = sub.add_parser("attack", help="reconstruction attacks on protected images")
    cli_optical.register(protect_sub, train.add_subparsers(dest="trainable", required=True),
                         attack.add_subparsers(dest="attack_kind", required=True))
    bench = sub.add_parser("bench", help="benchmarks of the protections (tables, plots, result.json)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    for name, module, summary in (("dp", bench_dp, "seed 004's measurements of the DP mechanisms on faces"),
                                  ("optical", bench_optical, "MEM-FR against LOEN: recognition, privacy, attacks"),
                                  ("optical-sweep", bench_optical_sweep, "MEM-FR mask size and dilation (Fig. 2)")):
        command = bench_sub.add_parser(name, help=summary, description=module.__doc__,
                                       formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command)
        command.set_defaults(func=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (CliError, ValueError, FileNotFoundError, ImportError) as err:
        print(f"faceveil: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
