"""Seed 003's Tables 1 and 2 with two judges: LFW verification with a high-resolution gallery and
low-resolution probes, and rank-1 identification, for bicubic up-sampling and trained EDSRs.

Protocol (``view2-2fold``, person-disjoint): every LFW photo is aligned once to dlib's chip (padding 0.25)
at the models' high-resolution size (112 x 112: the seed's 112-pixel height, square, the geometry of both
judges). For every pair, image a is the clean gallery and image b the probe, down-sampled to s x s pixels
(antialiased bicubic) and brought back to 112 x 112 by bicubic interpolation (the baseline) or by a trained
EDSR and bicubic interpolation; each probe is restored by the model of the split that never saw its person
(:class:`~faceveil.eval.transformed.CrossFitted`), so one judge scores all 6,000 pairs on one scale with
the usual 10-fold threshold protocol. Identification (no public code exists for it): every LFW subject
with at least ``--min-images`` photos, one random photo each as the clean gallery, the others as probes at
each size, rank-1 over ``--runs`` seeded draws; the gallery pools both halves of the people, since the
gallery is clean and each probe is restored by the model that did not train on it.

The judges: ``dlib-torch`` (the dlib judge, F inside the identity loss) and ``judge2`` (not in the loop).
Each condition also has PSNR / SSIM of the restored probe against its high-resolution chip and the judge's
cosine between the two. Restoration speed (images/s per size and method) and a grid of example faces.

Run of docs/benchmarks.md:
    faceveil bench superres --root ../shared/data/lfw --method EDSR_16,64,0=A0/model.pt,A1/model.pt ...
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ..data.chips import CHIP_PADDING, ChipSpec
from ..data.resample import bicubic_resize
from ..eval.transformed import CrossFitted, Downscale, compose, evaluate_transformed
from ..provenance import provenance
from ..recognition.registry import make_embedder
from ..report.io import write_json
from ..restore.superres.restorer import SuperResolver
from ..restore.faces import all_face_chips
from .cross_fitting import assign_models, check_chip, pair_rows, parse_method, split_record, view2_halves

OUTPUTS = ("result.json", "table.md", "examples.png", "accuracy.png")
BICUBIC = "bicubic"
HR = "HR (112x112)"
#: seed 003, Table 1 (SphereFace "SFace" in the loss, VGG-Face outside it): LFW 6,000 pairs, % at
#: 7x6 / 14x12 / 16x16 / 28x24 and the 112x96 reference
PAPER_TABLE1 = {
    "SFace": {"bicubic": [59.03, 82.75, 89.10, 97.60], "EDSR_16,64,0": [68.45, 88.73, 92.18, 98.03],
              "EDSR_16,64,0.5": [79.67, 92.07, 93.67, 98.22], "EDSR_32,256,0": [73.42, 92.25, 94.32, 98.48],
              "EDSR_32,256,0.5": [84.03, 94.73, 95.10, 98.85], "HR": 99.07},
    "VGG-Face": {"bicubic": [54.60, 77.43, 82.53, 93.02], "EDSR_16,64,0": [71.42, 83.62, 86.87, 93.88],
                 "EDSR_16,64,0.5": [74.85, 85.42, 86.88, 93.95], "EDSR_32,256,0": [77.47, 85.87, 87.72, 93.95],
                 "EDSR_32,256,0.5": [78.73, 88.67, 88.90, 94.58], "HR": 96.33},
}
#: seed 003, Table 2: rank-1 % at 7x6 / 14x12 / 16x14 / 18x16 and the 112x96 reference
PAPER_TABLE2 = {
    "SFace": {"bicubic": [0.55, 11.52, 22.99, 40.95], "EDSR_32,256,0": [5.91, 50.78, 56.19, 65.89],
              "EDSR_32,256,0.5": [14.91, 63.34, 63.78, 71.96], "HR": 97.73},
    "VGG-Face": {"bicubic": [0.23, 8.04, 13.78, 23.01], "EDSR_32,256,0": [5.13, 28.68, 32.59, 36.84],
                 "EDSR_32,256,0.5": [9.31, 39.32, 38.93, 43.26], "HR": 83.20},
}
PAPER_SIZES = {"table1": ["7x6", "14x12", "16x16", "28x24"], "table2": ["7x6", "14x12", "16x14", "18x16"]}


def _conditions(sizes: list[int], methods: dict, groups: np.ndarray) -> dict:
    conditions = {}
    for s in sizes:
        down = Downscale(size=(s, s), back_to_size=False)
        conditions[f"{BICUBIC}@{s}"] = Downscale(size=(s, s))
        for name, per_split in methods.items():
            conditions[f"{name}@{s}"] = CrossFitted(f"{name}@{s}", {k: compose(down, r) for k, r in per_split.items()},
                                                    groups)
    return conditions


def _restore_speed(methods: dict, chips: torch.Tensor, sizes: list[int]) -> dict:
    """Images/s of each method's restoration of ``chips`` at each size (the down-sampling excluded)."""
    speed = {}
    for s in sizes:
        low = bicubic_resize(chips, (s, s))
        start = time.perf_counter()
        bicubic_resize(low, chips.shape[-2:])
        speed[f"{BICUBIC}@{s}"] = len(chips) / (time.perf_counter() - start)
        for name, per_split in methods.items():
            restorer = next(iter(per_split.values()))
            restorer(low[:2])  # warm-up
            start = time.perf_counter()
            restorer(low)
            speed[f"{name}@{s}"] = len(chips) / (time.perf_counter() - start)
    return speed


