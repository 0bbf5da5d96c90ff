"""Seed 002's Tables 1-7 in shape with two judges: occluded LFW faces reconstructed by trained generators
and by OpenCV, judged by image quality and by face recognition.

Protocol (``view2-2fold``, person-disjoint): every LFW photo is aligned once to dlib's chip (padding 0.25)
at the models' size (128 x 128). For every pair, image a is the clean gallery and image b the probe,
damaged once (:class:`~faceveil.restore.inpaint.restorer.Damage`: Algorithm 1, and irregular masks from
one fixed seeded set binned by hole ratio; the same damage for every method) and then reconstructed (kept
as 8-bit images, one pass shared by every judge and by the composite) by each method: a trained generator (each probe by the model of the split that never saw its person), its
"inpainted" composite (only the masked pixels from the generator), OpenCV's Telea and Navier-Stokes. One
judge scores every pair of the scored halves: ACC / TPR / FPR at the threshold of the clean pairs (seed
002, Tables 6-7), the 10-fold accuracy, genuine and impostor distributions (Fig. 7) and, for irregular
masks, ACC per hole-ratio bin.

Image quality (Tables 1-5 shape) on ``--quality-images`` probes: PSNR, SSIM, MS-SSIM (the scales a
128-px chip holds), FSIM against the clean chip, the Frechet distance between the judge embeddings of the
clean and the reconstructed probes and their mean identity cosine; LPIPS and FID where the user gives
their weights (``--lpips-weights``, ``--inception-weights``: not available offline). ``--quality-method`` adds generators scored on image quality only (seed 002's
Table 1 family, trained on one split): their probes come from the people they never saw.

Run of docs/benchmarks.md:
    faceveil bench inpaint --root ../shared/data/lfw --method V-Net=A0/model.pt,A1/model.pt ...
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ..data.chips import CHIP_PADDING, ChipSpec
from ..data.identities import check_unseen
from ..eval.quality import fid, fid_from_features, fsim, load_inception, load_lpips_alex, lpips, ms_ssim, psnr, ssim
from ..eval.transformed import CrossFitted, apply_transform, embed_chips, evaluate_transformed
from ..provenance import provenance
from ..recognition.registry import make_embedder
from ..report.io import write_json
from ..restore.faces import all_face_chips
from ..restore.inpaint.damage import HOLE_BINS, irregular_mask_set
from ..restore.inpaint.restorer import Damage, NetworkInpainter, OpenCVInpainter, Reconstruction
from .cross_fitting import assign_models, check_chip, pair_rows, parse_method, split_record, view2_halves

OUTPUTS = ("result.json", "table.md", "examples.png", "distributions.png")
ORIGINAL = "original"
DAMAGED = "damaged"
INPAINTED = "-inpainted"
#: seed 002, Table 6 (CelebA-C, Algorithm 1) and Table 7 (NVIDIA irregular masks): ACC, FPR, TPR
PAPER_RECOGNITION = {
    "algorithm1": {"ArcFace": {ORIGINAL: [0.9864, 0.0039, 0.9029], DAMAGED: [0.9225, 0.0172, 0.3983],
                               "Modified V-Net": [0.9747, 0.0074, 0.8194], "Inpainted V-Net": [0.9747, 0.0074, 0.8194],
                               "LaMa": [0.9408, 0.0332, 0.8958]},
                   "QMagFace": {ORIGINAL: [0.9950, 0.0033, 0.9565], DAMAGED: [0.9620, 0.0101, 0.7193],
                                "Modified V-Net": [0.9875, 0.0035, 0.9089],
                                "Inpainted V-Net": [0.9876, 0.0033, 0.9089], "LaMa": [0.9632, 0.0148, 0.9250]}},
    "irregular": {"ArcFace": {ORIGINAL: [0.9864, 0.0039, 0.9029], DAMAGED: [0.7877, 0.1183, 0.6245],
                              "Modified V-Net": [0.9090, 0.0411, 0.8223], "LaMa": [0.9210, 0.0454, 0.8628]},
                  "QMagFace": {ORIGINAL: [0.9950, 0.0033, 0.9565], DAMAGED: [0.8727, 0.0602, 0.7562],
                               "Modified V-Net": [0.9363, 0.0224, 0.8647], "LaMa": [0.9379, 0.0276, 0.8780]}},
}
#: seed 002, Table 1 (PSNR, SSIM of the base net and its modifications, CelebA-C) and Table 3
PAPER_TABLE1 = {"Base net": [22.641, 0.710], "No dense layers": [28.814, 0.893],
                "Strided convolutions": [24.015, 0.751], "Skip connections": [25.227, 0.916]}
PAPER_TABLE3 = {"Modified U-Net": [33.737, 0.969], "Modified V-Net": [34.326, 0.972], "MBNet": [33.659, 0.969]}
QUALITY_METRICS = ("psnr", "ssim", "ms_ssim", "fsim", "frechet", "identity_cosine")


def _load(path: Path, name: str) -> NetworkInpainter:
    return NetworkInpainter.from_file(path, name=name)


def _conditions(damages: dict, methods: dict, baselines: list, groups: np.ndarray) -> dict:
    """``{condition: Transform}`` for every damage: damaged, each generator (cross-fitted) and its composite,
    each OpenCV baseline."""
    conditions = {}
    for kind, damage in damages.items():
        conditions[f"{kind}/{DAMAGED}"] = damage
        for name, per_split in methods.items():
            cache = {}  # one inpainting pass per chip for the whole and the composite, and for every judge
            for composite in (False, True):
                label = f"{kind}/{name}{INPAINTED if composite else ''}"
                conditions[label] = CrossFitted(label, {k: Reconstruction(damage, m, composite, label, cache)
                                                        for k, m in per_split.items()}, groups)
        for method in baselines:
            label = f"{kind}/{method}"
            conditions[label] = Reconstruction(damage, OpenCVInpainter(method), name=label, cache={})
    return conditions


def _quality(chips: torch.Tensor, rows: np.ndarray, transforms: dict, judge, lpips_model=None, inception=None,
             batch_size: int = 32) -> dict:
    """Image and identity-space quality of each transform's outputs on ``chips`` (the chips at ``rows``); LPIPS
    and FID too where their networks are given (:func:`~faceveil.eval.quality.load_lpips_alex`,
    :func:`~faceveil.eval.quality.load_inception`)."""
    clean = embed_chips(judge, chips).double().numpy()
    out = {}
    for name, transform in transforms.items():
        values = {k: [] for k in ("psnr", "ssim", "ms_ssim", "fsim")}
        restored = []
        start = time.perf_counter()
        for i in range(0, len(chips), batch_size):
            images = apply_transform(transform, chips[i:i + batch_size], rows[i:i + batch_size])
            restored.append(images)
        seconds = time.perf_counter() - start
        restored = torch.cat(restored)
        for key, metric in (("psnr", psnr), ("ssim", ssim), ("ms_ssim", ms_ssim), ("fsim", fsim)):
            for i in range(0, len(chips), batch_size):
                values[key].append(metric(restored[i:i + batch_size], chips[i:i + batch_size]))
        embedded = embed_chips(judge, restored).double().numpy()
        entry = {key: float(torch.cat(v).double()[torch.cat(v).isfinite()].mean()) for key, v in values.items()}
        entry |= {"frechet": fid_from_features(clean, embedded), "identity_cosine": float((clean * embedded).sum(1).mean()),
                  "images": int(len(chips)), "images_per_second": len(chips) / seconds}
        if lpips_model is not None:
            with torch.no_grad():
                entry["lpips"] = float(lpips(restored, chips, lpips_model).mean())
        if inception is not None:
            entry["fid"] = fid(restored, chips, inception)
        out[name] = entry
    return out


def _bin_accuracy(scores: np.ndarray, labels: np.ndarray, bins: np.ndarray, threshold: float) -> list[dict]:
    """ACC / TPR / FPR at ``threshold`` of the pairs whose probe's mask is in each hole-ratio bin."""
    out = []
    for k, (lo, hi) in enumerate(HOLE_BINS):
        chosen = bins == k
        y, s = labels[chosen], scores[chosen] >= threshold
        out.append({"bin": [lo, hi], "pairs": int(chosen.sum()), "acc": float((s == y).mean()) if chosen.any() else None,
                    "tpr": float(s[y].mean()) if y.any() else None, "fpr": float(s[~y].mean()) if (~y).any() else None})
    return out


