"""``faceveil restore superres``: face chips restored from low-resolution faces by a trained EDSR.

    faceveil restore superres INPUT... --out DIR [--model PATH] [--size N] [--device DEV]

An input is a low-resolution face in the geometry of dlib's chip (padding 0.25), e.g. a file of
``faceveil degrade downscale``; any size works (EDSR x4 is convolutional): the output is the network's 4x
image brought to the chip size by bicubic interpolation (seed 003's test-time up-sampling). One
``result.json`` in ``--out`` lists every image.
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