def _examples(chips: torch.Tensor, rows: np.ndarray, groups: np.ndarray, methods: dict, sizes: list[int],
              path: Path) -> None:
    """A labelled grid: per face (a row), the HR chip, then per size the LR input (enlarged, nearest
    neighbour), bicubic and each method (each face restored by the model that never saw its person)."""
    from ..report.plots import plot_image_grid

    faces = chips[torch.from_numpy(rows)]
    side = faces.shape[-1]
    labels = ["HR"] + [f"{label}" for s in sizes for label in (f"{s}x{s} in", "bicubic", *methods)]
    tiles = []
    for i in range(len(rows)):
        row = [faces[i : i + 1]]
        for s in sizes:
            low = bicubic_resize(faces[i : i + 1], (s, s))
            row.append(torch.nn.functional.interpolate(low, size=faces.shape[-2:], mode="nearest"))
            row.append(bicubic_resize(low, faces.shape[-2:]))
            row += [per_split[int(groups[rows[i]])](low) for per_split in methods.values()]
        tiles.append(torch.cat(row, 3))
    grid = torch.cat(tiles, 2)[0].permute(1, 2, 0).numpy()
    plot_image_grid(grid, labels, side, path, len(rows))


def _plot(result: dict, path: Path) -> None:
    """Verification accuracy (and rank-1 for the first judge) against the probe side, a line per method,
    a panel per measure, the HR reference dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(judge, "accuracy", "verification accuracy (%)") for judge in result["judges"]]
    first = result["evaluations"][result["judges"][0]]["conditions"]
    if first["clean"].get("rank1") is not None:
        panels.append((result["judges"][0], "rank1", "rank-1 identification (%)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (judge, key, label) in zip(axes[0], panels):
        conditions = result["evaluations"][judge]["conditions"]
        for method in [BICUBIC, *result["methods"]]:
            points = sorted((int(name.split("@")[1]), 100 * c[key]) for name, c in conditions.items()
                            if name.startswith(f"{method}@") and c.get(key) is not None)
            if points:
                ax.plot(*zip(*points), marker="o", label=method)
        ax.axhline(100 * conditions["clean"][key], color="grey", linestyle="--", label=HR)
        ax.set(xlabel="probe side (pixels)", ylabel=label, title=f"judge {judge}")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _summary(evaluation, judge: str) -> dict:
    out = {}
    for name, c in evaluation.conditions.items():
        v, m = c.verification, c.image_metrics or {}
        entry = {"accuracy": v["accuracy_mean"], "accuracy_sem": v["accuracy_sem"], "auc": v["auc"], "eer": v["eer"],
                 "fixed_threshold": v["fixed_threshold"], "psnr": m.get("psnr"), "ssim": m.get("ssim"),
                 "judge_cosine": m.get("judge_cosine")}
        if c.identification:
            entry["rank1"] = c.identification["ranks"]["1"]["mean"]
            entry["rank1_std"] = c.identification["ranks"]["1"]["std"]
        out[name] = entry
    return {"judge": judge, "conditions": out, "threshold": evaluation.threshold}


def _markdown(title: str, methods: list[str], sizes: list[int], conditions: dict, cell, reference: str) -> list[str]:
    """A markdown table: a row per method, a column per probe size (``cell(condition)``), the HR reference."""
    lines = ["", title, "", "| method | " + " | ".join(f"{s}x{s}" for s in sizes) + f" | {HR} |",
             "|---|" + "---|" * (len(sizes) + 1)]
    for method in methods:
        cells = [cell(conditions[f"{method}@{s}"]) if f"{method}@{s}" in conditions else "-" for s in sizes]
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {reference} |")
    return lines


def _table(result: dict) -> str:
    """Markdown: Table 1 shape (verification) and Table 2 shape (rank-1) per judge."""
    pct = lambda v: "-" if v is None else f"{100 * v:.2f}"  # noqa: E731
    lines = []
    methods = [BICUBIC, *result["methods"]]
    for judge in result["judges"]:
        conditions = result["evaluations"][judge]["conditions"]
        clean = conditions["clean"]
        sizes = [s for s in result["sizes"] if f"{BICUBIC}@{s}" in conditions]
        lines += _markdown(f"### Verification, judge {judge} (10-fold accuracy %, {result['protocol']['pairs']:,} "
                           "pairs; PSNR dB / SSIM)", methods, sizes, conditions,
                           lambda c: f"{pct(c['accuracy'])} ({c['psnr']:.1f} / {c['ssim']:.3f})",
                           pct(clean["accuracy"]))
        id_sizes = [s for s in result["identification_sizes"]
                    if conditions.get(f"{BICUBIC}@{s}", {}).get("rank1") is not None]
        if id_sizes:
            lines += _markdown(f"### Rank-1 identification, judge {judge} (%, mean +- std over the runs)", methods,
                               id_sizes, conditions, lambda c: f"{pct(c['rank1'])} +- {pct(c['rank1_std'])}",
                               pct(clean.get("rank1")))
    return "\n".join(lines[1:]) + "\n"


def run(args: argparse.Namespace) -> int:
    """``faceveil bench superres`` (options: :func:`faceveil.cli.bench._superres`)."""
    from ..cli import outputs

    if args.threads:
        torch.set_num_threads(args.threads)
    data, splits, split_of_person, people = view2_halves(args.root)
    methods = {}
    for text in args.method:
        name, files = parse_method(text)
        if name in methods or name == BICUBIC:
            raise ValueError(f"--method {name}: the name is taken")
        methods[name] = assign_models(name, files, splits, people, SuperResolver.from_file)
    judges = {name: make_embedder(name, flip=args.flip, device=args.device) for name in args.judges}
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS)

    chip_size = args.chip_size
    for name, per_split in methods.items():
        for restorer in per_split.values():
            check_chip(f"--method {name}", restorer, chip_size)
    everyone = all_face_chips(data, ChipSpec("dlib-chip", chip_size, CHIP_PADDING, 3), progress=not args.quiet)
    names = [everyone.identities[i] for i in everyone.labels.tolist()]
    pairs = [pair for split in splits for pair in split.test_pairs]
    a, b, labels, folds = pair_rows(everyone, pairs)
    counts = Counter(names)
    subjects = sorted(n for n in split_of_person if counts.get(n, 0) >= args.min_images)
    if not args.identification_sizes:
        subjects = []
    chosen = set(subjects)
    id_rows = np.array([i for i, n in enumerate(names) if n in chosen], dtype=np.int64)
    rows = np.union1d(np.union1d(a, b), id_rows)
    local = {r: i for i, r in enumerate(rows.tolist())}
    chips = everyone.images(torch.from_numpy(rows))
    groups = np.array([split_of_person.get(names[r], -1) for r in rows])
    subject_id = {n: i for i, n in enumerate(subjects)}
    identities = np.array([subject_id.get(names[r], -1 - i) for i, r in enumerate(rows)])  # others: singletons
    la, lb = np.array([local[r] for r in a]), np.array([local[r] for r in b])

    evaluations = {}
    for judge_name, judge in judges.items():
        sizes = args.sizes if judge_name == args.judges[0] else args.second_judge_sizes
        id_sizes = args.identification_sizes if judge_name == args.judges[0] else []
        conditions = _conditions(sorted(set(sizes) | set(id_sizes)), methods, groups)
        evaluation = evaluate_transformed(chips, la, lb, labels, folds, judge, conditions,
                                          identities=identities if id_sizes else None, min_images=args.min_images,
                                          runs=args.runs, seed=args.seed, progress=not args.quiet)
        evaluations[judge_name] = _summary(evaluation, judge_name) | {"full": evaluation.report()}
        print(evaluation.format_table())
    example_rows = np.random.default_rng(args.seed).choice(len(rows), size=min(args.examples, len(rows)), replace=False)
    _examples(chips, example_rows, groups, methods, sorted(set(args.sizes)), out / "examples.png")
    speed = _restore_speed(methods, chips[: args.speed_images], sorted(set(args.sizes))) if args.speed_images else None
    result = {
        "protocol": {"name": "view2-2fold", "splits": [split_record(s) for s in splits],
                     "pairs": int(len(pairs)), "gallery": "image a, clean 112x112 dlib chip",
                     "probe": "image b, down-sampled (antialiased bicubic), restored to 112x112",
                     "identification": {"subjects": len(subjects), "min_images": args.min_images, "runs": args.runs,
                                        "gallery": "one random photo per subject, clean", "probes": "the others"}},
        "methods": list(methods), "judges": list(judges), "flip": args.flip, "sizes": sorted(set(args.sizes)),
        "identification_sizes": sorted(set(args.identification_sizes)), "second_judge_sizes": args.second_judge_sizes,
        "models": {name: {str(k): str(r.path) for k, r in per.items()} for name, per in methods.items()},
        "training": {name: {str(k): _training_record(r) for k, r in per.items()} for name, per in methods.items()},
        "evaluations": evaluations, "restore_images_per_second": speed, "threads": torch.get_num_threads(),
        "paper": {"table1": PAPER_TABLE1, "table2": PAPER_TABLE2, "sizes": PAPER_SIZES},
        "provenance": provenance(data={"root": str(data.data_root().resolve()), "source": data.source,
                                       "chips": len(rows)}, protocol={"name": "view2-2fold"}, seed=args.seed),
    }
    write_json(out / "result.json", result)
    (out / "table.md").write_text(_table(result))
    _plot(result, out / "accuracy.png")
    print(_table(result))
    print(f"wrote {', '.join(str(out / name) for name in OUTPUTS)}")
    return 0


def _training_record(restorer: SuperResolver) -> dict:
    """Steps, seconds and steps/s of a model's training (from the history in its file)."""
    history = restorer.payload.get("history") or []
    seconds = sum(e.get("seconds", 0.0) for e in history)
    steps = history[-1]["steps"] if history else None
    return {"epochs": len(history), "steps": steps, "seconds": seconds,
            "seconds_per_step": seconds / steps if steps else None,
            "identity_weight": restorer.payload.get("identity_weight"),
            "identity_judge": restorer.payload.get("identity_judge")}