def _summary(evaluation, probe_bins: np.ndarray, labels: np.ndarray) -> dict:
    out = {}
    threshold = evaluation.threshold["value"]
    for name, c in evaluation.conditions.items():
        v, m = c.verification, c.image_metrics or {}
        fixed = v["fixed_threshold"]
        dist = v["score_distributions"]
        entry = {"acc": fixed["acc"], "fpr": fixed["fpr"], "tpr": fixed["tpr"], "accuracy_10fold": v["accuracy_mean"],
                 "accuracy_sem": v["accuracy_sem"], "auc": v["auc"], "eer": v["eer"], "psnr": m.get("psnr"),
                 "ssim": m.get("ssim"), "judge_cosine": m.get("judge_cosine"), "d_prime": dist["d_prime"],
                 "genuine_mean": dist["genuine_mean"], "impostor_mean": dist["impostor_mean"]}
        if name.startswith("irregular/"):
            entry["per_hole_ratio"] = _bin_accuracy(np.asarray(c.scores), labels, probe_bins, threshold)
        out[name] = entry
    return {"conditions": out, "threshold": evaluation.threshold}


def _name(condition: str) -> str:
    return condition.split("/", 1)[1] if "/" in condition else condition


def _rank_table(result: dict, kind: str) -> list[str]:
    """Markdown: the rank of every reconstruction under each image metric and each judge's ACC / FPR."""
    quality = result["quality"].get(kind, {})
    methods = [m for m in quality if _name(m) != DAMAGED and f"{kind}/{_name(m)}" in
               result["evaluations"][result["judges"][0]]["conditions"]]
    if len(methods) < 2:
        return []
    columns = [("PSNR", lambda m: quality[m]["psnr"], True), ("SSIM", lambda m: quality[m]["ssim"], True),
               ("MS-SSIM", lambda m: quality[m]["ms_ssim"], True), ("FSIM", lambda m: quality[m]["fsim"], True),
               ("Frechet (id)", lambda m: quality[m]["frechet"], False)]
    for judge in result["judges"]:
        conditions = result["evaluations"][judge]["conditions"]
        if all(f"{kind}/{_name(m)}" in conditions for m in methods):
            columns.append((f"ACC {judge}", lambda m, c=conditions: c[f"{kind}/{_name(m)}"]["acc"], True))
            columns.append((f"FPR {judge}", lambda m, c=conditions: c[f"{kind}/{_name(m)}"]["fpr"], False))
    ranks = {}
    for title, value, larger in columns:
        order = sorted(methods, key=lambda m: -value(m) if larger else value(m))
        ranks[title] = {m: order.index(m) + 1 for m in order}
    lines = ["", f"### Rank of each reconstruction by each measure ({kind}; 1 = best)", "",
             "| method | " + " | ".join(t for t, _, _ in columns) + " |", "|---|" + "---|" * len(columns)]
    for m in methods:
        lines.append(f"| {_name(m)} | " + " | ".join(str(ranks[t][m]) for t, _, _ in columns) + " |")
    return lines


