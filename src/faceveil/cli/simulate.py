"""``faceveil simulate``: what an optical set-up records of face photos.

    faceveil simulate speckle INPUT... --out DIR --grit G --distance MM [MM...] [--setting cpu|full]
                              [--target binary|grey] [--diffuser-seed S] [--seed S] [--chip-size S]
                              [--padding P] [--aligned]

Each photo is aligned to a loose dlib chip (padding 0.5: hair and ears stay, as in Wang et al.'s binary
faces), binarised at its Otsu level (or, with ``--target grey``, kept in grey levels stretched to [0, 1];
written as ``NAME_target.png``, the label a reconstruction is scored against) and shown as phase on the
simulated SLM of Wang et al.'s set-up; the speckle through the diffuser of
``--grit`` is recorded at each ``--distance`` from the focal plane (``NAME.png`` for one distance,
``NAME_20mm.png`` ... for several). One diffuser per grit and ``--diffuser-seed``; the camera noise of photo
i is drawn from ``(--seed, i)``. ``result.json`` lists every image and the optics.
"""

from __future__ import annotations

import argparse

from .options import DETECTORS, add_on_error, add_overwrite, add_quiet, int_at_least

#: padding of the chip the speckle faces come from (the judges' chip is 0.25: no hair, no ears)
SPECKLE_PADDING = 0.5
#: the grits and settings of faceveil.restore.speckle (named here so that --help imports no torch)
GRIT_NAMES = ("120", "220", "600", "1500")
SETTING_NAMES = ("cpu", "full")
TARGETS = ("binary", "grey")


def _distance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a distance in mm, got {text!r}") from None
    if not 0 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"distances are mm from the focal plane, 0 to 1000, got {text!r}")
    return value


def _padding(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 2:
        raise argparse.ArgumentTypeError(f"the chip padding is a fraction of the face, 0 to 2, got {text!r}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="system", required=True, metavar="SYSTEM")
    p = sub.add_parser("speckle", help="Wang et al.'s speckle: binary faces as SLM phase, through ground glass",
                       description="Binarise each face, show it as phase on a simulated SLM, scatter it through a "
                                   "ground-glass diffuser and record the speckle at each distance from the focal "
                                   "plane (Wang et al.'s set-up: 632.8 nm, 8 um SLM, 4f relay, 3.6 um camera).")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    p.add_argument("--grit", required=True, choices=GRIT_NAMES, help="the diffuser's grit (Thorlabs DG10-...)")
    p.add_argument("--distance", required=True, nargs="+", type=_distance, metavar="MM",
                   help="camera distances from the focal plane in mm (the paper: 0, 20, 40)")
    p.add_argument("--setting", choices=SETTING_NAMES, default="cpu",
                   help="cpu: camera relay at NA 0.02, 4x4-binned pixels, 64x64 output (seconds per face); full: "
                        "the paper's geometry, 800x800 camera pixels, 200x200 output (default cpu)")
    p.add_argument("--target", choices=TARGETS, default="binary",
                   help="what the SLM shows: binary faces (Otsu, the paper) or grey levels (its future work)")
    p.add_argument("--diffuser-seed", type=int_at_least(0), default=0, help="which diffuser of the grit (default 0)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the camera noise (default 0)")
    p.add_argument("--chip-size", type=int_at_least(16), default=128, help="side of the aligned chip (default 128)")
    p.add_argument("--padding", type=_padding, default=SPECKLE_PADDING,
                   help=f"padding of the dlib chip (default {SPECKLE_PADDING}: hair and ears)")
    p.add_argument("--aligned", action="store_true", help="the inputs are aligned chips: no face detection")
    p.add_argument("--detector", choices=DETECTORS, default="hog", help="face detector")
    p.add_argument("--device", default="cpu", help="torch device of the FFTs (default cpu)")
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)
    p.set_defaults(func=run_speckle)


def run_speckle(args) -> int:
    import dataclasses

    from ..config import to_dict
    from ..restore.speckle.simulator import SpeckleSimulator, label_maps, slm_faces, speckle_config
    from .degrade import degrade_photos
    from .options import UserError

    distances = list(dict.fromkeys(args.distance))
    try:
        config = speckle_config(args.setting, diffuser_seed=args.diffuser_seed)
        simulator = SpeckleSimulator(config, args.grit, device=args.device)
    except (ValueError, RuntimeError) as err:
        raise UserError(str(err)) from None
    suffixes = [""] if len(distances) == 1 else [f"_{d:g}mm" for d in distances]
    size = config.output_size

    def degrade(image, i):
        shown = slm_faces(image, args.target)
        patterns = simulator(shown, distances, seed=args.seed * 1_000_003 + i)
        label = label_maps(shown, size, args.target)
        return {"_target": label, **{s: p[:, None] for s, p in zip(suffixes, patterns)}}

    record = {"system": "speckle (Wang et al. 2023)", "grit": dataclasses.asdict(simulator.grit),
              "phase_rms_rad": simulator.sigma_phi, "distances_mm": distances, "setting": args.setting,
              "target": args.target,
              "optics": to_dict(config), "diffuser_oversample": simulator.oversample, "seed": args.seed}
    return degrade_photos(args, f"speckle, grit {args.grit}", degrade, ("_target", *suffixes), record,
                          padding=args.padding)
