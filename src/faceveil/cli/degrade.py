"""``faceveil degrade``: damaged copies of face photos, the inputs of ``faceveil restore``.

    faceveil degrade downscale INPUT... --out DIR (--factor F | --size HxW) [--chip-size S] [--aligned]
    faceveil degrade occlude INPUT... --out DIR [--variant paper|code] [--noise add|replace] [--seed S]
    faceveil degrade mask INPUT... --out DIR [--hole-ratio LO-HI] [--seed S]

Each photo is aligned to dlib's chip (padding 0.25, the geometry of the judges and of the restorers) at
``--chip-size``; ``--aligned`` takes inputs that are chips already (resized to the chip size first).
``downscale`` down-samples it by antialiased bicubic interpolation (PIL's and MATLAB's ``imresize``: seed
003's degradation). ``occlude`` draws seed 002's Algorithm 1 occlusion filled with Gaussian noise, ``mask``
an irregular hole mask (white holes) with a hole ratio in the given range; both write ``NAME.png`` and its
mask ``NAME_mask.png`` (white: damaged), the pairing inpainting tools read. The damage of photo i is drawn
from ``(--seed, i)``: the same command gives the same images. One ``result.json`` in ``--out`` lists every
image (no other sidecar beside the PNGs, so image-folder tools keep working).
"""

from __future__ import annotations

import argparse

from . import outputs
from .options import DETECTORS, UserError, add_on_error, add_overwrite, add_quiet, int_at_least


def _size(text: str) -> tuple[int, int]:
    height, sep, width = text.lower().partition("x")
    try:
        size = (int(height), int(width)) if sep else (int(text), int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW or N (pixels), got {text!r}") from None
    if min(size) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be >= 1 pixel, got {text!r}")
    return size


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="degradation", required=True, metavar="DEGRADATION")
    p = sub.add_parser("downscale", help="low resolution: align, then antialiased bicubic down-sampling",
                       description="Align each face to dlib's chip and down-sample it with antialiased bicubic "
                                   "interpolation (112x112 by 16: 7x7 pixels).")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    scale = p.add_mutually_exclusive_group(required=True)
    scale.add_argument("--factor", type=int_at_least(1), help="down-sampling factor (4, 8, 16: 28, 14, 7 px)")
    scale.add_argument("--size", type=_size, help="low-resolution size, HxW or N (square)")
    p.add_argument("--chip-size", type=int_at_least(16), default=112, help="side of the aligned chip (default 112)")
    p.add_argument("--aligned", action="store_true", help="the inputs are aligned chips: no face detection")
    p.add_argument("--detector", choices=DETECTORS, default="hog", help="face detector")
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)
    p.set_defaults(func=run_downscale)

    p = sub.add_parser("occlude", help="Zeman et al.'s Algorithm 1 occlusion (noise-filled strokes) and its mask",
                       description="Align each face to dlib's chip and draw Algorithm 1's occlusion: a square on a "
                                   "random landmark, then 30 noise-filled segments inside the face; writes NAME.png "
                                   "and NAME_mask.png.")
    _damage_options(p)
    p.add_argument("--variant", choices=("paper", "code"), default="paper",
                   help="paper: start at a landmark, moves left/right/up/down; code: the public code's random start "
                        "and diagonal moves (default paper)")
    p.add_argument("--noise", choices=("add", "replace"), default="add",
                   help="N(128, 35) added to the pixels (the paper) or replacing them (the public code)")
    p.set_defaults(func=run_damage, damage="occlude")

    p = sub.add_parser("mask", help="irregular hole masks (strokes and boxes) at a given hole ratio",
                       description="Align each face to dlib's chip and cut irregular holes (white) of a hole ratio "
                                   "in --hole-ratio; writes NAME.png and NAME_mask.png.")
    _damage_options(p)
    p.add_argument("--hole-ratio", type=_ratio_range, default=(0.1, 0.2),
                   help="range LO-HI of the fraction of the chip masked, e.g. 0.1-0.2 (default; at most 0.5 is "
                        "the usual set)")
    p.set_defaults(func=run_damage, damage="mask")


def _damage_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    p.add_argument("--chip-size", type=int_at_least(16), default=128, help="side of the aligned chip (default 128)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the masks and the noise (default 0)")
    p.add_argument("--aligned", action="store_true", help="the inputs are aligned chips: no face detection")
    p.add_argument("--detector", choices=DETECTORS, default="hog", help="face detector")
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)