def _table(result: dict) -> str:
    lines = []
    for kind in result["damages"]:
        quality = result["quality"].get(kind)
        if quality:
            extra = [k for k in ("lpips", "fid") if k in next(iter(quality.values()))]
            lines += ["", f"### Image quality, {kind} damage ({result['quality_images']} probes; Frechet distance and "
                      f"cosine on {result['quality_judge']} embeddings)", "",
                      "| method | PSNR dB | SSIM | MS-SSIM | FSIM | " + "".join(f"{k.upper()} | " for k in extra)
                      + "Frechet (id) | identity cosine | img/s |", "|---|" + "---|" * (7 + len(extra))]
            for name, q in quality.items():
                lines.append(f"| {_name(name)} | {q['psnr']:.2f} | {q['ssim']:.4f} | {q['ms_ssim']:.4f} | "
                             f"{q['fsim']:.4f} | " + "".join(f"{q[k]:.4f} | " for k in extra)
                             + f"{q['frechet']:.4f} | {q['identity_cosine']:.4f} | {q['images_per_second']:.0f} |")
        for judge in result["judges"]:
            conditions = result["evaluations"][judge]["conditions"]
            names = [ORIGINAL] + [n for n in conditions if n.startswith(f"{kind}/")]
            if len(names) == 1:
                continue
            lines += ["", f"### Recognition, {kind} damage, judge {judge} (threshold of the clean pairs "
                      f"{result['evaluations'][judge]['threshold']['value']:.4f}; {result['protocol']['pairs']:,} pairs)",
                      "", "| condition | ACC | FPR | TPR | 10-fold acc % | AUC | d' |", "|---|---|---|---|---|---|---|"]
            for name in names:
                c = conditions["clean" if name == ORIGINAL else name]
                lines.append(f"| {_name(name)} | {c['acc']:.4f} | {c['fpr']:.4f} | {c['tpr']:.4f} | "
                             f"{100 * c['accuracy_10fold']:.2f} +- {100 * c['accuracy_sem']:.2f} | {c['auc']:.4f} | "
                             f"{c['d_prime']:.2f} |")
            bins = [(n, conditions[n]["per_hole_ratio"]) for n in names if "per_hole_ratio" in conditions.get(n, {})]
            if bins:
                lines += ["", f"ACC per hole ratio of the probe's mask, judge {judge}:", "",
                          "| condition | " + " | ".join(f"{100 * b['bin'][0]:.0f}-{100 * b['bin'][1]:.0f} %"
                                                         for b in bins[0][1]) + " |",
                          "|---|" + "---|" * len(bins[0][1])]
                for n, per in bins:
                    lines.append(f"| {_name(n)} | " + " | ".join("-" if b["acc"] is None else f"{b['acc']:.4f}"
                                                               for b in per) + " |")
        lines += _rank_table(result, kind)
    return "\n".join(lines[1:]) + "\n"


