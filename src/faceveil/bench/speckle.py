"""``faceveil bench speckle``: Wang et al.'s Tables 1 and 2 on simulated speckle, and what the paper does not
measure: how much identity a reconstruction keeps.

* Table 1: PCC, SSIM, PSNR (of the network's output map, stretched to [0, 1] per pattern for an NPCC
  network: :class:`~faceveil.restore.speckle.restorer.SpeckleReconstructor`) and Jaccard index (of it
  thresholded at 0.5) against the label, per method and grit, on the splits of
  :mod:`faceveil.restore.speckle.dataset` (``depth`` is the paper's validation; ``faces`` and ``diffuser``
  are new).
* Identity: each reconstruction (thresholded at 0.5 for binary faces, as it is for grey ones) and every
  target of the split, cropped to the judge's chip (the dataset's loose chip holds it) and embedded by the
  judge: rank-1 of a reconstruction's own target among all, and the AUC of own-target against
  other-target similarities; the speckle itself is the chance floor.
* Table 2: parameters, FLOPs (``torch.utils.flop_counter.FlopCounterMode``, 2 per multiply-add), throughput
  and latency at batch 2 for SpT UNet, SpT UNet-B, the U-Net and the DenseNet-FCN at the paper's sizes,
  untrained.
* The simulator: patterns per second per setting and grit, and each dataset array's generation time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from ..eval.quality import jaccard, pcc, psnr, ssim
from ..provenance import provenance
from ..report.io import write_json
from ..restore.speckle.dataset import SpeckleDataset
from ..restore.speckle.model import SpeckleDenseFCN, SpeckleUNet, spt_unet
from ..restore.speckle.restorer import SpeckleReconstructor
from ..restore.speckle.simulator import DISTANCES_MM, SpeckleSimulator, speckle_config
from .cross_fitting import parse_method

OUTPUTS = ("result.json", "table.md", "examples.png")
#: Wang et al.'s Table 1 (real speckle, 40 mm; 1,500 LFW faces at 200 px) and Table 2 (RTX 3090, batch 2)
PAPER_TABLE1 = {"120": {"pcc": 0.9898, "jaccard": 0.9768, "ssim": 0.9512},
                "220": {"pcc": 0.9899, "jaccard": 0.9769, "ssim": 0.9513},
                "600": {"pcc": 0.9901, "jaccard": 0.9772, "ssim": 0.9517},
                "1500": {"pcc": 0.9903, "jaccard": 0.9775, "ssim": 0.9522}}
PAPER_TABLE1_NOTE = ("the paper gives PCC > 0.989, JI > 0.976, SSIM > 0.950 for every grit and PSNR rising "
                     "with the grit number; per-grit values are not reproduced here beyond those bounds")
PAPER_TABLE2 = {("spt-unet", 256): (31.7, 6.6, 62.5, 31.34), ("spt-unet", 224): (24.3, 6.6, 83.3, 24.02),
                ("spt-unet", 200): (19.4, 6.6, 86.9, 23.02), ("spt-unet-b", 256): (19.6, 4.0, 78.5, 25.46),
                ("spt-unet-b", 224): (15.0, 4.0, 90.8, 22.02), ("spt-unet-b", 200): (12.0, 4.0, 95.1, 21.02)}
JUDGE_CROP = 1.5 / 2.0  # a padding-0.25 chip is the central 1.5 / 2 of a padding-0.5 one


def _load_methods(texts: list[str]) -> dict[str, dict[str, SpeckleReconstructor]]:
    methods: dict[str, dict[str, SpeckleReconstructor]] = {}
    for text in texts:
        name, files = parse_method(text)
        if name in methods:
            raise ValueError(f"--method {name}: the name is taken")
        per_grit = {}
        for path in files:
            model = SpeckleReconstructor.from_file(path)
            if model.grit in per_grit:
                raise ValueError(f"--method {name}: two models for grit {model.grit}")
            per_grit[model.grit] = model
        methods[name] = per_grit
    folders = {m.payload.get("dataset") for per in methods.values() for m in per.values()}
    if len(folders) != 1:
        raise ValueError(f"every model must come from one speckle dataset; these come from {sorted(map(str, folders))}")
    return methods


def _quality(prediction: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {"pcc": float(pcc(prediction, labels).mean()), "ssim": float(ssim(prediction, labels).mean()),
            "psnr": float(psnr(prediction, labels).clamp(max=100).mean()),
            "jaccard": float(jaccard(prediction, labels).mean())}


def judge_view(binary: torch.Tensor, size: int = 150) -> torch.Tensor:
    """Binary faces (N, 1, S, S) of the loose speckle chip -> the judge's chip (N, 3, size, size): the central
    3/4 (padding 0.25 of padding 0.5), resized bilinearly."""
    s = binary.shape[-1]
    keep = round(s * JUDGE_CROP)
    start = (s - keep) // 2
    crop = binary[..., start:start + keep, start:start + keep].float()
    return F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False).expand(-1, 3, -1, -1)


def identity_scores(judge, probes: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Rank-1 of each probe's own target (row i <-> target i) among all targets, and the AUC of own against
    other targets' cosine similarities; probes and targets (N, 1, S, S) in [0, 1]."""
    from ..eval.verification import auc, roc_curve

    a = judge.embed(judge_view(probes))
    b = judge.embed(judge_view(targets))
    similarity = (a @ b.T).numpy()
    n = len(similarity)
    genuine = np.diag(similarity)
    impostor = similarity[~np.eye(n, dtype=bool)]
    scores = np.concatenate([genuine, impostor])
    labels = np.concatenate([np.ones(n), np.zeros(len(impostor))])
    return {"rank1": float((similarity.argmax(1) == np.arange(n)).mean()), "auc": auc(*roc_curve(scores, labels)[:2]),
            "chance_rank1": 1 / n, "faces": n}


