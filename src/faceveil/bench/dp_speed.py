"""Speed and memory of the DP mechanisms, side by side in one run: this tree, an optional reference tree
(an older faceveil, e.g. a git worktree of the last release), and diffprivlib's Laplace mechanism.

* **Library**: ``protect_dp`` on --batch 112x112 grey chips of the embedded sample (eigenface basis of the
  sample, its estimated sensitivities: an API both trees share), one thread, best of --repeats, per method;
  diffprivlib's ``Laplace.randomise`` on as many values as an image has coefficients (12,544), one call
  per value (its API), as the reference of "the arithmetic"; ratios against both.
* **Command line**: ``faceveil protect dp --method rdp-na --epsilon 1 --judge none`` on --photos LFW photos
  (DevTest people, first photo each; the embedded sample without --root), wall time of the whole process
  (start-up included) and images/s end to end, and after start-up (from a one-photo run: (N - 1) / (wall_N
  - wall_1)); with ``--judge dlib`` as well (the default, which embeds every photo twice).
* **A 12-megapixel photo** (an LFW photo resized to 4000x3000 bicubically, the face filling it):
  ``faceveil protect dp --method rdp-na --judge none`` wall time and peak resident memory, this tree only
  (the reference tree's estimated 16 GB would not fit this machine).

Each measurement runs in a fresh Python process (``PYTHONPATH`` selects the tree), so that neither tree
warms the other's caches of code.

    git worktree add /tmp/faceveil-ref <commit>
    faceveil bench dp-speed --root ../shared/data/lfw --reference-src /tmp/faceveil-ref/src --out results/dp-speed
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..provenance import provenance
from ..report.io import write_json

METHODS = ("rdp", "rdp-na", "rdp-lmgd", "pixel", "dct")

_LIBRARY = """
import json, sys, time, torch
torch.set_num_threads(1)
import faceveil
from faceveil.data.chips import ChipSpec, load_face_chips
from faceveil.data.folders import read_identity_folders
from faceveil.data.sample import sample_root
from faceveil.protect.dp.methods import DPConfig, protect_dp
from faceveil.protect.dp.photo_features import sample_eigenfaces
batch, repeats, methods = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].split(",")
basis = sample_eigenfaces()
items = (read_identity_folders(sample_root() / "lfw") * 2)[:batch]
x = load_face_chips(items, ChipSpec(size=112, channels=1), progress=False).images()
out = {"faceveil": faceveil.__file__}
for method in methods:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        protect_dp(x, basis, basis.sensitivity, DPConfig(method, 1.0), seed=0)
        best = min(best, time.perf_counter() - t0)
    out[method] = batch / best
