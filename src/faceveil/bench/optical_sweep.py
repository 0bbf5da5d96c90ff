"""Kernel size and dilation of the MEM-FR mask against recognition and privacy (seed 000, Fig. 2).

Seed 000 Fig. 2(a) trains MEM-FR with growing mask sizes and plots the recognition accuracy with the
PSNR and SSIM between encrypted and original faces; Fig. 2(c) shows the privacy of growing dilation
rates. This sweep trains one short MEM-FR run per (kernel size, dilation) on the same faces with the
same budget and reports, on LFW View 2: the 10-fold verification accuracy of the binarised deployed
mask, and PSNR / SSIM of its encrypted images against the aligned faces.

The runs are short (a few epochs, optionally fewer DevTrain people) so the grid fits a CPU: compare the
rows with each other, not with the full MEM-FR run of ``faceveil bench optical``. Every run is a
resumable training folder under ``--out``; an interrupted sweep continues where it stopped.

Run of docs/benchmarks.md (2 CPU cores):
    faceveil bench optical-sweep --root ../shared/data/lfw --image-size 80 --epochs 5 \
        --max-identities 600 --out results/optical-sweep
Smoke test on the embedded sample:
    faceveil bench optical-sweep --image-size 48 --epochs 1 --kernel-sizes 3 5 --dilations 2 \
        --out /tmp/optical_sweep --quiet
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

import torch

from .. import __version__
from ..data.sample import sample_root
from ..protect.optical import (DataConfig, EncoderConfig, LossWeights, TrainConfig, load_chips, optical_setup, train,
                               training_items)
from .optical import quality, verify, view2_faces


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``faceveil bench optical-sweep``."""
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample)")
    p.add_argument("--image-size", type=int, default=80, help="scene side S (seed 000: 160)")
    p.add_argument("--kernel-sizes", type=int, nargs="+", default=[3, 5, 7, 9],
                   help="mask sizes k (k x k elements), each at the system's dilation (Fig. 2a)")
    p.add_argument("--dilations", type=int, nargs="+", default=[1, 2, 6, 8],
                   help="dilations in pixels, each with a 5 x 5 mask (Fig. 2c); the system's own is always run")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--max-identities", type=int, default=None, help="limit the DevTrain people")
    p.add_argument("--distill", type=float, default=1.0, help="weight of the judge distillation (0: seed 000's loss)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", required=True, help="output folder: result.json, sweep.png, one run per setting")
    p.add_argument("--quiet", action="store_true")


def grid(kernel_sizes: list[int], dilations: list[int], system_dilation: int) -> list[tuple[int, int]]:
    """(kernel size, dilation) settings: every kernel size at the system's dilation, then a 5 x 5 mask at
    every dilation; duplicates removed, order kept."""
    settings = [(k, system_dilation) for k in kernel_sizes] + [(5, d) for d in [system_dilation, *dilations]]
    return list(dict.fromkeys(settings))


def plot(rows: list[dict], system_dilation: int, path: Path) -> Path:
    """Fig. 2 (a) and (c) in one figure: accuracy, PSNR and SSIM against kernel size and dilation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("kernel_size", "mask size k (k x k)", lambda r: r["dilation_px"] == system_dilation),
              ("dilation_px", "dilation (pixels)", lambda r: r["kernel_size"] == 5)]
    measures = [("accuracy", "verification accuracy (%)", lambda r: 100 * r["verification"]["accuracy_mean"]),
                ("psnr", "PSNR encrypted vs original (dB)", lambda r: r["privacy"]["psnr"]),
                ("ssim", "SSIM encrypted vs original", lambda r: r["privacy"]["ssim"])]
    fig, axes = plt.subplots(len(measures), len(panels), figsize=(8, 7), sharex="col")
    for column, (key, label, keep) in enumerate(panels):
        chosen = sorted((r for r in rows if keep(r)), key=lambda r: r[key])
        for line, (_, ylabel, value) in enumerate(measures):
            ax = axes[line, column]
            ax.plot([r[key] for r in chosen], [value(r) for r in chosen], marker="o")
            ax.grid(alpha=0.3)
            if column == 0:
                ax.set_ylabel(ylabel, fontsize=8)
        axes[-1, column].set_xlabel(label)
    fig.suptitle("MEM-FR mask size and dilation (seed 000, Fig. 2)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> int:
    """Run the sweep of ``args`` (the options of :func:`add_arguments`); writes ``result.json`` and ``sweep.png``."""
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    root = Path(args.root) if args.root else sample_root()
    source = DataConfig(source="lfw-dev-train", root=str(root), max_identities=args.max_identities) if args.root \
        else DataConfig(source="sample", max_identities=args.max_identities)
    system_dilation = optical_setup("mem-fr").dilation_at(args.image_size)
    configs = [TrainConfig(out_dir=str(out / f"k{k}-d{d}"), data=source, epochs=args.epochs, binary_epochs=1,
                           encoder=EncoderConfig("mem-fr", args.image_size, kernel_size=k, dilation=d),
                           batch_size=args.batch_size, loss=LossWeights(distill=args.distill), seed=args.seed,
                           device=args.device)
               for k, d in grid(args.kernel_sizes, args.dilations, system_dilation)]  # bad settings fail here
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train_faces = load_chips(training_items(source), args.image_size, judge=args.distill > 0,
                             progress=not args.quiet, device=args.device)
    faces, a, b, labels, folds = view2_faces(root, args.image_size, args)
    scenes = faces.scenes()
    rows = []
    for config in configs:
        encoder = config.encoder
        model = train(config, data=train_faces, progress=not args.quiet).model.to(args.device)
        encrypted = model.encrypt(scenes, torch.Generator().manual_seed(args.seed)).cpu()
        row = {"kernel_size": encoder.kernel_size, "dilation_px": encoder.dilation,
               "psf_support_px": encoder.psf_support,
               "open_mask_elements": int(model.encoder.transmissions().sum()),
               "verification": verify(model.embed(encrypted).cpu(), a, b, labels, folds),
               "privacy": quality(encrypted, scenes)}
        rows.append(row)
        print(f"k = {encoder.kernel_size}, dilation {encoder.dilation} ({encoder.psf_support} px PSF): accuracy "
              f"{100 * row['verification']['accuracy_mean']:.2f} %, PSNR {row['privacy']['psnr']:.2f} dB, "
              f"SSIM {row['privacy']['ssim']:.3f}", flush=True)
    figure = plot(rows, system_dilation, out / "sweep.png")
    result = {"command": shlex.join(["faceveil", *args.argv]), "version": __version__, "seed": args.seed,
              "settings": {k: v for k, v in vars(args).items() if k not in ("func", "argv")},
              "data": {"root": str(root.resolve()), "train_people": len(train_faces.identities),
                       "train_images": len(train_faces), "view2_pairs": len(labels)},
              "system_dilation_px": system_dilation, "seconds": time.perf_counter() - t0, "rows": rows}
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {out / 'result.json'} and {figure}")
    return 0
