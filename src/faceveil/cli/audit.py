"""``faceveil audit dp``: an empirical lower bound on the eps a DP mechanism gives, beside its claim.

The mechanism is run many times on two neighbouring inputs (two people's face chips for seed 004's
methods, Definition 1; one chip and its m-pixel neighbour for DP-Pix), distinguishing tests are
calibrated on half of the releases and counted on the other half, and Clopper-Pearson limits turn their
error rates into a lower bound on eps at the stated delta and confidence
(:mod:`faceveil.attack.privacy_audit`). A bound above the claim refutes it; a bound below it does not
prove it.
"""

from __future__ import annotations

import argparse

from .options import DETECTORS, POSITIVE_FLOAT, add_overwrite, float_in, int_at_least, int_in

#: faceveil.attack.dp_targets.AUDITED_METHODS (checked by the tests)
AUDITED_METHODS = ("rdp", "rdp-na", "rdp-lmgd", "pixel", "dct", "dp-pix")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit", required=True, metavar="AUDIT")
    a = sub.add_parser(
        "dp", help="audit a DP mechanism: a lower bound on its real eps from many releases",
        description="Release two neighbouring face chips many times and bound the eps of the mechanism from below "
                    "with distinguishing tests on the released pixels and eigenface features (docs/dp.md).")
    a.add_argument("photos", nargs="+",
                   help="two photos of different people (RDP methods, Pixel-DP, DCT-DP) or one (dp-pix)")
    a.add_argument("--method", choices=AUDITED_METHODS, required=True)
    a.add_argument("--epsilon", type=POSITIVE_FLOAT, required=True, help="the eps the mechanism claims")
    a.add_argument("--releases", type=int_at_least(10), default=1000,
                   help="releases per input and per half (calibration, test): 4x this many in all (default 1000)")
    a.add_argument("--delta", type=float_in(0, 1, open_high=True), default=1e-5, help="delta of the bound (1e-5)")
    a.add_argument("--confidence", type=float_in(0, 1, open_low=True, open_high=True), default=0.95)
    a.add_argument("--basis", default=None, help="eigenface basis .npz (default: fitted on the embedded LFW sample)")
    a.add_argument("--sensitivity", choices=("range", "estimated"), default="range",
                   help="RDP methods: the Delta_i the mechanism is calibrated with")
    a.add_argument("--p", type=float_in(0, 1, open_low=True, open_high=True), default=0.02)
    a.add_argument("--levels", type=int_at_least(1), default=3)
    a.add_argument("--block", type=int_at_least(1), default=16, help="dp-pix: block side")
    a.add_argument("--neighbour-pixels", type=int_at_least(1), default=16, help="dp-pix: m")
    a.add_argument("--detector", choices=DETECTORS, default="hog")
    a.add_argument("--seed", type=int_in(0, 2**63 - 1), default=None,
                   help="reproducible audit (default: noise from os.urandom)")
    a.add_argument("--out", required=True, help="output folder: result.json")
    add_overwrite(a)
    a.set_defaults(func=run_dp)


def run_dp(args) -> int:
    from ..attack.dp_targets import audit_chips
    from ..data.chips import ChipSpec, load_face_chips
    from ..data.images import to_uint8
    from ..protect.dp.eigenfaces import Eigenfaces
    from ..protect.dp.photo_features import sample_eigenfaces
    from ..provenance import provenance
    from ..report.io import write_json
    from . import outputs

    needed = 1 if args.method == "dp-pix" else 2
    if len(args.photos) != needed:
        raise ValueError(f"--method {args.method} is audited on {needed} photo(s) "
                         f"({'one chip and its m-pixel neighbour' if needed == 1 else 'two different people'}), "
                         f"got {len(args.photos)}")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=("result.json",), inputs=args.photos)
    basis = Eigenfaces.load(args.basis) if args.basis else sample_eigenfaces()
    sensitivity = basis.range_sensitivity() if args.sensitivity == "range" else basis.sensitivity
    if sensitivity is None:
        raise ValueError("the basis has no estimated sensitivities: use --sensitivity range")
    channels, size, _ = basis.image_shape
    faces = load_face_chips([(p, str(i)) for i, p in enumerate(args.photos)],
                            ChipSpec(size=size, channels=channels, detector=args.detector), progress=False)
    chips = list(to_uint8(faces.images()))
    result = audit_chips(args.method, args.epsilon, (chips[0], chips[-1]), basis, sensitivity,
                         releases=args.releases, delta=args.delta, confidence=args.confidence, seed=args.seed,
                         p=args.p, levels=args.levels, block=args.block, m=args.neighbour_pixels)
    print(f"{'test':20s} {'FPR':>7s} {'FNR':>7s} {'FPR<=':>7s} {'FNR<=':>7s} {'eps >=':>7s}")
    for t in result.tests:
        print(f"{t.name:20s} {t.fpr:7.4f} {t.fnr:7.4f} {t.fpr_upper:7.4f} {t.fnr_upper:7.4f} {t.epsilon_lower:7.3f}")
    verdict = ("REFUTED: the mechanism leaks more than it claims" if result.violated
               else "no violation found (an audit can refute a claim, never prove it)")
    print(f"{args.method}: claimed eps {result.claimed_epsilon:g}; measured eps >= {result.epsilon_lower:.3f} at "
          f"delta {args.delta:g}, {100 * args.confidence:g} % confidence ({result.best_test}): {verdict}")
    write_json(out / "result.json", {**result.to_dict(), "provenance": provenance(
        seed=args.seed, data={"photos": args.photos, "basis": basis.description, "chip": list(basis.image_shape)},
        settings={k: v for k, v in vars(args).items() if k not in ("func",)})})
    return 0
