"""``faceveil degrade downscale``: low-resolution copies of face photos, the inputs of ``faceveil restore``.

    faceveil degrade downscale INPUT... --out DIR (--factor F | --size HxW) [--chip-size S] [--aligned]

Each photo is aligned to dlib's chip (padding 0.25, the geometry of the judges and of the restorers) at
``--chip-size``, then down-sampled by antialiased bicubic interpolation (PIL's and MATLAB's ``imresize``:
seed 003's degradation) and written as PNG; ``--aligned`` takes inputs that are chips already (resized to
the chip size first). One ``result.json`` in ``--out`` lists every image (no sidecar beside the PNGs, so
image-folder tools keep working).
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


def run_downscale(args) -> int:
    from tqdm.auto import tqdm

    from ..data.chips import CHIP_PADDING, ChipSpec
    from ..data.folders import output_names
    from ..data.images import save_png, to_tensor
    from ..data.resample import bicubic_resize, low_resolution_size
    from ..provenance import provenance
    from ..report.io import write_json
    from .embed import report_skipped
    from .protect import _path, read_photos

    chip = (args.chip_size, args.chip_size)
    low = args.size or low_resolution_size(*chip, args.factor)
    if low[0] > chip[0] or low[1] > chip[1]:
        raise UserError(f"--size {low[0]}x{low[1]} is larger than the {chip[0]}x{chip[1]} chip: not a down-sampling")
    targets = output_names(args.inputs, _path(args.out))
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, inputs=args.inputs,
                                 outputs=tuple(str(t.relative_to(_path(args.out))) for t in targets.values())
                                 + ("result.json",))
    photos, skipped = read_photos(list(targets), args.on_error)
    aligner = None if args.aligned else ChipSpec(size=chip, padding=CHIP_PADDING, detector=args.detector).aligner()
    rows = []
    for path in tqdm(list(photos), desc=f"downscale to {low[0]}x{low[1]}", unit="img", disable=args.quiet):
        face = None if aligner is None else aligner.align(photos[path])
        image = to_tensor([photos[path] if face is None else face.chip])
        target = save_png(bicubic_resize(bicubic_resize(image, chip), low)[0], targets[path])
        rows.append({"input": str(path), "output": str(target.relative_to(out)),
                     "face_detected": None if face is None else bool(face.detected)})
    no_face = sum(r["face_detected"] is False for r in rows)
    if no_face:
        print(f"warning: no face detected in {no_face} of {len(rows)} photo(s): their centred fallback box was used")
    write_json(out / "result.json", {"images": len(rows), "no_face": no_face, "chip": {"method": "dlib-chip",
                                     "size": list(chip), "padding": CHIP_PADDING, "aligned_inputs": args.aligned},
                                     "low_resolution": list(low),
                                     "resampling": "antialiased bicubic a=-0.5 (PIL, MATLAB imresize)",
                                     "per_image": rows, "skipped": {str(k): v for k, v in skipped.items()},
                                     "provenance": provenance()})
    report_skipped(skipped)
    print(f"wrote {len(rows)} face(s) at {low[0]}x{low[1]} to {out}, and {out / 'result.json'}")
    return 0
