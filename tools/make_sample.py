"""Build the small LFW sample embedded in the package (src/faceveil/data/sample/lfw).

Picks 40 identities of LFW View 2 with at least 4 images (seeded), copies 4 images of each, and writes
a pairs file in the View 2 format: 10 folds of 4 identities each (identity-disjoint folds, like LFW),
6 matched and 6 mismatched pairs per fold (120 pairs). Run from the repository root:

    python tools/make_sample.py --lfw ../shared/data/lfw
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
from pathlib import Path

from faceveil.data.lfw import LFW, image_path

N_FOLDS, PER_FOLD_IDS, IMAGES_PER_ID, PAIRS_PER_FOLD = 10, 4, 4, 6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw", default="../shared/data/lfw")
    ap.add_argument("--out", default="src/faceveil/data/sample/lfw")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    lfw = LFW(args.lfw)
    rng = random.Random(args.seed)
    candidates = sorted(name for fold in lfw.people("view2") for name, n in fold if n >= IMAGES_PER_ID)
    chosen = rng.sample(candidates, N_FOLDS * PER_FOLD_IDS)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    lines = [f"{N_FOLDS}\t{PAIRS_PER_FOLD}"]
    for f in range(N_FOLDS):
        ids = chosen[f * PER_FOLD_IDS : (f + 1) * PER_FOLD_IDS]
        for name in ids:
            (out / "lfw" / name).mkdir(parents=True)
            for i in range(1, IMAGES_PER_ID + 1):
                shutil.copy(image_path(lfw.image_dir, name, i), image_path(out / "lfw", name, i))
        matched = [(n, i, j) for n in ids for i, j in itertools.combinations(range(1, IMAGES_PER_ID + 1), 2)]
        mismatched = [(a, rng.randint(1, IMAGES_PER_ID), b, rng.randint(1, IMAGES_PER_ID))
                      for a, b in itertools.combinations(ids, 2)]
        lines += [f"{n}\t{i}\t{j}" for n, i, j in rng.sample(matched, PAIRS_PER_FOLD)]
        lines += [f"{a}\t{i}\t{b}\t{j}" for a, i, b, j in rng.sample(mismatched, PAIRS_PER_FOLD)]
    (out / "pairs.txt").write_text("\n".join(lines) + "\n")
    (out / "README.md").write_text(
        "A sample of Labeled Faces in the Wild (University of Massachusetts, Amherst; http://vis-www.cs.umass.edu/lfw/)\n"
        f"for quick starts and tests: {len(chosen)} identities x {IMAGES_PER_ID} images, copied from the 150x150 copy of\n"
        "LFW used by this project, with a pairs file in View 2 format (10 identity-disjoint folds, 6 matched + 6\n"
        f"mismatched pairs each). Built by `python tools/make_sample.py --seed {args.seed}`.\n"
    )
    print(f"wrote {len(chosen) * IMAGES_PER_ID} images and {2 * N_FOLDS * PAIRS_PER_FOLD} pairs to {out}")


if __name__ == "__main__":
    main()