def _examples(chips: torch.Tensor, rows: np.ndarray, conditions: dict, path: Path) -> None:
    """A labelled grid: per face (a row), the original, then per damage the damaged face and each method."""
    from ..report.plots import plot_image_grid

    faces = chips[torch.from_numpy(rows)]
    columns = [faces] + [apply_transform(t, faces, rows) for t in conditions.values()]
    grid = torch.cat([torch.cat(list(column), 1) for column in columns], 2).permute(1, 2, 0).numpy()
    plot_image_grid(grid, [ORIGINAL] + list(conditions), faces.shape[-1], path, len(rows), rotation=70)


def _distributions(result: dict, full: dict, path: Path) -> None:
    """Seed 002's Fig. 7: genuine and impostor score densities of the first judge, a panel per condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conditions = full["conditions"]
    names = list(conditions)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows), squeeze=False)
    threshold = full["fixed_threshold"]["value"]
    for ax, name in zip(axes.flat, names):
        dist = conditions[name]["verification"]["score_distributions"]
        edges = np.asarray(dist["edges"])
        centres = 0.5 * (edges[1:] + edges[:-1])
        ax.plot(centres, dist["genuine"], label="genuine")
        ax.plot(centres, dist["impostor"], label="impostor")
        ax.axvline(threshold, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(_name(name) if name != "clean" else ORIGINAL, fontsize=8)
        ax.set_xlabel("cosine", fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"judge {result['judges'][0]}: genuine and impostor scores (dashed: the clean threshold)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _training_record(inpainter: NetworkInpainter) -> dict:
    """Epochs, steps, seconds per epoch and per step of a generator's training (from its file)."""
    history = inpainter.payload.get("history") or []
    seconds = sum(e.get("seconds", 0.0) for e in history)
    steps = history[-1]["steps"] if history else None
    return {"epochs": len(history), "steps": steps, "seconds": seconds,
            "seconds_per_epoch": seconds / len(history) if history else None,
            "seconds_per_step": seconds / steps if steps else None, "damage": inpainter.payload.get("damage"),
            "parameters": sum(p.numel() for p in inpainter.model.parameters())}