def _ratio_range(text: str) -> tuple[float, float]:
    lo, sep, hi = text.partition("-")
    try:
        bounds = (float(lo), float(hi)) if sep else (0.0, float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO-HI fractions, e.g. 0.1-0.2, got {text!r}") from None
    if not 0 <= bounds[0] < bounds[1] <= 1:
        raise argparse.ArgumentTypeError(f"the hole ratio range must satisfy 0 <= LO < HI <= 1, got {text!r}")
    return bounds


def degrade_photos(args, desc: str, degrade, outputs_per_image, record: dict, padding: float | None = None) -> int:
    """Align every input (unless ``--aligned``) to a dlib chip of ``--chip-size`` (``padding``: default the
    judges' 0.25), ``degrade(chip (1, 3, S, S), i) -> {suffix: image (1, C, h, w)}`` it, write the images
    (``""``: NAME.png, ``"_mask"``: NAME_mask.png) and one ``result.json``."""
    from tqdm.auto import tqdm

    from ..data.chips import CHIP_PADDING, ChipSpec
    from ..data.folders import output_names
    from ..data.images import save_png, to_tensor
    from ..data.resample import bicubic_resize
    from ..provenance import provenance
    from ..report.io import write_json
    from .embed import report_skipped
    from .protect import _path, read_photos

    chip = (args.chip_size, args.chip_size)
    padding = CHIP_PADDING if padding is None else padding
    targets = output_names(args.inputs, _path(args.out))
    named = lambda target, suffix: target.with_name(target.stem + suffix + target.suffix)  # noqa: E731
    written = tuple(str(named(t, suffix).relative_to(_path(args.out))) for t in targets.values()
                    for suffix in outputs_per_image)
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, inputs=args.inputs,
                                 outputs=written + ("result.json",))
    photos, skipped = read_photos(list(targets), args.on_error)
    aligner = None if args.aligned else ChipSpec(size=chip, padding=padding, detector=args.detector).aligner()
    rows = []
    for i, path in enumerate(tqdm(list(photos), desc=desc, unit="img", disable=args.quiet)):
        face = None if aligner is None else aligner.align(photos[path])
        image = bicubic_resize(to_tensor([photos[path] if face is None else face.chip]), chip).clamp(0, 1)
        row = {"input": str(path), "face_detected": None if face is None else bool(face.detected)}
        for suffix, result in degrade(image, i).items():
            target = save_png(result[0], named(targets[path], suffix))
            row["output" if not suffix else suffix.strip("_")] = str(target.relative_to(out))
        rows.append(row)
    no_face = sum(r["face_detected"] is False for r in rows)
    if no_face:
        print(f"warning: no face detected in {no_face} of {len(rows)} photo(s): their centred fallback box was used")
    write_json(out / "result.json", {"images": len(rows), "no_face": no_face, "chip": {"method": "dlib-chip",
                                     "size": list(chip), "padding": padding, "aligned_inputs": args.aligned},
                                     **record, "per_image": rows, "skipped": {str(k): v for k, v in skipped.items()},
                                     "provenance": provenance()})
    report_skipped(skipped)
    print(f"wrote {len(rows)} face(s) ({desc}) to {out}, and {out / 'result.json'}")
    return 0


def run_downscale(args) -> int:
    from ..data.resample import bicubic_resize, low_resolution_size

    chip = (args.chip_size, args.chip_size)
    low = args.size or low_resolution_size(*chip, args.factor)
    if low[0] > chip[0] or low[1] > chip[1]:
        raise UserError(f"--size {low[0]}x{low[1]} is larger than the {chip[0]}x{chip[1]} chip: not a down-sampling")
    return degrade_photos(args, f"downscale to {low[0]}x{low[1]}", lambda image, i: {"": bicubic_resize(image, low)},
                          ("",), {"low_resolution": list(low),
                                  "resampling": "antialiased bicubic a=-0.5 (PIL, MATLAB imresize)"})


def run_damage(args) -> int:
    import numpy as np
    import torch

    from ..restore.inpaint.damage import algorithm1_mask, erase, irregular_mask, occlude

    size = args.chip_size

    def degrade(image, i):
        rng = np.random.default_rng([args.seed, i])
        if args.damage == "occlude":
            mask = torch.from_numpy(algorithm1_mask(size, rng, args.variant))[None, None]
            damaged = occlude(image, mask, torch.Generator().manual_seed(args.seed * 1_000_003 + i), args.noise)
        else:
            mask = torch.from_numpy(irregular_mask(size, rng, args.hole_ratio))[None, None]
            damaged = erase(image, mask)
        return {"": damaged, "_mask": mask.expand(-1, 3, -1, -1)}

    if args.damage == "occlude":
        record = {"damage": "algorithm1", "variant": args.variant, "noise": args.noise, "fill": "N(128, 35)"}
    else:
        record = {"damage": "irregular", "hole_ratio": list(args.hole_ratio), "fill": "white"}
    return degrade_photos(args, f"{args.damage} {size}x{size} chips", degrade, ("", "_mask"),
                          {**record, "seed": args.seed})
