"""MEM-FR against LOEN (seed 000) side by side: recognition, privacy, attacks and speed.

For each optical system, at a reduced resolution on CPU (seed 000 uses 160 x 160 and Inception-ResNet-V1
on CASIA-WebFace; pass --image-size 160 --backbone inception-resnet-v1 on a GPU):

  1. train the encoder and its back-end end to end (Eq. 5) on the people of LFW View 1 DevTrain;
  2. verification accuracy of the trained system on LFW View 2 (10-fold protocol, cosine scores);
  3. privacy of the encrypted images: PSNR, SSIM (and LPIPS with --lpips-weights) against the aligned
     faces (Fig. 2a, Fig. 5), the mean cosine of same / different people (Table 2), Eq. 3's
     dual cosine, and the reference judge (dlib ResNet, "standard model" of Sec. 3.3) verifying View 2
     on the encrypted images (seed 000: 63.10 %) and on the originals;
  4. attacks: a U-Net blind deconvolution trained on half of N (encrypted, original) DevTrain pairs,
     evaluated on the other half (PSNR, SSIM; seed 000: 19.26 dB / 0.55 at N = 200, 21.84 dB / 0.65 at
     N = 600) and by the judge on View 2 reconstructions (seed 000: 69.85 % at N = 600); Wiener
     deconvolution with the true PSF (non-blind bound);
  5. speed: training seconds per epoch and encoder (optics + sensor) images per second.

The judge sees 150 x 150 resamplings of the S x S dlib chips (docs/optical.md). LFW View 2 shares people
with View 1 DevTrain; the script reports the accuracy on all View 2 pairs, as seed 000 does.

Run of docs/benchmarks.md (46 minutes on 2 shared CPU cores; the judge on folds 1-3 only):
    faceveil bench optical --root ../shared/data/lfw --image-size 80 --epochs 8 --binary-epochs 2 \
        --batch-size 64 --attack-pairs 200 600 --attack-epochs 30 --attack-width 16 --judge-folds 3 \
        --threads 2 --out results/optical
Smoke test on the embedded sample (half a minute; the sample's 40 people
are both the training and the test people, so its numbers only show that everything runs):
    faceveil bench optical --image-size 48 --epochs 3 --binary-epochs 1 --attack-pairs 20 40 \
        --attack-epochs 5 --attack-width 16 --threads 1 --out /tmp/bench_optical --quiet
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import time
from pathlib import Path

import numpy as np
import torch

from faceveil import __version__
from faceveil.data.lfw import LFW
from faceveil.data.sample import sample_root
from faceveil.eval.quality import LPIPSAlex, load_lpips_alex, lpips, psnr, ssim
from faceveil.eval.verification import pair_scores, verification_report
from faceveil.attack.deconv import AttackConfig, reconstruct, train_unet_attack, wiener_deconvolution
from faceveil.protect.optical import (PAPER_TABLE_1, SYSTEMS, DataConfig, EncoderConfig, LossWeights, TrainConfig,
                                      dual_cosine_loss, judge_view, load_chips, table_1, train, training_items)
from faceveil.recognition.dlib_resnet import DlibTorchEmbedder

PAPER = {"judge_on_encrypted": 0.6310, "judge_on_unet_600": 0.6985,
         "unet": {200: {"psnr": 19.26, "ssim": 0.55}, 600: {"psnr": 21.84, "ssim": 0.65}}}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``faceveil bench optical``."""
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample)")
    p.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    p.add_argument("--image-size", type=int, default=80, help="scene side S (seed 000: 160)")
    p.add_argument("--backbone", default="light", choices=("light", "inception-resnet-v1"))
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--binary-epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--distill", type=float, default=1.0, help="weight of the judge distillation (0: seed 000's loss)")
    p.add_argument("--max-identities", type=int, default=None, help="limit the DevTrain people")
    p.add_argument("--diffraction", action="store_true", help="MEM-FR lenslet diffraction blur")
    p.add_argument("--attack-pairs", type=int, nargs="+", default=[200, 600])
    p.add_argument("--attack-epochs", type=int, default=100)
    p.add_argument("--attack-width", type=int, default=32, help="U-Net channels at full resolution")
    p.add_argument("--nsr", type=float, default=1e-2, help="noise-to-signal ratio of the Wiener attack")
    p.add_argument("--lpips-weights", default=None,
                   help="LPIPS-AlexNet weights (docs/quality.md): also report LPIPS of encrypted and attacked images")
    p.add_argument("--judge-folds", type=int, default=10, choices=range(1, 11), metavar="K",
                   help="the reference judge verifies the pairs of the first K View 2 folds (default: all 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--out", required=True, help="output folder: result.json and one training run per system")
    p.add_argument("--quiet", action="store_true")


def view2_faces(root: Path, size: int, args):
    """The aligned View 2 faces, their judge embeddings, and the pairs as index arrays and folds."""
    pairs = LFW(root).pairs("view2")
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    faces = load_chips([(p, p.parent.name) for p in paths], size, judge=True, progress=not args.quiet,
                       device=args.device)
    index = {p: i for i, p in enumerate(faces.paths)}
    a = np.array([index[p.path_a] for p in pairs])
    b = np.array([index[p.path_b] for p in pairs])
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    return faces, a, b, labels, folds


def verify(embeddings: torch.Tensor, a, b, labels, folds) -> dict:
    """Verification report (10-fold on View 2) of embeddings (N, D) of the View 2 images, with the mean
    cosine of same-person and different-people pairs (Table 2 of seed 000, over all pairs, not two)."""
    e = embeddings.numpy()
    scores = pair_scores(e[a], e[b])
    rep = verification_report(scores, labels, folds)
    return {**{k: rep[k] for k in ("accuracy_mean", "accuracy_sem", "auc", "eer")},
            "mean_cosine_same": float(scores[labels].mean()), "mean_cosine_different": float(scores[~labels].mean())}


def relaxed_mask_verification(model, scenes: torch.Tensor, seed: int, a, b, labels, folds) -> dict:
    """Verification with the trained mask's relaxed [0, 1] transmissions instead of the deployed binary
    ones (the back-end stays the one fine-tuned on the binary mask)."""
    model.encoder.binary = False
    try:
        encrypted = model.encrypt(scenes, torch.Generator().manual_seed(seed)).cpu()
        return verify(model.embed(encrypted).cpu(), a, b, labels, folds)
    finally:
        model.encoder.binary = True


def judge_verify(judge: DlibTorchEmbedder, images: torch.Tensor, test, n_folds: int) -> dict:
    """The reference judge verifying the View 2 pairs of the first ``n_folds`` folds on ``images``
    (N, 3, S, S), the View 2 images in the order of ``test``; only the images of those pairs are embedded
    (the judge is the slow part of the benchmark on a CPU)."""
    _, a, b, labels, folds = test
    keep = folds < n_folds
    used = torch.from_numpy(np.unique(np.concatenate([a[keep], b[keep]])))
    embeddings = torch.zeros(len(images), 128)
    embeddings[used] = judge.embed(judge_view(images[used]))
    return {**verify(embeddings, a[keep], b[keep], labels[keep], folds[keep]), "folds": n_folds,
            "pairs": int(keep.sum())}


def quality(images: torch.Tensor, originals: torch.Tensor, perceptual: LPIPSAlex | None = None) -> dict:
    """Mean PSNR and SSIM of images (N, C, S, S) against originals, both in [0, 1], and LPIPS when a
    model is given (it needs S >= 31)."""
    measures = {"psnr": float(psnr(images, originals).mean()), "ssim": float(ssim(images, originals).mean())}
    if perceptual is not None:
        with torch.no_grad():
            measures["lpips"] = float(lpips(images, originals, perceptual).mean())
    return measures


def images_per_second(function, batch: torch.Tensor, repeats: int = 3) -> float:
    """Images per second of ``function(batch)``, best of ``repeats`` calls."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        function(batch)
        best = min(best, time.perf_counter() - t0)
    return len(batch) / best


def encoder_speed(model, scenes: torch.Tensor, seed: int) -> float:
    """Images per second of the optics + sensor on a batch of 64 (best of 3)."""
    return images_per_second(lambda batch: model.encrypt(batch, torch.Generator().manual_seed(seed)), scenes[:64])


def run_system(system: str, args, source: DataConfig, train_faces, test, judge,
               perceptual: LPIPSAlex | None) -> dict:
    faces, a, b, labels, folds = test
    config = TrainConfig(
        out_dir=str(Path(args.out) / system),
        encoder=EncoderConfig(system=system, image_size=args.image_size,
                              diffraction=args.diffraction and system == "mem-fr"),
        backbone=args.backbone, data=source, epochs=args.epochs,
        binary_epochs=args.binary_epochs, batch_size=args.batch_size, loss=LossWeights(distill=args.distill),
        seed=args.seed, device=args.device)
    result = train(config, data=train_faces, progress=not args.quiet)
    model = result.model.to(args.device)
    generator = torch.Generator().manual_seed(args.seed)
    scenes = faces.scenes()
    encrypted = model.encrypt(scenes, generator).cpu()
    row = {
        "system": system, "dilation_px": model.encoder.dilation, "psf_support_px": int(model.encoder.psf().shape[0]),
        "open_mask_elements": int(model.encoder.transmissions().sum()),
        "verification": verify(model.embed(encrypted).cpu(), a, b, labels, folds),
        "verification_relaxed_mask": relaxed_mask_verification(model, scenes, args.seed, a, b, labels, folds),
        "privacy": {**quality(encrypted, scenes, perceptual), "dual_cosine": float(dual_cosine_loss(scenes, encrypted)),
                    "judge_on_encrypted": judge_verify(judge, encrypted, test, args.judge_folds)},
        "train_seconds_per_epoch": float(np.mean([h["seconds"] for h in result.history])),
        "train_images_per_second": float(np.mean([h["images_per_second"] for h in result.history])),
        "encoder_images_per_second": encoder_speed(model, scenes, args.seed),
        "history": result.history,
    }
    wiener = wiener_deconvolution(encrypted, model.encoder.response().detach().cpu(), nsr=args.nsr)
    row["wiener_true_psf"] = {**quality(wiener, scenes, perceptual),
                              "judge": judge_verify(judge, wiener, test, args.judge_folds)}
    attacker_scenes = train_faces.scenes()
    attacker_encrypted = model.encrypt(attacker_scenes, torch.Generator().manual_seed(args.seed + 1)).cpu()
    row["unet"] = {}
    for n in args.attack_pairs:
        attack = AttackConfig(pairs=n, epochs=args.attack_epochs, base_channels=args.attack_width, seed=args.seed)
        if n > len(attacker_scenes):
            print(f"  skipped the U-Net attack with {n} pairs: only {len(attacker_scenes)} training faces")
            continue
        trained = train_unet_attack(attacker_encrypted, attacker_scenes, attack, progress=not args.quiet,
                                    device=args.device)
        held_out = reconstruct(trained.model, attacker_encrypted[trained.eval_index])
        rebuilt = reconstruct(trained.model, encrypted)
        row["unet"][n] = {**quality(held_out, attacker_scenes[trained.eval_index], perceptual),
                          "judge_on_view2_reconstructions": judge_verify(judge, rebuilt, test, args.judge_folds),
                          "final_train_mse": trained.losses[-1]}
    return row


def print_table(rows: list[dict], judge_clean: dict) -> None:
    pct = lambda v: f"{100 * v:.2f} %"  # noqa: E731
    pair = lambda q: f"{q['psnr']:.2f} / {q['ssim']:.3f}"  # noqa: E731
    cosines = lambda v: f"{v['mean_cosine_same']:.2f} / {v['mean_cosine_different']:.2f}"  # noqa: E731
    names = [r["system"] for r in rows]
    lines = [("", names),
             ("verification accuracy (10-fold)", [pct(r["verification"]["accuracy_mean"]) for r in rows]),
             ("  paper (simulation, Table 1)", [pct(PAPER_TABLE_1[n]["simulation_accuracy"]) for n in names]),
             ("  same back-end, relaxed mask", [pct(r["verification_relaxed_mask"]["accuracy_mean"]) for r in rows]),
             ("mean cosine same / different", [cosines(r["verification"]) for r in rows]),
             ("  judge on encrypted", [cosines(r["privacy"]["judge_on_encrypted"]) for r in rows]),
             ("encrypted vs original: PSNR dB", [f"{r['privacy']['psnr']:.2f}" for r in rows]),
             ("encrypted vs original: SSIM", [f"{r['privacy']['ssim']:.3f}" for r in rows]),
             *([("encrypted vs original: LPIPS", [f"{r['privacy']['lpips']:.3f}" for r in rows])]
               if "lpips" in rows[0]["privacy"] else []),
             ("dual cosine (Eq. 3)", [f"{r['privacy']['dual_cosine']:.3f}" for r in rows]),
             ("judge on encrypted (paper 63.10 %)",
              [pct(r["privacy"]["judge_on_encrypted"]["accuracy_mean"]) for r in rows]),
             (f"judge on originals: {pct(judge_clean['accuracy_mean'])}, cosine {cosines(judge_clean)} "
              f"(judge: {judge_clean['pairs']} pairs, {judge_clean['folds']} folds)", ["" for _ in rows]),
             ("Wiener, true PSF: PSNR dB / SSIM", [pair(r["wiener_true_psf"]) for r in rows]),
             ("Wiener, true PSF: judge", [pct(r["wiener_true_psf"]["judge"]["accuracy_mean"]) for r in rows])]
    for n in sorted({n for r in rows for n in r["unet"]}):
        paper = PAPER["unet"].get(n)
        note = f" (paper {paper['psnr']} / {paper['ssim']})" if paper else ""
        lines.append((f"U-Net N={n}: PSNR dB / SSIM{note}",
                      [pair(r["unet"][n]) if n in r["unet"] else "-" for r in rows]))
        lines.append((f"U-Net N={n}: judge on View 2",
                      [pct(r["unet"][n]["judge_on_view2_reconstructions"]["accuracy_mean"]) if n in r["unet"] else "-"
                       for r in rows]))
    lines += [("training s / epoch", [f"{r['train_seconds_per_epoch']:.1f}" for r in rows]),
              ("encoder images / s", [f"{r['encoder_images_per_second']:.0f}" for r in rows])]
    width = max(len(label) for label, _ in lines) + 2
    for label, cells in lines:
        print(label.ljust(width) + "".join(str(c).rjust(18) for c in cells))


def run(args: argparse.Namespace) -> int:
    """Run the benchmark of ``args`` (the options of :func:`add_arguments`); writes ``result.json``."""
    if args.threads:
        torch.set_num_threads(args.threads)
    perceptual = load_lpips_alex(args.lpips_weights) if args.lpips_weights else None  # fail before training
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(args.root) if args.root else sample_root()
    source = DataConfig(source="lfw-dev-train", root=str(root), max_identities=args.max_identities) if args.root \
        else DataConfig(source="sample", max_identities=args.max_identities)
    t0 = time.perf_counter()
    train_faces = load_chips(training_items(source), args.image_size, judge=args.distill > 0,
                             progress=not args.quiet, device=args.device)
    test = view2_faces(root, args.image_size, args)
    judge = DlibTorchEmbedder(device=args.device)
    faces, a, b, labels, folds = test
    judge_clean = judge_verify(judge, faces.scenes(), test, args.judge_folds)
    rows = [run_system(system, args, source, train_faces, test, judge, perceptual) for system in args.systems]
    print_table(rows, judge_clean)
    result = {
        "command": shlex.join(["faceveil", *args.argv]),
        "data": {"root": str(root.resolve()), "embedded_sample": args.root is None,
                 "train_people": len(train_faces.identities), "train_images": len(train_faces),
                 "train_fallbacks": int((~train_faces.detected).sum()), "view2_images": len(faces),
                 "view2_pairs": len(labels), "view2_fallbacks": int((~faces.detected).sum())},
        "settings": {k: v for k, v in vars(args).items() if k not in ("func", "argv")}, "seed": args.seed, "version": __version__,
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cpus": os.cpu_count(),
                    "threads": torch.get_num_threads(), "device": args.device},
        "seconds": time.perf_counter() - t0, "judge_on_originals": judge_clean, "derived_table_1": table_1(),
        "paper": {"table_1": PAPER_TABLE_1, **{k: v for k, v in PAPER.items() if k != "unet"},
                  "unet": {str(k): v for k, v in PAPER["unet"].items()}},
        "systems": [{**r, "unet": {str(k): v for k, v in r["unet"].items()}} for r in rows],
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {out / 'result.json'} ({result['seconds']:.0f} s)")
    return 0
