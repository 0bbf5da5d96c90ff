"""What the DP mechanisms guarantee, measured: the auditor's lower bounds beside the claims, and the
privacy/utility frontier of a proven mechanism (DP-Pix) against seed 004's RDP.

1. **Claimed vs measured** (:func:`faceveil.attack.dp_targets.audit_chips`): for every method and eps in
   --epsilons, the auditor's lower bound on eps (delta --delta, 95 % confidence, --releases per input and
   half) on --pairs neighbouring inputs: two DevTest people's 112x112 grey chips for seed 004's methods
   (Definition 1), one chip and its m-pixel neighbour for DP-Pix. The table reports the largest bound over
   the pairs, the test that found it, and whether the claim is refuted.
2. **Frontier** on LFW photos (250x250 RGB, as released): DevTest people with at least two photos (--people
   of them, drawn with --seed); the gallery is each person's first photo (clean), the probe their second
   photo, protected. The native dlib judge (its own detection on the released photo) scores every probe
   against every gallery photo: rank-1 identification, and the rate at which the probe is matched to its own
   gallery photo at the judge's threshold (TAR). Beside them PSNR and SSIM of the released probe against its
   original and the fraction of pixels left exactly as they were. A "clean" row is the unprotected probe.

Seed 004's methods use F = 64 eigenfaces of 112x112 grey chips fitted on View 1 DevTrain people (disjoint
from DevTest) and the proven range sensitivity (``--sensitivity range``, the CLI's default).

Full run (docs/benchmarks.md):
    faceveil bench dp-privacy --root ../shared/data/lfw --out results/dp-privacy
Smoke test on the embedded sample (basis and people the same: not a measurement):
    faceveil bench dp-privacy --pairs 1 --releases 100 --people 8 --frontier-epsilons 1 --out /tmp/dpp
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch

from ..attack.dp_targets import audit_chips
from ..data.chips import ChipSpec, load_face_chips
from ..data.folders import read_identity_folders
from ..data.images import load_rgb, to_tensor, to_uint8
from ..data.lfw import LFW
from ..data.sample import sample_root
from ..eval.quality import psnr, ssim
from ..faces.align import FaceAligner
from ..protect.dp.methods import DPConfig
from ..protect.dp.noise import NoiseSource
from ..protect.dp.photo_features import lfw_eigenfaces, sample_eigenfaces
from ..protect.dp.photos import release_photo
from ..protect.dp.pixelization import PixelizationConfig
from ..provenance import provenance
from ..recognition.dlib_native import DlibEmbedder
from ..report.io import write_json


def people_with_photos(root: Path | None, minimum: int) -> list[tuple[str, list[Path]]]:
    """(person, photos) of the people with at least ``minimum`` photos: LFW View 1 DevTest (none of them
    in DevTrain, the basis' people), or the embedded sample."""
    if root is None:
        grouped: dict[str, list[Path]] = {}
        for path, person in read_identity_folders(sample_root() / "lfw"):
            grouped.setdefault(person, []).append(path)
        return [(p, sorted(v)) for p, v in grouped.items() if len(v) >= minimum]
    lfw = LFW(root)
    (people,) = lfw.people("dev-test")
    chosen = []
    for name, count in people:
        if count >= minimum:
            photos = [path for path, _ in lfw.images_of([(name, count)])]
            if all(p.is_file() for p in photos[:minimum]):
                chosen.append((name, photos))
    return chosen


def claimed_vs_measured(args, basis, root) -> list[dict]:
    """Audit rows: one per (method, eps, pair)."""
    people = people_with_photos(root, 1)
    rng = random.Random(args.seed)
    picks = rng.sample(range(len(people)), 2 * args.pairs)
    items = [(people[i][1][0], people[i][0]) for i in picks]
    chips = to_uint8(load_face_chips(items, ChipSpec(size=basis.image_shape[1], channels=1), progress=False).images())
    sensitivity = basis.range_sensitivity()
    rows = []
    for method in args.methods:
        for epsilon in args.epsilons:
            for pair in range(args.pairs):
                t0 = time.perf_counter()
                result = audit_chips(method, epsilon, (chips[2 * pair], chips[2 * pair + 1]), basis, sensitivity,
                                     releases=args.releases, delta=args.delta, seed=args.seed + pair,
                                     block=args.block, m=args.neighbour_pixels)
                rows.append({"method": method, "epsilon": epsilon, "pair": pair, "seconds": time.perf_counter() - t0,
                             **result.to_dict()})
                print(f"  audit {method:8s} eps {epsilon:<4g} pair {pair}: eps >= {result.epsilon_lower:.3f} "
                      f"({result.best_test}){'  REFUTED' if result.violated else ''}", flush=True)
    return rows


def audit_table(rows: list[dict]) -> list[dict]:
    """Per (method, eps): the largest lower bound over the pairs and whether any pair refutes the claim."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["method"], r["epsilon"]), []).append(r)
    table = []
    for (method, _), group in groups.items():
        best = max(group, key=lambda r: r["epsilon_lower"])
        table.append({"method": method, "claimed": best["claimed_epsilon"], "epsilon_lower": best["epsilon_lower"],
                      "best_test": best["best_test"], "pairs": len(group),
                      "refuted_pairs": sum(r["violated"] for r in group)})
    return table


def frontier(args, basis, root) -> tuple[list[dict], dict]:
    """Rank-1, TAR and image quality of protected probes, per (method, eps), and the protocol."""
    people = people_with_photos(root, 2)
    chosen = sorted(random.Random(args.seed).sample(range(len(people)), min(args.people, len(people))))
    people = [people[i] for i in chosen]
    judge = DlibEmbedder()
    judge_aligner = FaceAligner(judge.alignment)
    chip_aligner = ChipSpec(size=basis.image_shape[1]).aligner()
    gallery_photos = [load_rgb(photos[0]) for _, photos in people]
    probes = [load_rgb(photos[1]) for _, photos in people]
    landmarks = [chip_aligner.align(p).landmarks for p in probes]

    def embed(photos: list[np.ndarray]) -> torch.Tensor:
        return judge.embed(to_tensor([judge_aligner.align(p).chip for p in photos]))

    gallery = embed(gallery_photos)
    sensitivity = basis.range_sensitivity()
    source = NoiseSource(seed=args.seed)
    settings = [("clean", None)] + [(m, e) for m in args.frontier_methods for e in args.frontier_epsilons]
    rows = []
    for method, epsilon in settings:
        t0 = time.perf_counter()
        mechanism = None if method == "clean" else (
            PixelizationConfig(epsilon, args.block, args.neighbour_pixels) if method == "dp-pix"
            else DPConfig(method, epsilon))
        released = probes if mechanism is None else [release_photo(p, mechanism, source, marks, basis, sensitivity)[0]
                                                     for p, marks in zip(probes, landmarks)]
        scores = embed(released) @ gallery.T  # cosines of unit embeddings (N probes, N gallery)
        own = scores.diagonal()
        rank1 = float((scores.argmax(1) == torch.arange(len(people))).double().mean())
        clean, noisy = to_tensor(probes), to_tensor(released)
        rows.append({"method": method, "epsilon": epsilon, "rank1": rank1,
                     "tar": float((own >= judge.verification_threshold).double().mean()),
                     "mean_cosine_own": float(own.mean()),
                     "psnr": float(psnr(noisy, clean).clamp_max(99).mean()), "ssim": float(ssim(noisy, clean).mean()),
                     "unchanged_pixels": float(np.mean([(r == p).all(axis=2).mean() for r, p in zip(released, probes)])),
                     "seconds": time.perf_counter() - t0})
        r = rows[-1]
        shown = "-" if epsilon is None else epsilon
        print(f"  frontier {method:8s} eps {shown:<5}: rank-1 {100 * r['rank1']:5.1f} % "
              f"TAR {100 * r['tar']:5.1f} %  PSNR {r['psnr']:5.1f}  SSIM {r['ssim']:.3f}  "
              f"unchanged {100 * r['unchanged_pixels']:5.1f} %", flush=True)
    protocol = {"people": len(people), "gallery": "first photo, clean", "probe": "second photo, protected",
                "judge": judge.name, "threshold": judge.verification_threshold,
                "source": "LFW View 1 DevTest people with >= 2 photos" if root else "embedded sample"}
    return rows, protocol


def run(args: argparse.Namespace) -> int:
    from ..cli import outputs

    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=("result.json",))
    torch.set_num_threads(args.threads)
    root = Path(args.root) if args.root else None
    t_start = time.perf_counter()
    basis = lfw_eigenfaces(root) if root is not None else sample_eigenfaces()
    print(f"basis: {basis.description}")
    audits = claimed_vs_measured(args, basis, root) if args.releases else []
    table = audit_table(audits)
    print(f"{'method':9s} {'claimed':>8s} {'eps >=':>8s}  refuted  test")
    for e in table:
        print(f"{e['method']:9s} {e['claimed']:8.3g} {e['epsilon_lower']:8.3f}  {e['refuted_pairs']}/{e['pairs']}      "
              f"{e['best_test']}")
    rows, protocol = frontier(args, basis, root) if args.people else ([], {})
    settings = {k: v for k, v in vars(args).items() if k not in ("func", "bench_module")}
    write_json(out / "result.json", {
        "settings": settings, "basis": basis.config(), "audit": {"table": table, "rows": audits},
        "frontier": {"protocol": protocol, "rows": rows}, "seconds": time.perf_counter() - t_start,
        "provenance": provenance(data={"root": str(root or sample_root())}, seed=args.seed,
                                 protocol={"name": "view1", "basis": "DevTrain people", "photos": "DevTest people"}
                                 if root else None)})
    print(f"wrote {out / 'result.json'} ({time.perf_counter() - t_start:.0f} s)")
    return 0
