"""What fixed, untrained masks hide: the privacy metrics and the judge against simple optics (issue 11).

No training: each (system, mask) camera encrypts the aligned faces of LFW View 2 pairs, and every
privacy measure is read off the same images: seed 000's Eq. 3 (dual cosine), PSNR and SSIM pixel-aligned
and after the best shift and gain, the shift-invariant correlation, and the dlib judge verifying the
pairs on the encrypted images (after an automatic gain, :func:`~faceveil.data.images.auto_gain`: a dark
image must not pass for a private one) and after Wiener deconvolution with the true PSF (the attacker who stole
the mask; its noise-to-signal ratio is the best of :data:`~faceveil.bench.optical.WIENER_NSRS` on the
first 200 images, an oracle choice). The masks:

* ``centre``: the centre element only, no shift at all: the sharp face (not private by any measure);
* ``offcentre``: one element a pitch right of the centre: a pure translation of the sharp face;
* ``corner``: the corner element: a translation by 2 x sqrt(2) pitches;
* ``open``: every element: for LOEN one element-wide blur, for MEM-FR 25 shifted copies;
* ``random``: a seeded half-open mask (13 of 25), the same for both systems.

Pixel-aligned metrics and Eq. 3 call the shifted masks private; the aligned metrics, the shift-invariant
correlation and the judge do not. Writes ``result.json``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from ..attack.deconv import wiener_deconvolution
from ..data.images import auto_gain
from ..data.protocols import lfw_protocol
from ..data.sample import sample_root
from ..provenance import provenance
from ..protect.optical import EncoderConfig, OpticalEncoder, dual_cosine_loss
from ..recognition.dlib_resnet import DlibTorchEmbedder
from ..report.io import write_json
from .optical import PROTOCOL, WIENER_TUNING_PAIRS, judge_verify, pair_faces, quality, tuned_wiener_nsr

MASKS = ("centre", "offcentre", "corner", "open", "random")


def mask_pattern(name: str, kernel_size: int = 5, seed: int = 0) -> torch.Tensor:
    """The (k, k) binary mask called ``name`` (one of :data:`MASKS`)."""
    mask, c = torch.zeros(kernel_size, kernel_size), kernel_size // 2
    if name == "centre":
        mask[c, c] = 1
    elif name == "offcentre":
        mask[c, c + 1] = 1
    elif name == "corner":
        mask[0, 0] = 1
    elif name == "open":
        mask[:] = 1
    elif name == "random":
        order = torch.randperm(kernel_size**2, generator=torch.Generator().manual_seed(seed))
        mask.view(-1)[order[: (kernel_size**2 + 1) // 2]] = 1
    else:
        raise ValueError(f"unknown mask {name!r}; choose from {', '.join(MASKS)}")
    return mask


def fixed_camera(system: str, image_size: int, mask: torch.Tensor) -> OpticalEncoder:
    """An encoder of ``system`` whose binary mask is ``mask`` (default sensor: noise, 8 bits)."""
    encoder = OpticalEncoder(EncoderConfig(system=system, image_size=image_size))
    encoder.mask.theta.data = torch.where(mask > 0, 10.0, -10.0)
    encoder.binary = True
    return encoder.eval()


def run(args: argparse.Namespace) -> int:
    """The table of ``args`` (options of ``faceveil bench optical-masks``); writes ``result.json``."""
    from ..cli import outputs

    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=("result.json",))
    if args.threads:
        torch.set_num_threads(args.threads)
    root = Path(args.root) if args.root else sample_root()
    split = lfw_protocol(root, PROTOCOL)[0]
    t0 = time.perf_counter()
    test = pair_faces(split.test_pairs, args.image_size, args)
    faces = test[0]
    scenes = faces.images()
    judge = DlibTorchEmbedder(device=args.device)
    rows = [{"system": "none", "mask": "original", "judge": judge_verify(judge, scenes, test, args.judge_folds)}]
    for system in args.systems:
        for name in args.masks:
            mask = mask_pattern(name, seed=args.seed)
            camera = fixed_camera(system, args.image_size, mask)
            encrypted = camera.encrypt(scenes, torch.Generator().manual_seed(args.seed), batch_size=256)
            with torch.no_grad():
                response = camera.response()
            tuning = slice(0, WIENER_TUNING_PAIRS)
            nsr = tuned_wiener_nsr(response, encrypted[tuning], scenes[tuning])
            restored = wiener_deconvolution(encrypted, response, nsr)
            row = {"system": system, "mask": name, "open_elements": int(mask.sum()),
                   "white_level": float(response.sum()), "dual_cosine": float(dual_cosine_loss(scenes, encrypted)),
                   "encrypted": quality(encrypted, scenes), "wiener": {**quality(restored, scenes), "nsr": nsr},
                   "judge": judge_verify(judge, auto_gain(encrypted), test, args.judge_folds),
                   "judge_after_wiener": judge_verify(judge, restored, test, args.judge_folds)}
            rows.append(row)
            e, w = row["encrypted"], row["wiener"]
            print(f"{system:7s} {name:9s} open {row['open_elements']:2d}: Eq.3 {row['dual_cosine']:.3f}, "
                  f"PSNR/SSIM {e['psnr']:.2f}/{e['ssim']:.3f}, aligned {e['aligned_psnr']:.2f}/{e['aligned_ssim']:.3f}, "
                  f"shift-corr {e['shift_correlation']:.3f}, judge {100 * row['judge']['accuracy_mean']:.2f} %, "
                  f"Wiener {w['aligned_ssim']:.3f} / judge {100 * row['judge_after_wiener']['accuracy_mean']:.2f} %",
                  flush=True)
    result = {"settings": {k: v for k, v in vars(args).items() if k not in ("func", "bench_module")},
              "protocol": split.record(), "images": len(faces), "seconds": time.perf_counter() - t0, "rows": rows,
              "provenance": provenance(data={"root": str(root.resolve())},
                                       protocol={"name": PROTOCOL, "split": split.name}, seed=args.seed)}
    write_json(out / "result.json", result)
    print(f"wrote {out / 'result.json'}")
    return 0
