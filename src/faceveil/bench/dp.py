"""RDP, RDP-NA, RDP-LMGD, Pixel-DP and DCT-DP on face photos: seed 004's measurements and their speed.

Per method and budget eps_0 (p = 0.02 as in the seed), over the photos:
  * Fig. 2: normalised difference |s_r^2 - s_t^2| / s_t^2 of the real squared error of the noisy photo,
    s_r^2 = sum_k (P'_k - P_k)^2, and the theory for the drawn K, s_t^2 = 2 sum_{k<=K} b_k^2;
  * Fig. 3: log10 s_r^2 (8-bit pixel units, before clipping to [0, 255]);
  * Table II: SSIM; Fig. 4: PSNR, standard (clipped image, peak 255; photos the noise left unchanged
    at 8 bits, PSNR +inf, are counted apart as "same") and the seed's Eq. (7),
    10 log10(max(P')^2 / s_r^2) with s_r^2 the *sum* as the seed defines it;
  * Table III: the bypass attack: the protected photo (8-bit PNG as released) against the original with
    the reference judge (dlib ResNet): FNR at the judge's cosine threshold and at the seed's Euclidean
    threshold 0.975;
  * speed: NA and LMGD on 112x112 grey crops (closed-form weights) and 250x250 RGB photos (autograd
    weights through the chip extraction), and the per-image cost of diffprivlib's Laplace mechanism
    (one call per pixel) next to faceveil's noise on the same image.

F is the eigenface vector of the face's dlib chip (docs/dp.md), M_F = --features; the default basis is
fitted on the embedded sample: for LFW, pass --basis fitted on people outside the evaluated photos.

Full run (not made yet: hours on 2 cores, LMGD dominates):
    faceveil bench dp --root ../shared/data/lfw --basis BASIS.npz --images 300 --out results/dp
Smoke test on the embedded sample (about a minute):
    faceveil bench dp --images 3 --epsilons 0.2 1.0 --features 16 --lmgd-max-iterations 300 \
        --speed-images 1 --out /tmp/bench_dp
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from faceveil import __version__
from faceveil.data.folders import read_identity_folders
from faceveil.data.images import load_rgb, to_tensor, to_uint8
from faceveil.data.sample import sample_root
from faceveil.eval.quality import psnr, ssim
from faceveil.faces.align import FaceAligner
from faceveil.protect.dp import METHODS, DPConfig, protect_dp
from faceveil.protect.dp_noise import NoiseSource, laplace_noise
from faceveil.protect.eigenfaces import Eigenfaces
from faceveil.protect.face_features import PhotoFeatures, chip_aligner, sample_eigenfaces, to_grey
from faceveil.recognition.dlib_native import DlibEmbedder

PAPER_EUCLIDEAN_THRESHOLD = 0.975  # seed 004, Sec. VII-C (face_recognition distance)


def paper_psnr(noisy: torch.Tensor, clean: torch.Tensor) -> float:
    """Seed 004, Eq. (7): 10 log10(max(P')^2 / s_r^2), s_r^2 = sum_k (P'_k - P_k)^2 (as printed: a sum)."""
    squared_error = float((noisy - clean).double().pow(2).sum())
    return 10 * math.log10(float(noisy.max()) ** 2 / squared_error)


def judge_embeddings(photos: list[np.ndarray], judge: DlibEmbedder, aligner: FaceAligner) -> tuple[torch.Tensor, int]:
    """Raw dlib descriptors (N, 128) of photos and the number of fallback boxes."""
    faces = [aligner.align(photo) for photo in photos]
    return judge.embed_raw(to_tensor([f.chip for f in faces])), sum(not f.detected for f in faces)


def quality_and_attack(args, photos, basis, judge, aligner) -> list[dict]:
    """One row per (method, eps_0, photo)."""
    enrolled, _ = judge_embeddings(photos, judge, aligner)
    chips = chip_aligner(basis.image_shape[1])
    landmarks = [chips.align(photo).landmarks for photo in photos]
    generator = torch.Generator().manual_seed(args.seed)
    rows = []
    for method in METHODS:
        for epsilon0 in args.epsilons:
            config = DPConfig(method, epsilon0, args.p, args.levels, lmgd_max_iterations=args.lmgd_max_iterations)
            released = []
            for photo, marks, standard in zip(photos, landmarks, enrolled):
                clean = to_tensor([photo])
                features = PhotoFeatures(basis, marks, args.features)
                t0 = time.perf_counter()
                result = protect_dp(clean, features, basis.sensitivity, config, generator=generator, clamp=False)
                seconds = time.perf_counter() - t0
                noisy, account = result.images, result.accounts[0]
                real = float((noisy - clean).double().mul(255).pow(2).sum())
                theory = 2 * math.fsum(b * b for b in account.scales) * 255**2
                clipped = noisy.clamp(0, 1)
                released.append(np.ascontiguousarray(to_uint8(clipped)[0]))
                quality = float(psnr(clipped, clean)[0])
                rows.append({
                    "method": method, "epsilon0": epsilon0, "K": account.K, "seconds": seconds,
                    "lmgd_iterations": account.solver["iterations"] if account.solver else None,
                    "variance_real": real, "variance_theory": theory,
                    "variance_difference": abs(real - theory) / theory if theory > 0 else None,
                    "log10_variance_real": math.log10(real) if real > 0 else None,
                    "unchanged": bool((released[-1] == photo).all()),  # no noise survived the 8-bit release
                    "ssim": float(ssim(clipped, clean)[0]), "psnr": quality if math.isfinite(quality) else None,
                    "psnr_eq7": paper_psnr(noisy * 255, clean * 255) if real > 0 else None,
                })
            probes, fallbacks = judge_embeddings(released, judge, aligner)
            cosine = torch.nn.functional.cosine_similarity(probes, enrolled)
            distance = (probes - enrolled).norm(dim=1)
            for row, c, d in zip(rows[-len(photos):], cosine.tolist(), distance.tolist()):
                row.update(judge_cosine=c, judge_distance=d, judge_fallbacks=fallbacks,
                           missed_judge=c < judge.verification_threshold, missed_paper=d >= PAPER_EUCLIDEAN_THRESHOLD)
            print(f"  {method:9s} eps_0 = {epsilon0:g}: done", flush=True)
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Means (and standard deviations of the continuous measures) per method and eps_0."""
    keys = ("variance_difference", "log10_variance_real", "ssim", "psnr", "psnr_eq7", "seconds", "lmgd_iterations", "K")
    table = []
    for method in METHODS:
        for epsilon0 in sorted({r["epsilon0"] for r in rows}):
            group = [r for r in rows if r["method"] == method and r["epsilon0"] == epsilon0]
            entry = {"method": method, "epsilon0": epsilon0, "n": len(group),
                     "fnr_judge": float(np.mean([r["missed_judge"] for r in group])),
                     "fnr_paper_threshold": float(np.mean([r["missed_paper"] for r in group])),
                     "unchanged_fraction": float(np.mean([r["unchanged"] for r in group]))}
            for key in keys:
                values = [r[key] for r in group if r[key] is not None]
                entry[key] = float(np.mean(values)) if values else None
                entry[key + "_sd"] = float(np.std(values)) if values else None
            table.append(entry)
    return table


def print_table(table: list[dict]) -> None:
    print(f"{'method':9s} {'eps0':>5s} {'|dVar|/Var':>10s} {'log10Var':>9s} {'SSIM':>7s} {'PSNR':>7s} "
          f"{'Eq.7':>7s} {'FNRjudge':>8s} {'FNR0.975':>8s} {'same':>5s} {'s/img':>7s} {'iters':>6s}")
    for e in table:
        fmt = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
        print(f"{e['method']:9s} {e['epsilon0']:5.2f} {fmt(e['variance_difference'], '10.3f')} "
              f"{fmt(e['log10_variance_real'], '9.2f')} {fmt(e['ssim'], '7.4f')} {fmt(e['psnr'], '7.2f')} "
              f"{fmt(e['psnr_eq7'], '7.2f')} {e['fnr_judge']:8.3f} {e['fnr_paper_threshold']:8.3f} "
              f"{e['unchanged_fraction']:5.2f} "
              f"{fmt(e['seconds'], '7.2f')} {fmt(e['lmgd_iterations'], '6.0f')}")


def plot(table: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [("variance_difference", "|s_r^2 - s_t^2| / s_t^2", "fig2_variance_difference.png"),
               ("log10_variance_real", "log10 s_r^2 (8-bit units)", "fig3_log_variance.png"),
               ("psnr", "PSNR (dB)", "fig4_psnr.png")]
    paths = []
    for key, label, name in figures:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for method in METHODS:
            pts = [(e["epsilon0"], e[key]) for e in table if e["method"] == method and e[key] is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=method)
        ax.set_xlabel("eps_0")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        paths.append(out / name)
    return paths


def _timed_protection(images, features, basis, config, generator, n_features=None) -> tuple[float, list]:
    t0 = time.perf_counter()
    result = protect_dp(images, features, basis.sensitivity, config, n_features=n_features, generator=generator)
    return time.perf_counter() - t0, [a.solver["iterations"] for a in result.accounts if a.solver]


def speed(args, photos, basis) -> dict:
    """Seconds per image of RDP-NA and RDP-LMGD on the basis' own crops (closed-form weights) and on
    250x250 RGB photos (autograd weights), and of per-pixel Laplace noise: diffprivlib's mechanism
    (one ``randomise`` call per value) against faceveil's vectorised sampler."""
    from diffprivlib.mechanisms import Laplace

    generator = torch.Generator().manual_seed(args.seed)
    aligner = chip_aligner(basis.image_shape[1])
    channels, height, width = basis.image_shape
    crops = to_tensor([aligner.align(photo).chip for photo in photos])
    crops = to_grey(crops) if channels == 1 else crops
    large = [np.asarray(Image.fromarray(photo).resize((250, 250), Image.Resampling.BICUBIC)) for photo in photos]
    timing = {}
    for method in ("rdp-na", "rdp-lmgd"):
        config = DPConfig(method, 1.0, args.p, args.levels, lmgd_max_iterations=args.lmgd_max_iterations)
        seconds, iterations = 0.0, []
        for crop in crops.split(1):
            dt, its = _timed_protection(crop, basis, basis, config, generator, args.features)
            seconds, iterations = seconds + dt, iterations + its
        timing[f"{method}, {height}x{width} {'grey' if channels == 1 else 'RGB'} crops"] = {
            "seconds_per_image": seconds / len(photos), "lmgd_iterations": iterations}
        seconds, iterations = 0.0, []
        for photo in large:
            features = PhotoFeatures(basis, aligner.align(photo).landmarks, args.features)
            dt, its = _timed_protection(to_tensor([photo]), features, basis, config, generator)
            seconds, iterations = seconds + dt, iterations + its
        timing[f"{method}, 250x250 RGB photos"] = {"seconds_per_image": seconds / len(photos),
                                                   "lmgd_iterations": iterations}
    for label, n in (("112x112 grey", 112 * 112), ("250x250 RGB", 3 * 250 * 250)):
        values = torch.rand(n, generator=generator, dtype=torch.float64)
        mechanism = Laplace(epsilon=1.0, sensitivity=1.0, random_state=args.seed)
        t0 = time.perf_counter()
        [mechanism.randomise(v) for v in values.tolist()]
        reference = time.perf_counter() - t0
        t0 = time.perf_counter()
        values + laplace_noise(torch.ones(n, dtype=torch.float64), NoiseSource(seed=args.seed))
        ours = time.perf_counter() - t0
        timing[f"Laplace on every pixel, {label}"] = {"diffprivlib_seconds": reference, "faceveil_seconds": ours}
    for key, value in timing.items():
        print(f"  {key}: " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                       for k, v in value.items()))
    return timing


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``faceveil bench dp``."""
    ap.add_argument("--root", default=None, help="LFW root (default: the embedded sample)")
    ap.add_argument("--images", type=int, default=20, help="photos: the first of each of the first N people")
    ap.add_argument("--epsilons", type=float, nargs="+", default=[0.2, 0.4, 0.6, 0.8, 1.0])
    ap.add_argument("--p", type=float, default=0.02)
    ap.add_argument("--features", type=int, default=64, help="M_F")
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--basis", default=None, help="eigenface basis .npz (default: fitted on the embedded sample)")
    ap.add_argument("--lmgd-max-iterations", type=int, default=5000)
    ap.add_argument("--speed-images", type=int, default=3, help="photos timed at 112x112 grey and 250x250 RGB")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared machine)")
    ap.add_argument("--out", required=True, help="folder for result.json and the figures")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark of ``args`` (the options of :func:`add_arguments`); writes ``result.json``."""
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.root) if args.root else sample_root()
    people = {}
    for path, person in read_identity_folders(root / "lfw"):
        people.setdefault(person, path)
    paths = list(people.values())[: args.images]
    photos = [load_rgb(p) for p in paths]
    basis = Eigenfaces.load(args.basis) if args.basis else sample_eigenfaces()
    judge = DlibEmbedder()
    aligner = FaceAligner(judge.alignment)
    print(f"{len(photos)} photos from {root}; basis: {basis.description}; M_F = {args.features}, p = {args.p}")
    t0 = time.perf_counter()
    rows = quality_and_attack(args, photos, basis, judge, aligner)
    table = summarise(rows)
    print_table(table)
    timing = speed(args, photos[: args.speed_images], basis)
    figures = plot(table, out)
    settings = {k: v for k, v in vars(args).items() if k not in ("func", "argv")}
    record = {"command": shlex.join(["faceveil", *args.argv]), "version": __version__, "seed": args.seed,
              "settings": settings,
              "data": {"root": str(root), "images": [str(p) for p in paths], "basis": basis.config()},
              "machine": {"python": platform.python_version(), "torch_threads": args.threads},
              "seconds": time.perf_counter() - t0, "table": table, "speed": timing, "rows": rows}
    (out / "result.json").write_text(json.dumps(record, indent=1))
    print(f"wrote {out / 'result.json'} and {', '.join(p.name for p in figures)}")
    return 0
