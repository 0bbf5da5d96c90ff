"""``faceveil restore``: face chips restored from degraded faces.

    faceveil restore superres INPUT... --out DIR [--model PATH] [--size N] [--device DEV]
    faceveil restore inpaint INPUT... --out DIR [--mask MASK...] [--method network|telea|ns] [--model PATH]
                             [--composite] [--device DEV]
    faceveil restore speckle INPUT... --out DIR (--model PATH | --grit G) [--threshold T] [--device DEV]

``superres``: an input is a low-resolution face in the geometry of dlib's chip (padding 0.25), e.g. a file
of ``faceveil degrade downscale``; any size works (EDSR x4 is convolutional): the output is the network's
4x image brought to the chip size by bicubic interpolation (seed 003's test-time up-sampling).

``inpaint``: an input is a damaged chip, e.g. a file of ``faceveil degrade occlude|mask``; its mask (white:
damaged) is ``--mask`` (one per input, in order) or else ``NAME_mask.png`` beside ``NAME.png`` when it
exists (files named ``*_mask.png`` are never inputs). The network (default: the shipped V-Net) needs no
mask; OpenCV's ``telea`` and ``ns`` and ``--composite`` (the reconstruction pasted back only inside the
mask) do. One ``result.json`` in ``--out`` lists every image.

``speckle``: an input is a speckle pattern, e.g. a file of ``faceveil simulate speckle`` (its
``*_target.png`` labels are never inputs), resized to the size the network trained at, by a network of
``faceveil train speckle`` or the shipped one of ``--grit``; the output is the
binary face (``--threshold`` on the network's probability, or the probability itself with ``--threshold
0``).
"""

from __future__ import annotations

import argparse

from . import outputs
from .options import add_device, add_on_error, add_overwrite, add_quiet, int_at_least


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="restoration", required=True, metavar="RESTORATION")
    p = sub.add_parser("superres", help="super-resolution of low-resolution faces (EDSR with an identity loss)",
                       description="Restore low-resolution faces (dlib chip geometry, any size) to face chips with "
                                   "a trained EDSR x4 (default: the shipped EDSR_16,64 with the identity loss).")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    p.add_argument("--model", default=None,
                   help="model.pt of 'faceveil train superres' (default: the shipped EDSR_16,64,0.5)")
    p.add_argument("--size", type=int_at_least(1), default=None,
                   help="side of the restored chips (default: the chip size the model was trained for)")
    add_device(p)
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)
    p.set_defaults(func=run_superres)

    p = sub.add_parser("inpaint", help="reconstruction of occluded faces (a GAN's V-Net, or OpenCV inpainting)",
                       description="Reconstruct damaged face chips with a trained generator (default: the shipped "
                                   "V-Net, which needs no mask) or OpenCV's Telea / Navier-Stokes inpainting.")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively; *_mask.png are masks)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    p.add_argument("--mask", nargs="+", default=None,
                   help="mask images (white: damaged), one per input in order (default: NAME_mask.png beside NAME.png)")
    p.add_argument("--method", choices=("network", "telea", "ns"), default="network",
                   help="network: a model of 'faceveil train inpaint'; telea, ns: OpenCV (default network)")
    p.add_argument("--model", default=None,
                   help="model.pt of 'faceveil train inpaint' (default: the shipped V-Net)")
    p.add_argument("--composite", action="store_true",
                   help="keep the input outside the mask: only the damaged pixels come from the reconstruction")
    add_device(p)
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)
    p.set_defaults(func=run_inpaint)

    p = sub.add_parser("speckle", help="binary faces reconstructed from speckle (Wang et al.'s SpT UNet)",
                       description="Reconstruct binary faces from speckle patterns with a network of 'faceveil "
                                   "train speckle' (trained for one grit: use it on that grit's speckle).")
    p.add_argument("inputs", nargs="+", help="speckle images or folders (searched recursively; *_target.png skipped)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", help="model.pt of 'faceveil train speckle'")
    which.add_argument("--grit", choices=("120", "220", "600", "1500"),
                       help="use the shipped CPU-trained SpT UNet of this grit (cpu simulator setting)")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="write pixels above this probability white (default 0.5; 0: write the probabilities)")
    add_device(p)
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)
    p.set_defaults(func=run_speckle)


