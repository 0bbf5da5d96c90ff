"""``faceveil train NAME``: train any trainable system from a configuration, resumably.

    faceveil train NAME --config FILE|smoke|cpu|paper --out DIR [--root PATH] [--protocol P] [--split K]
                        [--max-steps N] [--resume | --overwrite] [--device DEV] [--quiet]

Every system ships a ``smoke`` configuration (the embedded sample, seconds on a CPU) and the paper's
full-scale one (``paper``, for a GPU). The people trained on come from a person-disjoint protocol
(``--protocol``, docs/protocols.md) and are recorded in the checkpoints. Under ``torchrun
--nproc_per_node N -m faceveil train ...`` every process trains on its share of the data.
"""

from __future__ import annotations

import argparse

from . import outputs
from .options import UserError, add_device, add_quiet, int_at_least

#: trainable system -> (module with load_train_config and train, one-line help)
TRAINABLE = {
    "optical": ("faceveil.protect.optical.train",
                "an optical encoder (MEM-FR or LOEN) end to end with its recognition network"),
    "deconv": ("faceveil.attack.train",
               "the U-Net blind-deconvolution attack on an optical camera, from the faces of training people"),
    "superres": ("faceveil.restore.superres.train",
                 "EDSR x4 face hallucination with an identity loss through a frozen recogniser"),
    "inpaint": ("faceveil.restore.inpaint.train",
                "a GAN (V-Net, U-Net or autoencoder generator) that reconstructs occluded faces"),
    "speckle": ("faceveil.restore.speckle.train",
                "SpT UNet (or SpT UNet-B, or the U-Net baseline) that reconstructs binary faces from speckle"),
}
#: faceveil.data.protocols.PROTOCOLS (checked by the tests)
PROTOCOLS = ("view2-10fold", "view2-2fold", "view1")


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="trainable", required=True, metavar="NAME")
    for name, (module, summary) in TRAINABLE.items():
        p = sub.add_parser(name, help=summary, description=f"Train {summary}, from a configuration; an "
                                                           "interrupted run resumes with --resume.")
        p.add_argument("--config", required=True,
                       help="a JSON configuration, or a shipped one by name: smoke (seconds, the embedded sample) "
                            "or paper (the paper's scale, for a GPU)")
        p.add_argument("--out", required=True, help="output folder: checkpoint.pt, model.pt, history.json ...")
        p.add_argument("--root", default=None,
                       help="LFW root or identity-folder root of the training photos (default: the configuration's)")
        p.add_argument("--protocol", choices=PROTOCOLS, default=None,
                       help="person-disjoint protocol whose training people are used (default: the configuration's)")
        p.add_argument("--split", type=int_at_least(0), default=None,
                       help="split of the protocol, from 0 (view2-2fold: 0 trains on folds 1-5, 1 on folds 6-10); for "
                            "an identity-folder --root, the seed of its split by people (--protocol does not apply)")
        p.add_argument("--max-steps", type=int_at_least(1), default=None,
                       help="stop after N optimisation steps (a quick smoke run; --resume continues it)")
        mode = p.add_mutually_exclusive_group()
        mode.add_argument("--resume", action="store_true", help="continue the run held by --out")
        mode.add_argument("--overwrite", action="store_true", help="discard the run held by --out and start afresh")
        if name == "speckle":
            from .simulate import GRIT_NAMES

            p.add_argument("--grit", choices=GRIT_NAMES, default=None,
                           help="the diffuser whose speckle the network inverts (default: the configuration's); "
                                "the dataset is simulated and cached on first use")
        add_device(p)
        add_quiet(p)
        p.set_defaults(func=run, trainable_module=module)


def _data_overrides(args) -> dict:
    if args.root is None:
        return {"protocol": args.protocol, "split": args.split}
    from pathlib import Path

    root = Path(args.root).expanduser()
    if not root.is_dir():
        raise UserError(f"--root {root} is not a folder")
    is_lfw = any((folder / "pairs.txt").is_file() for folder in (root, root.parent))
    return {"source": "lfw" if is_lfw else "folders", "root": str(root), "protocol": args.protocol,
            "split": args.split}


def run(args) -> int:
    import importlib

    system = importlib.import_module(args.trainable_module)
    extra = {"grit": args.grit} if getattr(args, "grit", None) else {}
    config = system.load_train_config(args.config, data=_data_overrides(args), out_dir=args.out, device=args.device,
                                      **extra)
    out = outputs.prepare_folder(args.out, overwrite=True)
    held = (out / "checkpoint.pt").is_file() or (out / "model.pt").is_file()
    if held and not (args.resume or args.overwrite):
        raise UserError(f"--out {out} holds a training run; pass --resume to continue it or --overwrite to restart")
    if args.resume and not (out / "checkpoint.pt").is_file():
        raise UserError(f"--resume: {out} holds no checkpoint.pt to resume from")
    result = system.train(config, progress=not args.quiet, overwrite=args.overwrite, max_steps=args.max_steps)
    last = result.history[-1] if result.history else None
    if last is not None:
        losses = ", ".join(f"{k} {v:.4f}" for k, v in last["loss"].items())
        print(f"epoch {last['epoch']}: {losses}")
    state = "finished" if result.finished else f"stopped after --max-steps {args.max_steps} (--resume continues)"
    print(f"training {state}; wrote {result.model_file} (deployable) and {result.checkpoint} (resume) in {out}")
    return 0