print(json.dumps(out))
"""

_CLI = """
import json, resource, sys, time
t0 = time.perf_counter()
from faceveil.cli import main
status = main(sys.argv[1:])
print(json.dumps({"status": status, "seconds_in_process": time.perf_counter() - t0,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _python(code: str, args: list[str], src: str | None) -> dict:
    """Run ``code`` in a fresh interpreter (``src`` first on PYTHONPATH: the tree measured); its last
    stdout line is JSON. Returns it with the wall time."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}",
                "wall_seconds": wall}
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_seconds": wall}


def library(args, src: str | None) -> dict:
    return _python(_LIBRARY, [str(args.batch), str(args.repeats), ",".join(METHODS)], src)


def photos(args) -> list[Path]:
    if args.root is None:
        from ..data.folders import read_identity_folders
        from ..data.sample import sample_root

        return [p for p, _ in read_identity_folders(sample_root() / "lfw")][: args.photos]
    from ..protect.dp.photo_features import lfw_people_photos

    return [p for p, _ in lfw_people_photos(args.root, "dev-test")][: args.photos]


def cli_run(inputs: list[Path], judge: str, src: str | None, work: Path, tag: str) -> dict:
    """The command line on ``inputs`` (linked into one folder), timed as a whole process."""
    folder = work / f"in-{tag}"
    folder.mkdir(exist_ok=True)
    for i, path in enumerate(inputs):
        link = folder / f"{i:04d}{path.suffix}"
        if not link.exists():
            link.symlink_to(path.resolve())
    argv = ["protect", "dp", "--method", "rdp-na", "--epsilon", "1", "--judge", judge, "--quiet", str(folder),
            "--out", str(work / f"out-{tag}-{judge}")]
    result = _python(_CLI, argv, src)
    if "error" not in result:
        result["images_per_second"] = len(inputs) / result["wall_seconds"]
    return result


def diffprivlib_images_per_second(n_values: int, seed: int) -> float:
    from .dp import diffprivlib_seconds

    return 1.0 / diffprivlib_seconds(n_values, seed)


def run(args: argparse.Namespace) -> int:
    from ..cli import outputs

    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=("result.json",))
    t_start = time.perf_counter()
    trees = {"this": None} | ({"reference": args.reference_src} if args.reference_src else {})
    record = {"library": {}, "cli": {}, "settings": {k: v for k, v in vars(args).items()
                                                       if k not in ("func", "bench_module")}}
    reference = diffprivlib_images_per_second(112 * 112, 0)
    record["diffprivlib_images_per_second"] = reference
    for name, src in trees.items():
        record["library"][name] = measured = library(args, src)
        print(f"library ({name}, {measured.get('faceveil', '?')}): " + ", ".join(
            f"{m} {measured[m]:.0f} img/s" for m in METHODS if m in measured) + measured.get("error", ""), flush=True)
    this = record["library"]["this"]
    record["library_ratios"] = {m: {"to_diffprivlib": this[m] / reference,
                                    "to_reference": this[m] / record["library"]["reference"][m]
                                    if "reference" in record["library"] and m in record["library"]["reference"]
                                    else None} for m in METHODS if m in this}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        inputs = photos(args)
        for name, src in trees.items():
            for judge in ("none", "dlib"):
                one = cli_run(inputs[:1], judge, src, work, f"{name}-one")
                record["cli"][f"{name}-{judge}"] = r = cli_run(inputs, judge, src, work, name)
                if "error" not in r and "error" not in one and len(inputs) > 1:
                    # start-up (imports, basis, detector) is what one photo costs beyond the others
                    r["start_up_seconds"] = one["wall_seconds"]
                    r["steady_images_per_second"] = (len(inputs) - 1) / (r["wall_seconds"] - one["wall_seconds"])
                print(f"cli ({name}, --judge {judge}, {len(inputs)} photos): "
                      + (f"{r['wall_seconds']:.1f} s, {r['images_per_second']:.2f} img/s end to end, "
                         f"{r.get('steady_images_per_second', float('nan')):.2f} img/s after start-up, "
                         f"peak {r['max_rss_mb']:.0f} MB" if "error" not in r else r["error"]), flush=True)
        from PIL import Image

        big = work / "big" / "photo.png"
        big.parent.mkdir()
        with Image.open(inputs[0]) as photo:
            photo.convert("RGB").resize((4000, 3000), Image.BICUBIC).save(big)
        argv = ["protect", "dp", "--method", "rdp-na", "--epsilon", "1", "--judge", "none", "--quiet", str(big),
                "--out", str(work / "out-big")]
        record["photo_12mp"] = r = _python(_CLI, argv, None)
        print(f"12 MP photo: {r.get('wall_seconds', 0):.1f} s, peak {r.get('max_rss_mb', 0):.0f} MB {r.get('error', '')}")
    record["ratios_printed"] = {m: v for m, v in record["library_ratios"].items()}
    for m, v in record["library_ratios"].items():
        print(f"  {m:8s}: {v['to_diffprivlib']:.1f} x diffprivlib"
              + (f", {v['to_reference']:.1f} x the reference tree" if v["to_reference"] else ""))
    record["seconds"] = time.perf_counter() - t_start
    record["provenance"] = provenance(data={"root": args.root, "photos": args.photos}, seed=0)
    write_json(out / "result.json", record)
    print(f"wrote {out / 'result.json'} ({record['seconds']:.0f} s)")
    return 0