def _model_speed(sizes, batch: int, repeats: int) -> list[dict]:
    from torch.utils.flop_counter import FlopCounterMode

    models = {"spt-unet": spt_unet("spt-unet"), "spt-unet-b": spt_unet("spt-unet-b"), "unet": SpeckleUNet(),
              "densenet": SpeckleDenseFCN()}
    rows = []
    for name, model in models.items():
        model.eval()
        parameters = sum(p.numel() for p in model.parameters())
        for size in sizes:
            x = torch.rand(batch, 1, size, size)
            with torch.inference_mode():
                with FlopCounterMode(display=False) as counter:
                    model(x[:1])
                times = []
                for _ in range(repeats):
                    start = time.perf_counter()
                    model(x)
                    times.append(time.perf_counter() - start)
            best = min(times)
            paper = PAPER_TABLE2.get((name, size))
            rows.append({"model": name, "size": size, "parameters": parameters,
                         "gflops": counter.get_total_flops() / 1e9, "gmacs": counter.get_total_flops() / 2e9,
                         "images_per_second": batch / best, "latency_ms": 1000 * best, "batch": batch,
                         "paper": None if paper is None else dict(zip(("gflops", "parameters_m", "images_per_second",
                                                                      "latency_ms"), paper))})
    return rows


def _simulator_speed(settings: list[str], grits: list[str], faces: int) -> list[dict]:
    rows = []
    binary = (torch.rand(faces, 64, 64, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    for setting in settings:
        count = faces if setting == "cpu" else 1
        for grit in grits:
            start = time.perf_counter()
            simulator = SpeckleSimulator(speckle_config(setting), grit)
            built = time.perf_counter() - start
            start = time.perf_counter()
            simulator(binary[:count], DISTANCES_MM)
            seconds = time.perf_counter() - start
            rows.append({"setting": setting, "grit": grit, "diffuser_grid": simulator.fine_n,
                         "propagation_grids": [simulator.grid_size(z) for z in DISTANCES_MM],
                         "setup_seconds": built, "faces": count, "patterns": count * len(DISTANCES_MM),
                         "patterns_per_second": count * len(DISTANCES_MM) / seconds})
    return rows


def _examples(path, dataset: SpeckleDataset, methods, grits: list[str]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    held = dataset.rows("test")[0][0]
    columns = ["target"] + [f"{d:g} mm" for d in dataset.distances_mm] + [f"{m} (40 mm)" for m in methods]
    fig, axes = plt.subplots(len(grits), len(columns), figsize=(1.6 * len(columns), 1.7 * len(grits)), squeeze=False)
    array_of = lambda g: np.load(dataset.folder / dataset.array_name(g, dataset.manifest["config"]["diffuser_seed"]),  # noqa: E731
                                 mmap_mode="r")
    for r, grit in enumerate(grits):
        rows = dataset.manifest["arrays"][dataset.array_name(grit, dataset.manifest["config"]["diffuser_seed"])]["rows"]
        patterns = array_of(grit)[rows.index(held)]
        images = [dataset.labels()[held] * np.uint8(255)] + list(patterns)
        far = torch.from_numpy(patterns[dataset.distances_mm.index(40.0)].astype(np.float32) / 255)[None, None]
        images += [methods[m][grit](far)[0, 0].numpy() if grit in methods[m] else np.zeros_like(images[0], float)
                   for m in methods]
        for c, image in enumerate(images):
            ax = axes[r][c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else 1)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=7)
        axes[r][0].set_ylabel(f"grit {grit}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _table(result: dict) -> str:
    lines = ["## Table 1 shape: reconstruction quality (mean over the split's pairs)", "",
             "| split | method | grit | PCC | SSIM | JI | PSNR (dB) | pairs |", "|---|---|---|---|---|---|---|---|"]
    for split, per_method in result["quality"].items():
        for method, per_grit in per_method.items():
            for grit, q in per_grit.items():
                lines.append(f"| {split} | {method} | {grit} | {q['pcc']:.4f} | {q['ssim']:.4f} | {q['jaccard']:.4f} "
                             f"| {q['psnr']:.2f} | {q['pairs']} |")
    lines += ["", f"Paper (real speckle, 40 mm): {PAPER_TABLE1_NOTE}.", "",
              "## Identity kept (judge between a reconstruction and the targets of the split)", "",
              "| split | input | grit | distance | rank-1 | AUC own vs other targets | faces (chance rank-1) |",
              "|---|---|---|---|---|---|---|"]
    for split, per_method in result["identity"].items():
        for method, per_grit in per_method.items():
            for grit, s in per_grit.items():
                lines.append(f"| {split} | {method} | {grit} | {s['distance_mm']:g} mm | {100 * s['rank1']:.1f} % | "
                             f"{s['auc']:.3f} | "
                             f"{s['faces']} ({100 * s['chance_rank1']:.1f} %) |")
    lines += ["", "## Table 2 shape: model cost (untrained, paper sizes)", "",
              "| model | size | parameters | GFLOPs (GMACs) | img/s | ms per batch of 2 | paper: GFLOPs, params, img/s, ms |",
              "|---|---|---|---|---|---|---|"]
    for row in result["models"]:
        p = row["paper"]
        paper = "-" if p is None else (f"{p['gflops']}, {p['parameters_m']} M, {p['images_per_second']}, "
                                       f"{p['latency_ms']}")
        lines.append(f"| {row['model']} | {row['size']} | {row['parameters'] / 1e6:.2f} M | {row['gflops']:.1f} "
                     f"({row['gmacs']:.1f}) | {row['images_per_second']:.2f} | {row['latency_ms']:.0f} | {paper} |")
    lines += ["", "## Simulator speed", "", "| setting | grit | diffuser grid | propagation grids (0/20/40 mm) | "
              "set-up s | patterns/s |", "|---|---|---|---|---|---|"]
    for row in result["simulator"]:
        lines.append(f"| {row['setting']} | {row['grit']} | {row['diffuser_grid']} | "
                     f"{'/'.join(map(str, row['propagation_grids']))} | {row['setup_seconds']:.2f} | "
                     f"{row['patterns_per_second']:.2f} |")
    lines += ["", "## Dataset generation", "", "| array | faces | seconds | faces/s |", "|---|---|---|---|"]
    for name, row in result["dataset"]["arrays"].items():
        rate = row["faces"] / row["seconds"] if row["seconds"] else float("nan")
        lines.append(f"| {name} | {row['faces']} | {row['seconds']:.0f} | {rate:.2f} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """``faceveil bench speckle`` (options: :func:`faceveil.cli.bench._speckle`)."""
    from ..cli import outputs
    from ..recognition.registry import make_embedder

    if args.threads:
        torch.set_num_threads(args.threads)
    methods = _load_methods(args.method)
    if not methods:
        raise ValueError("give at least one --method NAME=MODEL[,MODEL...] of 'faceveil train speckle'")
    first = next(iter(next(iter(methods.values())).values()))
    dataset = SpeckleDataset(first.payload["dataset"])
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS)
    grits = sorted({g for per in methods.values() for g in per}, key=int)
    judge = make_embedder(args.judge, device=args.device)
    quality, identity = {}, {}
    for split in args.splits:
        quality[split], identity[split] = {}, {}
        floor = {}
        for name, per_grit in methods.items():
            quality[split][name], identity[split][name] = {}, {}
            for grit, model in sorted(per_grit.items(), key=lambda kv: int(kv[0])):
                speckle, labels, rows = dataset.pairs(split, grit)
                prediction = model(speckle)
                quality[split][name][grit] = _quality(prediction, labels) | {"pairs": len(rows)}
                # one pair per face: the split's farthest distance
                distances = dataset.rows(split)[1]
                pick = torch.arange(len(distances) - 1, len(rows), len(distances))
                shown = prediction[pick] if dataset.target == "grey" else (prediction[pick] > 0.5).float()
                kept = identity_scores(judge, shown, labels[pick])
                identity[split][name][grit] = kept | {"distance_mm": distances[-1]}
                if grit not in floor:
                    floor[grit] = identity_scores(judge, speckle[pick], labels[pick]) | {"distance_mm": distances[-1]}
        identity[split]["speckle (chance floor)"] = floor
    result = {"dataset": {"folder": str(dataset.folder), "config": dataset.manifest["config"],
                          "protocol": dataset.manifest["protocol"], "arrays": {
                              k: {kk: v[kk] for kk in ("grit", "diffuser_seed", "faces", "seconds")}
                              for k, v in dataset.manifest["arrays"].items()}},
              "methods": {n: {g: {"model": str(m.path), "parameters": sum(p.numel() for p in m.model.parameters()),
                                  "architecture": m.payload["model"], "steps": m.payload.get("steps"),
                                  "seconds": sum(e.get("seconds", 0) for e in m.payload.get("history", []))}
                              for g, m in per.items()} for n, per in methods.items()},
              "judge": args.judge, "quality": quality, "identity": identity,
              "paper": {"table1": PAPER_TABLE1_NOTE}, "threads": torch.get_num_threads()}
    result["models"] = _model_speed(args.speed_sizes, 2, args.repeats)
    result["simulator"] = _simulator_speed(args.simulator_settings, grits, 4)
    result["provenance"] = provenance(seed=0)
    _examples(out / "examples.png", dataset, methods, grits)
    write_json(out / "result.json", result)
    (out / "table.md").write_text(_table(result))
    print(_table(result))
    print(f"wrote {out / 'result.json'}, {out / 'table.md'} and {out / 'examples.png'}")
    return 0