def run(args: argparse.Namespace) -> int:
    """``faceveil bench inpaint`` (options: :func:`faceveil.cli.bench._inpaint`)."""
    from ..cli import outputs

    if args.threads:
        torch.set_num_threads(args.threads)
    data, splits, split_of_person, people = view2_halves(args.root)
    scored = sorted(set(args.test_splits))
    if any(k >= len(splits) for k in scored):
        raise ValueError(f"--test-splits: view2-2fold has splits 0 to {len(splits) - 1}")
    methods = {}
    for text in args.method:
        name, files = parse_method(text)
        if name in methods or name in (ORIGINAL, DAMAGED, *args.baselines):
            raise ValueError(f"--method {name}: the name is taken")
        chosen = assign_models(name, files, [splits[k] for k in scored], [people[k] for k in scored], _load)
        methods[name] = {scored[i]: m for i, m in chosen.items()}
    quality_only = {}
    for text in args.quality_method:
        name, files = parse_method(text)
        if name in methods or name in quality_only or len(files) != 1:
            raise ValueError(f"--quality-method {name}: a new name and one model file")
        quality_only[name] = _load(files[0], name)
    judges = {name: make_embedder(name, device=args.device) for name in args.judges}
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS)
    size = args.chip_size
    for name, inpainter in [(n, m) for n, per in methods.items() for m in per.values()] + list(quality_only.items()):
        check_chip(name, inpainter, size)

    everyone = all_face_chips(data, ChipSpec("dlib-chip", size, CHIP_PADDING, 3), progress=not args.quiet)
    names = [everyone.identities[i] for i in everyone.labels.tolist()]
    pairs = [pair for k in scored for pair in splits[k].test_pairs]
    a, b, labels, folds = pair_rows(everyone, pairs)
    rows = np.union1d(a, b)
    local = {r: i for i, r in enumerate(rows.tolist())}
    chips = everyone.images(torch.from_numpy(rows))
    groups = np.array([split_of_person.get(names[r], -1) for r in rows])
    la, lb = np.array([local[r] for r in a]), np.array([local[r] for r in b])

    mask_set = irregular_mask_set(size, args.masks, seed=args.seed)
    damages = {kind: Damage(kind, size, args.seed, args.noise, mask_set if kind == "irregular" else None)
               for kind in args.damages}
    conditions = _conditions(damages, methods, args.baselines, groups)
    probe_bins = mask_set.bins[torch.from_numpy(lb % len(mask_set))].numpy()

    evaluations, full_first = {}, None
    for i, (judge_name, judge) in enumerate(judges.items()):
        chosen = conditions if i == 0 or args.second_judge_methods is None else {
            n: t for n, t in conditions.items() if _name(n) in (DAMAGED, *args.second_judge_methods)}
        evaluation = evaluate_transformed(chips, la, lb, labels, folds, judge, chosen, progress=not args.quiet,
                                          seed=args.seed)
        evaluations[judge_name] = _summary(evaluation, probe_bins, labels.astype(bool)) | {"judge": judge_name}
        if i == 0:
            full_first = evaluation.report()
        print(evaluation.format_table())

    # image quality: probes of the scored pairs; the quality-only generators on the people they never saw
    rng = np.random.default_rng(args.seed)
    probes = np.unique(lb)
    quality_rows = np.sort(rng.choice(probes, size=min(args.quality_images, probes.size), replace=False))
    quality_judge = judges[args.judges[0]]
    networks = {"lpips_model": load_lpips_alex(args.lpips_weights) if args.lpips_weights else None,
                "inception": load_inception(args.inception_weights) if args.inception_weights else None}
    quality, quality_rows_of = {}, {}
    for kind, damage in damages.items():
        transforms = {n: t for n, t in conditions.items() if n.startswith(f"{kind}/")}
        quality[kind] = _quality(chips[torch.from_numpy(quality_rows)], quality_rows, transforms, quality_judge,
                                 **networks)
        for name, inpainter in quality_only.items():
            record = inpainter.train_identities
            unseen = [r for r in quality_rows if record is None or names[rows[r]] not in set(record.get("names", []))]
            if record is not None:
                check_unseen(record, {names[rows[r]] for r in unseen}, what=str(inpainter.path))
            unseen = np.array(unseen, dtype=np.int64)
            label = f"{kind}/{name}"
            quality[kind] |= _quality(chips[torch.from_numpy(unseen)], unseen,
                                      {label: Reconstruction(damage, inpainter, name=label)}, quality_judge,
                                      **networks)
            quality[kind][label]["note"] = "probes of people it never trained on only"
            quality_rows_of[label] = int(unseen.size)
    example_rows = rng.choice(len(rows), size=min(args.examples, len(rows)), replace=False)
    _examples(chips, example_rows, {n: t for n, t in conditions.items()}, out / "examples.png")

    result = {
        "protocol": {"name": "view2-2fold", "scored_splits": scored, "splits": [split_record(s) for s in splits],
                     "pairs": int(len(pairs)), "gallery": f"image a, clean {size}x{size} dlib chip",
                     "probe": "image b, damaged once (the same damage for every method), then reconstructed"},
        "damages": list(damages), "damage_settings": {k: d.record() for k, d in damages.items()},
        "irregular_masks": {"count": len(mask_set), "seed": mask_set.seed, "bins": [list(b) for b in HOLE_BINS],
                            "mean_hole_ratio": float(mask_set.masks.mean())},
        "methods": list(methods), "baselines": list(args.baselines), "quality_methods": list(quality_only),
        "judges": list(judges), "second_judge_methods": args.second_judge_methods,
        "models": {name: {str(k): str(m.path) for k, m in per.items()} for name, per in methods.items()}
        | {name: {"quality-only": str(m.path)} for name, m in quality_only.items()},
        "training": {name: {str(k): _training_record(m) for k, m in per.items()} for name, per in methods.items()}
        | {name: {"quality-only": _training_record(m)} for name, m in quality_only.items()},
        "evaluations": evaluations, "quality": quality, "quality_images": int(quality_rows.size),
        "quality_images_of": quality_rows_of, "quality_judge": args.judges[0], "threads": torch.get_num_threads(),
        "paper": {"recognition": PAPER_RECOGNITION, "table1": PAPER_TABLE1, "table3": PAPER_TABLE3},
        "provenance": provenance(data={"root": str(data.data_root().resolve()), "source": data.source,
                                       "chips": int(len(rows))}, protocol={"name": "view2-2fold"}, seed=args.seed),
    }
    write_json(out / "result.json", result)
    (out / "table.md").write_text(_table(result))
    _distributions(result, full_first, out / "distributions.png")
    print(_table(result))
    print(f"wrote {', '.join(str(out / name) for name in OUTPUTS)}")
    return 0
