"""``faceveil eval lfw``: LFW verification with any embedder; result.json, ROC and score plots."""

from __future__ import annotations

import argparse

from . import outputs
from .options import COSINE_THRESHOLD, DEFAULTS, add_model_options, add_overwrite, build_judge

OUTPUTS = ("result.json", "roc.png", "scores.png")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="benchmark", required=True, metavar="BENCHMARK")
    lfw = sub.add_parser("lfw", help="LFW verification (View 2: the 10-fold protocol)",
                         description="Verify the pairs of an LFW view with an embedder: 10-fold accuracy, AUC, "
                                     "EER, TAR@FAR, detection fallbacks; writes result.json, roc.png, scores.png.")
    lfw.add_argument("--root", default=None, help="LFW folder with lfw/ and pairs.txt (default: the embedded sample)")
    lfw.add_argument("--view", choices=("view2", "dev-test", "dev-train"), default="view2")
    lfw.add_argument("--on-missing", choices=("error", "skip"), default="error",
                     help="a pair whose image file is missing: stop with an error, or skip it with a warning")
    lfw.add_argument("--metric", choices=("cosine", "euclidean"), default=DEFAULTS["metric"])
    lfw.add_argument("--threshold", type=COSINE_THRESHOLD, default=None,
                     help="also report ACC/TPR/FPR at this fixed cosine threshold")
    lfw.add_argument("--allow-seen-identities", action="store_true",
                     help="score a trained model (--model checkpoint:PATH) even on people it trained on "
                          "(recorded in result.json)")
    lfw.add_argument("--out", required=True, help="output folder for result.json, roc.png, scores.png")
    add_overwrite(lfw)
    add_model_options(lfw)
    lfw.set_defaults(func=run_lfw)


def run_lfw(args) -> int:
    import time
    from pathlib import Path

    from ..data.identities import check_unseen
    from ..data.lfw import LFW
    from ..data.protocols import pair_people
    from ..data.sample import sample_root
    from ..eval.pairs import evaluate_pairs
    from ..eval.verification import format_report_table, roc_curve
    from ..provenance import provenance
    from ..report.io import write_json
    from ..report.plots import plot_roc, plot_score_histogram

    root = Path(args.root) if args.root else sample_root()
    pairs = LFW(root).pairs(args.view, on_missing=args.on_missing)
    embedder, aligner, cache = build_judge(args)
    seen = check_unseen(embedder.trained_identities, pair_people(pairs),
                        allow=args.allow_seen_identities, what=f"model {args.model}")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS)
    start = time.perf_counter()
    ev = evaluate_pairs(pairs, embedder, aligner, metric=args.metric, cache=cache, threshold=args.threshold,
                        batch_size=args.batch_size, progress=not args.quiet)
    elapsed = time.perf_counter() - start
    rep = ev.report
    print(f"LFW {args.view} at {root} ({'user data' if args.root else 'embedded sample'}), model {embedder.name}")
    print(format_report_table(rep))
    print(f"  fallbacks     {rep['fallbacks']} of {rep['n_images']} images (in {rep['fallback_pairs']} pairs)")
    if seen["allowed"]:
        overlap = "an unrecorded number" if seen["seen_identities"] is None else seen["seen_identities"]
        print(f"warning: the model trained on {overlap} of the {seen['scored_identities']} people of these pairs "
              "(--allow-seen-identities): these figures are not person-disjoint")
    fpr, tpr, _ = roc_curve(ev.scores, ev.labels)
    data = {"root": str(root.resolve()), "view": args.view, "embedded_sample": not args.root,
            "pairs_evaluated": len(pairs)}
    result = {**rep, "identities": seen,
              "model": {"name": embedder.name, "cache_key": embedder.cache_key(), "alignment": aligner.key()},
              "timing": {"seconds": elapsed, "images_from_cache": ev.embeddings.cached},
              "fallback_images": [str(p) for p in ev.embeddings.fallback_paths],
              "roc": {"fpr": fpr.tolist(), "tpr": tpr.tolist()},
              "provenance": provenance(data=data, protocol={"name": f"lfw-{args.view}", **seen})}
    write_json(out / "result.json", result)
    plot_roc({embedder.name: (fpr, tpr)}, out / "roc.png", title=f"LFW {args.view}: {embedder.name}",
             overwrite=True)
    plot_score_histogram(ev.scores, ev.labels, out / "scores.png", overwrite=True)
    print(f"wrote {', '.join(str(out / n) for n in OUTPUTS)}")
    return 0