def run_superres(args) -> int:
    from tqdm.auto import tqdm

    from ..data.folders import output_names
    from ..data.images import save_png, to_tensor
    from ..provenance import provenance
    from ..report.io import write_json
    from ..restore.superres import shipped_model
    from ..restore.superres.restorer import SuperResolver
    from .embed import report_skipped
    from .options import UserError
    from .protect import _path, read_photos

    from .._checks import check_device

    device = str(check_device(args.device or "cpu"))
    model = _path(args.model) if args.model else shipped_model()
    if model is None:
        raise UserError("no --model given and this installation ships no super-resolution model: train one with "
                        "'faceveil train superres --config smoke --out DIR' and pass --model DIR/model.pt")
    restorer = SuperResolver.from_file(model, device=device,
                                       output_size=None if args.size is None else (args.size, args.size))
    targets = output_names(args.inputs, _path(args.out))
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, inputs=args.inputs,
                                 outputs=tuple(str(t.relative_to(_path(args.out))) for t in targets.values())
                                 + ("result.json",))
    photos, skipped = read_photos(list(targets), args.on_error)
    largest = max(restorer.output_size) // 4
    rows = []
    for path in tqdm(list(photos), desc="restore superres", unit="img", disable=args.quiet):
        image = to_tensor([photos[path]])
        h, w = image.shape[-2:]
        if max(h, w) > largest:
            print(f"warning: {path} is {h}x{w}: larger than the model's {largest}x{largest} inputs (EDSR x4 to "
                  f"{restorer.output_size[0]}); restored anyway")
        target = save_png(restorer(image)[0], targets[path])
        rows.append({"input": str(path), "output": str(target.relative_to(out)), "input_size": [h, w]})
    write_json(out / "result.json", {"images": len(rows), "model": str(model.resolve()),
                                     "restorer": restorer.record(), "per_image": rows,
                                     "skipped": {str(k): v for k, v in skipped.items()},
                                     "provenance": provenance(model=str(model.resolve()))})
    report_skipped(skipped)
    print(f"wrote {len(rows)} restored face(s) ({restorer.output_size[0]}x{restorer.output_size[1]}) to {out}, and "
          f"{out / 'result.json'}")
    return 0


MASK_SUFFIX = "_mask"


def _pair_masks(inputs: list, masks: list | None) -> dict:
    """input image -> its mask file (or None): ``masks`` in order, or ``NAME_mask.png`` beside it."""
    from .options import UserError

    if masks is not None:
        if len(masks) != len(inputs):
            raise UserError(f"--mask gives {len(masks)} mask(s) for {len(inputs)} input image(s): give one per input")
        return dict(zip(inputs, masks))
    paired = {}
    for path in inputs:
        beside = path.with_name(path.stem + MASK_SUFFIX + ".png")
        paired[path] = beside if beside.is_file() else None
    return paired


def _read_mask(path, shape):
    """A mask image as (1, 1, H, W) float in {0, 1} (grey > 127: damaged), checked against the image size."""
    import numpy as np
    import torch

    from ..data.images import load_rgb
    from .options import UserError

    grey = load_rgb(path).mean(-1)
    if grey.shape != tuple(shape):
        raise UserError(f"mask {path} is {grey.shape[0]}x{grey.shape[1]}, its image {shape[0]}x{shape[1]}")
    return torch.from_numpy((grey > 127).astype(np.float32))[None, None]


