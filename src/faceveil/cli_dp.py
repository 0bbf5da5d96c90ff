"""``faceveil protect dp``: differential-privacy protection of face photos (docs/dp.md).

    faceveil protect dp --method {rdp,rdp-na,rdp-lmgd,pixel,dct} --epsilon E [--p P]
                        [--seed S | --secure] [--snap] [--basis FILE] [--features M] [--levels L]
                        INPUT... --out DIR [--overwrite]

Contract with ``cli.py``: the ``protect`` command is shared by several protections, so ``cli.py``
creates it and hands its sub-command registry to each protection module::

    protect = sub.add_parser("protect", help="protect face images")
    protect_sub = protect.add_subparsers(dest="protection", required=True)
    cli_dp.register(protect_sub)        # adds "protect dp"; cli_optical.register(protect_sub) likewise

``register`` adds one sub-command whose ``func(args)`` returns an exit status and raises
``ValueError``/``FileNotFoundError`` for user errors (``cli.main`` prints them as one line, status 2).
Nothing is written before every input, option and output path has been checked.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

from . import __version__
from ._checks import check_outside
from .data.folders import output_names
from .data.images import load_rgb, to_tensor, to_uint8
from .protect.dp.methods import METHODS, DPConfig, protect_dp
from .protect.dp.features import RANKINGS
from .protect.dp.eigenfaces import Eigenfaces
from .protect.dp.photo_features import CHIP_PADDING, PhotoFeatures, chip_aligner, sample_eigenfaces


def register(protect_subparsers) -> argparse.ArgumentParser:
    """Add ``dp`` to the sub-commands of ``faceveil protect`` (an ``add_subparsers()`` object)."""
    p = protect_subparsers.add_parser(
        "dp", help="differential privacy: RDP (seed 004), Pixel-DP, DCT-DP",
        description="Add Laplace noise calibrated to a privacy budget on eigenface features of the face; "
                    "writes one PNG and one JSON accounting sidecar per input image.")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--method", choices=tuple(METHODS), required=True)
    p.add_argument("--epsilon", type=float, required=True, help="total privacy budget eps_0 (> 0)")
    p.add_argument("--p", type=float, default=0.02, help="geometric parameter of K, in (0, 1) (default 0.02)")
    noise = p.add_mutually_exclusive_group()
    noise.add_argument("--seed", type=int, default=None,
                       help="reproducible noise; keep the seed secret: it lets anyone remove the noise")
    noise.add_argument("--secure", action="store_true", help="noise from os.urandom (the default without --seed)")
    p.add_argument("--snap", action="store_true", help="Mironov's snapping mechanism against floating-point attacks")
    p.add_argument("--basis", default=None,
                   help="eigenface basis .npz (Eigenfaces.save, fitted with identities on grey or RGB dlib "
                        f"chips with padding {CHIP_PADDING}); default: fitted on the embedded LFW sample")
    p.add_argument("--features", type=int, default=None, help="M_F, the eigenface features protected (default: all)")
    p.add_argument("--levels", type=int, default=3, help="Haar levels of the RDP methods")
    p.add_argument("--rank-by", choices=RANKINGS, default="magnitude", help="ranking of the coefficients")
    p.add_argument("--detector", choices=("hog", "cnn", "hog+cnn"), default="hog", help="face detector")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_protect_dp)
    return p


def redacted_command(argv: list[str]) -> str:
    """The command line with the value of ``--seed`` replaced by ``<secret>`` (the seed would let anyone
    remove the noise)."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("<secret>")
        elif arg.startswith("--seed="):
            out.append("--seed=<secret>")
        else:
            out.append(shlex.quote(arg))
        hide = arg == "--seed"
    return "faceveil " + " ".join(out)


def cmd_protect_dp(args) -> int:
    config = DPConfig(method=args.method, epsilon0=args.epsilon, p=args.p, levels=args.levels,
                      rank_by=args.rank_by, snap=args.snap)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder")
    check_outside(out, args.inputs)
    targets = output_names(args.inputs, out)
    existing = [t for target in targets.values() for t in (target, target.with_suffix(".json")) if t.exists()]
    if existing and not args.overwrite:
        raise ValueError(f"{existing[0]} exists ({len(existing)} output file(s) in all); pass --overwrite to replace")
    photos = {path: load_rgb(path) for path in targets}
    basis = Eigenfaces.load(args.basis) if args.basis else sample_eigenfaces()
    if basis.sensitivity is None:
        raise ValueError(f"the basis {args.basis} has no sensitivities: fit it with identity labels "
                         "(Eigenfaces.fit(crops, identities))")
    n_features = basis.check_n_features(args.features)
    aligner = chip_aligner(basis.image_shape[1], args.detector)
    generator = None if args.seed is None else torch.Generator().manual_seed(args.seed)
    basis_info = {"file": str(Path(args.basis).resolve()) if args.basis else "embedded LFW sample (cached)",
                  "description": basis.description, "n_components": basis.n_components, "n_features": n_features,
                  "alignment": f"dlib chip {basis.image_shape[1]}x{basis.image_shape[2]}, padding {CHIP_PADDING}, "
                               f"5 landmarks, {'grey' if basis.image_shape[0] == 1 else 'RGB'}"}
    command = redacted_command(getattr(args, "argv", []))
    for path, target in tqdm(targets.items(), desc=f"protect dp ({args.method})", unit="img", disable=args.quiet):
        face = aligner.align(photos[path])
        features = PhotoFeatures(basis, face.landmarks, n_features)
        result = protect_dp(to_tensor([photos[path]]), features, basis.sensitivity, config,
                            generator=generator, secure=generator is None)
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(result.images)[0]).save(target)
        sidecar = {"input": str(path), "output": str(target), "account": result.accounts[0].to_dict(),
                   "features": {**basis_info, "face_detected": bool(face.detected)},
                   "command": command, "version": __version__}
        target.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
    source = "a seeded torch.Generator" if generator is not None else "os.urandom"
    print(f"wrote {len(targets)} protected image(s) and JSON accounts to {out} ({args.method}, "
          f"eps_0 = {args.epsilon:g}, p = {args.p:g}, M_F = {n_features}, noise from {source})")
    return 0
