"""Speed of trained optical systems, back to back in one process: the encoder (optics + sensor) and the
whole system (encoder + back-end) on a batch of scenes, images per second, best of --repeats.

The training runs of ``faceveil bench optical`` measure speed on whatever load the machine has; this
script times MEM-FR and LOEN under the same conditions, one after the other:

    python benchmarks/optical_speed.py results/optical/mem-fr/model.pt results/optical/loen/model.pt
"""

from __future__ import annotations

import argparse

import torch

from faceveil.bench.optical import images_per_second
from faceveil.protect.optical import load_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", help="model.pt files of faceveil train optical / bench optical")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    for path in args.checkpoints:
        model, _ = load_checkpoint(path)
        size = model.config.encoder.image_size
        scenes = torch.rand(args.batch_size, model.config.channels, size, size,
                            generator=torch.Generator().manual_seed(0))
        generator = torch.Generator().manual_seed(0)
        with torch.no_grad():
            encoder = images_per_second(lambda x: model.encoder(x, generator), scenes, args.repeats)
            system = images_per_second(lambda x: model.embed(model.encoder(x, generator)), scenes, args.repeats)
        print(f"{model.config.encoder.system:7s} {size}x{size}, PSF {model.encoder.psf().shape[0]} px: "
              f"encoder {encoder:.0f} images/s, encoder + back-end {system:.0f} images/s "
              f"({args.threads} threads, batch {args.batch_size})")


if __name__ == "__main__":
    main()