def run_inpaint(args) -> int:
    import torch
    from tqdm.auto import tqdm

    from .._checks import check_device
    from ..data.folders import output_names
    from ..data.images import save_png, to_tensor
    from ..provenance import provenance
    from ..report.io import write_json
    from ..restore.inpaint import shipped_model
    from ..restore.inpaint.restorer import NetworkInpainter, OpenCVInpainter
    from .embed import report_skipped
    from .options import UserError
    from .protect import _path, read_photos

    device = str(check_device(args.device or "cpu"))
    if args.method == "network":
        model = _path(args.model) if args.model else shipped_model()
        if model is None:
            raise UserError("no --model given and this installation ships no inpainting model: train one with "
                            "'faceveil train inpaint --config smoke --out DIR' and pass --model DIR/model.pt")
        inpainter = NetworkInpainter.from_file(model, device=device)
    else:
        if args.model:
            raise UserError(f"--model is for --method network, not {args.method}")
        model, inpainter = None, OpenCVInpainter(args.method)
    targets = {path: target for path, target in output_names(args.inputs, _path(args.out)).items()
               if not path.stem.endswith(MASK_SUFFIX)}
    if not targets:
        raise UserError("no input image (files named *_mask.png are masks, not inputs)")
    masks = _pair_masks(list(targets), None if args.mask is None else [_path(m) for m in args.mask])
    needs = inpainter.needs_masks or args.composite
    missing = [str(p) for p, m in masks.items() if m is None]
    if needs and missing:
        why = "--composite" if args.composite else f"--method {args.method}"
        raise UserError(f"{why} needs a mask for every image; none for {missing[0]}"
                        + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                        + " (pass --mask, or put NAME_mask.png beside NAME.png)")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, inputs=args.inputs,
                                 outputs=tuple(str(t.relative_to(_path(args.out))) for t in targets.values())
                                 + ("result.json",))
    photos, skipped = read_photos(list(targets), args.on_error)
    rows = []
    for path in tqdm(list(photos), desc=f"restore inpaint ({inpainter.name})", unit="img", disable=args.quiet):
        image = to_tensor([photos[path]])
        mask = None if masks[path] is None else _read_mask(masks[path], image.shape[-2:])
        restored = inpainter.restore(image, mask)
        if args.composite:
            restored = torch.where(mask > 0.5, restored, image)
        target = save_png(restored[0], targets[path])
        rows.append({"input": str(path), "mask": None if masks[path] is None else str(masks[path]),
                     "output": str(target.relative_to(out))})
    record = {"name": inpainter.name, **inpainter.settings()}
    write_json(out / "result.json", {"images": len(rows), "method": args.method, "composite": args.composite,
                                     "model": None if model is None else str(model.resolve()), "inpainter": record,
                                     "per_image": rows, "skipped": {str(k): v for k, v in skipped.items()},
                                     "provenance": provenance(model=None if model is None else str(model.resolve()))})
    report_skipped(skipped)
    print(f"wrote {len(rows)} reconstructed face(s) ({inpainter.name}{', composite' if args.composite else ''}) to "
          f"{out}, and {out / 'result.json'}")
    return 0


TARGET_SUFFIX = "_target"


def run_speckle(args) -> int:
    from tqdm.auto import tqdm

    from .._checks import check_device
    from ..data.folders import output_names
    from ..data.images import save_png, to_tensor
    from ..provenance import provenance
    from ..report.io import write_json
    from ..restore.speckle import shipped_model
    from ..restore.speckle.restorer import SpeckleReconstructor
    from .embed import report_skipped
    from .options import UserError
    from .protect import _path, read_photos

    if not 0 <= args.threshold < 1:
        raise UserError(f"--threshold must lie in [0, 1), got {args.threshold}")
    model = _path(args.model) if args.model else shipped_model(args.grit)
    if model is None:
        raise UserError(f"this installation ships no speckle model for grit {args.grit}: train one with 'faceveil "
                        f"train speckle --config cpu-spt --grit {args.grit} --out DIR' and pass --model DIR/model.pt")
    try:
        reconstructor = SpeckleReconstructor.from_file(model, device=str(check_device(args.device or "cpu")))
    except (FileNotFoundError, ValueError) as err:
        raise UserError(f"--model: {err}") from None
    targets = {p: t for p, t in output_names(args.inputs, _path(args.out)).items()
               if not p.stem.endswith(TARGET_SUFFIX)}
    if not targets:
        raise UserError("no speckle image among the inputs (only *_target.png labels)")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, inputs=args.inputs,
                                 outputs=tuple(str(t.relative_to(_path(args.out))) for t in targets.values())
                                 + ("result.json",))
    photos, skipped = read_photos(list(targets), args.on_error)
    rows = []
    for path in tqdm(list(photos), desc="restore speckle", unit="img", disable=args.quiet):
        speckle = to_tensor([photos[path]]).mean(1, keepdim=True)
        probability = reconstructor(speckle)[0]
        face = probability if args.threshold == 0 else (probability > args.threshold).float()
        rows.append({"input": str(path), "output": str(save_png(face, targets[path]).relative_to(out))})
    write_json(out / "result.json", {"images": len(rows), "model": str(model.resolve()),
                                     "grit": reconstructor.grit, "threshold": args.threshold, "per_image": rows,
                                     "skipped": {str(k): v for k, v in skipped.items()},
                                     "provenance": provenance(model=str(model.resolve()))})
    report_skipped(skipped)
    print(f"wrote {len(rows)} reconstructed face(s) ({reconstructor.size}x{reconstructor.size}) to {out}, and "
          f"{out / 'result.json'}")
    return 0
