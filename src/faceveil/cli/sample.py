"""``faceveil sample``: copy photos of the embedded LFW sample into a folder, to try the other commands on."""

from __future__ import annotations

import argparse

from . import outputs
from .options import add_overwrite, int_at_least


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Copy the photos of the first N people of the embedded LFW sample (40 people, "
                          "3-4 photos each) into --out, one sub-folder per person: an identity folder that every "
                          "command accepts.")
    parser.add_argument("--out", required=True, help="folder to copy the photos into")
    parser.add_argument("--people", type=int_at_least(1), default=3, help="how many people (1-40, default 3)")
    add_overwrite(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    import shutil

    from ..data.folders import read_identity_folders
    from ..data.sample import sample_root

    items = read_identity_folders(sample_root() / "lfw")
    people = list(dict.fromkeys(name for _, name in items))
    if args.people > len(people):
        raise ValueError(f"--people {args.people}: the embedded sample has {len(people)} people")
    chosen = set(people[: args.people])
    photos = [(path, name) for path, name in items if name in chosen]
    names = tuple(f"{name}/{path.name}" for path, name in photos)
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=names)
    for path, name in photos:
        (out / name).mkdir(exist_ok=True)
        shutil.copyfile(path, out / name / path.name)
    print(f"copied {len(photos)} photos of {len(chosen)} people ({', '.join(sorted(chosen))}) to {out}")
    return 0
