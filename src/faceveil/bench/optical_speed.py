"""Speed of trained optical systems, back to back in one process: the encoder (optics + sensor) and the
whole system (encoder + back-end) on a batch of scenes, images per second, best of --repeats.

The training runs of ``faceveil bench optical`` measure speed on whatever load the machine has; this
benchmark times MEM-FR and LOEN under the same conditions, one after the other, and writes
``result.json`` into ``--out``.

Run of docs/benchmarks.md:
    faceveil bench optical-speed results/optical/mem-fr/model.pt results/optical/loen/model.pt \\
        --out results/optical-speed
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..protect.optical import load_checkpoint
from ..provenance import provenance
from ..report.io import write_json
from .optical import images_per_second

OUTPUTS = ("result.json",)
#: the scenes and the sensor noise are drawn with this seed
SEED = 0


def run(args: argparse.Namespace) -> int:
    """``faceveil bench optical-speed`` (options: :func:`faceveil.cli.bench._optical_speed`)."""
    from ..cli import outputs

    missing = [path for path in args.checkpoints if not Path(path).is_file()]
    if missing:
        raise FileNotFoundError(f"checkpoint(s) not found: {', '.join(missing)}")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS)
    torch.set_num_threads(args.threads)
    rows = []
    for path in args.checkpoints:
        model, _ = load_checkpoint(path)
        size = model.config.encoder.image_size
        scenes = torch.rand(args.batch_size, model.config.channels, size, size,
                            generator=torch.Generator().manual_seed(SEED))
        generator = torch.Generator().manual_seed(SEED)
        with torch.no_grad():
            encoder = images_per_second(lambda x: model.encoder(x, generator), scenes, args.repeats)
            system = images_per_second(lambda x: model.embed(model.encoder(x, generator)), scenes, args.repeats)
        psf = model.encoder.psf().shape[0]
        rows.append({"checkpoint": str(Path(path).resolve()), "system": model.config.encoder.system,
                     "image_size": size, "psf_px": psf, "encoder_images_per_s": encoder,
                     "system_images_per_s": system})
        print(f"{model.config.encoder.system:7s} {size}x{size}, PSF {psf} px: "
              f"encoder {encoder:.0f} images/s, encoder + back-end {system:.0f} images/s "
              f"({args.threads} thread{'s' if args.threads > 1 else ''}, batch {args.batch_size})")
    result = {"settings": {"batch_size": args.batch_size, "repeats": args.repeats, "threads": args.threads},
              "rows": rows,
              "provenance": provenance(data={"checkpoints": [row["checkpoint"] for row in rows]}, seed=SEED)}
    write_json(out / "result.json", result)
    print(f"wrote {out / 'result.json'}")
    return 0
