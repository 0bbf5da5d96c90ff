"""Kernel size and dilation of the MEM-FR mask against recognition and privacy (Wu et al., Fig. 2).

The paper's Fig. 2(a) trains MEM-FR with growing mask sizes and plots the recognition accuracy with the
PSNR and SSIM between encrypted and original faces; Fig. 2(c) shows the privacy of growing dilation
rates. This sweep trains one short MEM-FR run per (kernel size, dilation) on the same faces with the
same budget: the training people of split 1 of ``view2-2fold`` (LFW View 2 folds 1-5, optionally fewer
of them), and reports on that split's test pairs (folds 6-10, people never trained on): the 10-fold
verification accuracy of the binarised deployed mask, and PSNR / SSIM of its encrypted images against
the aligned faces.

The runs are short (a few epochs) so the grid fits a CPU: compare the rows with each other, not with
the full MEM-FR run of ``faceveil bench optical``. Every run is a resumable training folder under
``--out``; an interrupted sweep continues where it stopped.

Commands and figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..data.identities import check_unseen, identity_record
from ..data.protocols import DataConfig, lfw_protocol
from ..data.sample import sample_root
from ..protect.optical import EncoderConfig, LossWeights, TrainConfig, optical_setup, train
from ..provenance import provenance
from ..report.io import write_json
from .optical import PROTOCOL, quality, split_faces, training_faces, verify


def grid(kernel_sizes: list[int], dilations: list[float], system_dilation: float) -> list[tuple[int, float]]:
    """(kernel size, element pitch) settings: every kernel size at the system's pitch (from the optics),
    then a 5 x 5 mask at every pitch ("dilation"); duplicates removed, order kept."""
    system_dilation = round(system_dilation, 2)
    settings = [(k, system_dilation) for k in kernel_sizes] + [(5, d) for d in [system_dilation, *dilations]]
    return list(dict.fromkeys(settings))


def plot(rows: list[dict], system_dilation: int, path: Path) -> Path:
    """Fig. 2 (a) and (c) in one figure: accuracy, PSNR and SSIM against kernel size and dilation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("kernel_size", "mask size k (k x k)", lambda r: r["dilation_px"] == system_dilation),
              ("dilation_px", "element pitch, 'dilation' (pixels)", lambda r: r["kernel_size"] == 5)]
    measures = [("verification accuracy (%)", {"": lambda r: 100 * r["verification"]["accuracy_mean"]}),
                ("PSNR encrypted vs original (dB)", {"pixel-aligned": lambda r: r["privacy"]["psnr"],
                                                     "best shift + gain": lambda r: r["privacy"]["aligned_psnr"]}),
                ("SSIM encrypted vs original", {"pixel-aligned": lambda r: r["privacy"]["ssim"],
                                                "best shift + gain": lambda r: r["privacy"]["aligned_ssim"]})]
    fig, axes = plt.subplots(len(measures), len(panels), figsize=(8, 7), sharex="col")
    for column, (key, label, keep) in enumerate(panels):
        chosen = sorted((r for r in rows if keep(r)), key=lambda r: r[key])
        for line, (ylabel, curves) in enumerate(measures):
            ax = axes[line, column]
            for name, value in curves.items():
                ax.plot([r[key] for r in chosen], [value(r) for r in chosen], marker="o", label=name or None)
            if len(curves) > 1 and column == 0:
                ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
            if column == 0:
                ax.set_ylabel(ylabel, fontsize=8)
        axes[-1, column].set_xlabel(label)
    fig.suptitle("MEM-FR mask size and dilation (Wu et al., Fig. 2)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run(args: argparse.Namespace) -> int:
    """Run the sweep of ``args`` (the options of ``faceveil bench optical-sweep``); writes ``result.json``
    and ``sweep.png``."""
    from ..cli import outputs

    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=("result.json", "sweep.png"))
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.root) if args.root else sample_root()
    split = lfw_protocol(root, PROTOCOL)[0]
    source = DataConfig(source="lfw" if args.root else "sample", root=args.root, protocol=PROTOCOL, split=0,
                        max_identities=args.max_identities)
    system_dilation = optical_setup("mem-fr").element_pitch_px(args.image_size)
    configs = [TrainConfig(out_dir=str(out / f"k{k}-d{d:g}"), data=source, epochs=args.epochs, binary_epochs=1,
                           encoder=EncoderConfig("mem-fr", args.image_size, kernel_size=k, dilation=d),
                           batch_size=args.batch_size, loss=LossWeights(distill=args.distill), seed=args.seed,
                           device=args.device)
               for k, d in grid(args.kernel_sizes, args.dilations, system_dilation)]  # bad settings fail here
    t0 = time.perf_counter()
    train_faces = training_faces(source.training_photos(split), args)
    check_unseen(identity_record(train_faces.identities), split.test_people, what="the sweep's MEM-FR runs")
    faces, a, b, labels, folds = split_faces(split, args.image_size, args)
    scenes = faces.images()
    rows = []
    for config in configs:
        encoder = config.encoder
        model = train(config, data=train_faces, progress=not args.quiet, split=split,
                      overwrite=args.overwrite).model.to(args.device)
        encrypted = model.encrypt(scenes, torch.Generator().manual_seed(args.seed)).cpu()
        row = {"kernel_size": encoder.kernel_size, "dilation_px": encoder.dilation,
               "psf_support_px": encoder.psf_support,
               "open_mask_elements": int(model.encoder.transmissions().sum()),
               "verification": verify(model.embed(encrypted.to(args.device)).cpu(), a, b, labels, folds),
               "privacy": quality(encrypted, scenes)}
        rows.append(row)
        print(f"k = {encoder.kernel_size}, pitch {encoder.dilation:g} px ({encoder.psf_support} px PSF): accuracy "
              f"{100 * row['verification']['accuracy_mean']:.2f} %, PSNR/SSIM {row['privacy']['psnr']:.2f} dB/"
              f"{row['privacy']['ssim']:.3f}, aligned {row['privacy']['aligned_psnr']:.2f} dB/"
              f"{row['privacy']['aligned_ssim']:.3f}", flush=True)
    figure = plot(rows, round(system_dilation, 2), out / "sweep.png")
    result = {"settings": {k: v for k, v in vars(args).items() if k not in ("func", "bench_module")},
              "protocol": split.record(),
              "data": {"root": str(root.resolve()), "train_people": len(train_faces.identities),
                       "train_images": len(train_faces), "test_pairs": len(labels)},
              "system_dilation_px": system_dilation, "seconds": time.perf_counter() - t0, "rows": rows,
              "provenance": provenance(data={"root": str(root.resolve())},
                                       protocol={"name": PROTOCOL, "split": split.name}, seed=args.seed)}
    write_json(out / "result.json", result)
    print(f"wrote {out / 'result.json'} and {figure}")
    return 0
