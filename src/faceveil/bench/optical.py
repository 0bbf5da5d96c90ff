"""MEM-FR against LOEN side by side: recognition, privacy, attacks and speed (Wu et al., privacy-preserving
face recognition with a mask-encoded microlens array; LOEN is its lensless baseline).

Person-disjoint throughout (docs/protocols.md, ``view2-2fold``): each system is trained twice, on the
people of LFW View 2 folds 1-5 and on those of folds 6-10; every View 2 image is encrypted, recognised
and attacked by the model that never saw its person, and all 6,000 pairs are then scored together.
At a reduced resolution on CPU (the paper: 160 x 160 and Inception-ResNet-V1 on CASIA-WebFace; pass
--image-size 160 --backbone inception-resnet-v1 on a GPU):

  1. train the encoder and its back-end end to end (the paper's Eq. 5) on a split's training people;
  2. verification accuracy on LFW View 2 (10-fold protocol, cosine scores);
  3. privacy of the encrypted images: PSNR, SSIM (and LPIPS with --lpips-weights) against the aligned
     faces, the mean cosine of same / different people (Table 2), the dual cosine (Eq. 3), and the
     reference judge (dlib ResNet, the paper's "standard model", not in the training loop beyond the
     distillation target) verifying View 2 on the encrypted images (paper: 63.10 %) and on the originals;
  4. attacks: a U-Net blind deconvolution trained on half of N (encrypted, original) pairs of the split's
     training people, measured on the other half (PSNR, SSIM; paper: 19.26 dB / 0.55 at N = 200,
     21.84 dB / 0.65 at N = 600) and by the judge on the reconstructed View 2 test images (paper: 69.85 %
     at N = 600); Wiener deconvolution with the true PSF (the non-blind bound);
  5. speed: training seconds per epoch and encoder (optics + sensor) images per second.

The judge sees 150 x 150 resamplings of the S x S dlib chips (docs/optical.md). The back-ends distil the
dlib judge (``--distill``), so that judge was in the training loop: the second judge (``--second-judge``,
default ``judge2``, an independent network, on the first ``--second-judge-folds`` folds because it is ~8x
slower on a CPU) verifies the same images beside it. Commands and figures: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from faceveil.data.identities import check_unseen, identity_record
from faceveil.data.sample import sample_root
from faceveil.eval.quality import LPIPSAlex, aligned_quality, load_lpips_alex, lpips, psnr, ssim
from faceveil.eval.transformed import embed_chips, verification_summary
from faceveil.eval.verification import cross_fitted_report, pair_scores
from faceveil.attack.deconv import AttackConfig, reconstruct, train_unet_attack, wiener_deconvolution
from faceveil.data.chips import ChipSpec, FaceChips, check_chip_judge, load_face_chips
from faceveil.data.images import auto_gain
from faceveil.data.protocols import DataConfig, Split, lfw_protocol
from faceveil.provenance import provenance
from faceveil.report.io import write_json
from faceveil.protect.optical import (PAPER_TABLE_1, EncoderConfig, LossWeights, TrainConfig,
                                      dual_cosine_loss, table_1, train)
from faceveil.report.plots import plot_attack_curve, plot_training_curves
from faceveil.recognition.dlib_resnet import DlibTorchEmbedder

#: the person-disjoint protocol of the benchmark: two trainings, every View 2 pair scored by a model that never
#: saw its people (docs/protocols.md)
PROTOCOL = "view2-2fold"
#: the noise-to-signal ratios the Wiener attacker tries on its own pairs (it keeps the best PSNR)
WIENER_NSRS = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1)
#: pairs of the attacker's own faces the Wiener attacker tunes its noise-to-signal ratio on
WIENER_TUNING_PAIRS = 200
PAPER = {"judge_on_encrypted": 0.6310, "judge_on_unet_600": 0.6985,
         "unet": {200: {"psnr": 19.26, "ssim": 0.55}, 600: {"psnr": 21.84, "ssim": 0.65}}}


def training_source(args, split: Split) -> DataConfig:
    """Where the training photos of ``split`` come from: LFW at --root, or the embedded sample."""
    return DataConfig(source="lfw" if args.root else "sample", root=args.root, protocol=split.protocol,
                      split=int(split.name.rsplit("/", 1)[1]) - 1, max_identities=args.max_identities)


def training_faces(photos: list, args) -> FaceChips:
    """The aligned training faces of (photo, identity) items, with the judge's embeddings when --distill > 0."""
    return load_face_chips(photos, ChipSpec(size=args.image_size), "dlib-torch" if args.distill > 0 else None,
                           progress=not args.quiet, device=args.device)


def split_faces(split: Split, size: int, args):
    """:func:`view2_faces` of the test pairs of ``split`` only."""
    return pair_faces(split.test_pairs, size, args)


def pair_faces(pairs: list, size: int, args):
    """The aligned faces (S x S dlib chips) of the images of ``pairs``, and the pairs as index arrays into
    them, labels and folds."""
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    faces = load_face_chips([(p, p.parent.name) for p in paths], ChipSpec(size=size), progress=not args.quiet)
    index = {p: i for i, p in enumerate(faces.paths)}
    a = np.array([index[p.path_a] for p in pairs])
    b = np.array([index[p.path_b] for p in pairs])
    labels = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    return faces, a, b, labels, folds


def verify(embeddings: torch.Tensor, a, b, labels, folds, groups: list | None = None) -> dict:
    """Verification report (10-fold on View 2) of embeddings (N, D) of the View 2 images, with the mean
    cosine of same-person and different-people pairs (the paper's Table 2, over all pairs, not two).

    ``groups``: the folds each cross-fitted model produced the images of; each fold's threshold is then
    chosen on the other folds of its own group (:func:`~faceveil.eval.verification.cross_fitted_report`)."""
    e = embeddings.numpy()
    scores = pair_scores(e[a], e[b])
    rep = verification_summary(scores, labels, folds)
    if groups is not None and len(groups) > 1:
        rep |= {k: v for k, v in cross_fitted_report(scores, labels, folds, groups).items() if k != "groups"}
    return {**{k: rep[k] for k in ("accuracy_mean", "accuracy_sem", "accuracy_protocol", "auc", "eer")},
            "mean_cosine_same": rep["score_distributions"]["genuine_mean"],
            "mean_cosine_different": rep["score_distributions"]["impostor_mean"]}


def judge_verify(judge, images: torch.Tensor, test, n_folds: int,
                 groups: list | None = None) -> dict:
    """The reference judge verifying the View 2 pairs of the first ``n_folds`` folds of ``test`` on ``images``
    (N, 3, S, S), the View 2 images in the order of ``test``; only the images of those pairs are embedded
    (the judge is the slow part of the benchmark on a CPU). ``groups``: as in :func:`verify` (images made
    by different cameras are judged on different scales)."""
    _, a, b, labels, folds = test
    judged_folds = sorted(set(folds.tolist()))[:n_folds]
    keep = np.isin(folds, judged_folds)
    used = torch.from_numpy(np.unique(np.concatenate([a[keep], b[keep]])))
    embeddings = torch.zeros(len(images), judge.dim)
    embeddings[used] = embed_chips(judge, images[used])
    kept = None if groups is None else [g for g in ([k for k in g if k in judged_folds] for g in groups) if g]
    return {**verify(embeddings, a[keep], b[keep], labels[keep], folds[keep], kept), "folds": n_folds,
            "pairs": int(keep.sum())}


def quality(images: torch.Tensor, originals: torch.Tensor, perceptual: LPIPSAlex | None = None) -> dict:
    """Mean PSNR and SSIM of images (N, C, S, S) against originals, both in [0, 1], pixel-aligned and after
    the best shift, gain and offset (:func:`~faceveil.eval.quality.aligned_quality`), the shift-invariant
    correlation, and LPIPS when a model is given (it needs S >= 31)."""
    aligned = aligned_quality(images, originals)
    measures = {"psnr": float(psnr(images, originals).mean()), "ssim": float(ssim(images, originals).mean()),
                "aligned_psnr": float(aligned["psnr"].mean()), "aligned_ssim": float(aligned["ssim"].nanmean()),
                "shift_correlation": float(aligned["similarity"].mean())}
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


def _split_faces(split: Split, faces: FaceChips) -> torch.Tensor:
    """Indices (into the View 2 faces) of the images of ``split``'s test pairs."""
    wanted = {p for pair in split.test_pairs for p in (pair.path_a, pair.path_b)}
    return torch.tensor([i for i, p in enumerate(faces.paths) if p in wanted], dtype=torch.long)


def attacker_faces(split: Split, args) -> FaceChips:
    """The attacker's own faces: every photo of the split's training people (one photo is enough to make
    an (encrypted, original) pair), never one of its test people."""
    photos = replace(training_source(args, split), min_images=1).training_photos(split)
    return load_face_chips(photos, ChipSpec(size=args.image_size), progress=not args.quiet, device=args.device)


def tuned_wiener_nsr(response: torch.Tensor, encrypted: torch.Tensor, originals: torch.Tensor) -> float:
    """The noise-to-signal ratio of :data:`WIENER_NSRS` whose Wiener deconvolution with ``response`` gives
    the best mean PSNR on the attacker's own pairs."""
    scores = {nsr: float(psnr(wiener_deconvolution(encrypted, response, nsr), originals).mean()) for nsr in WIENER_NSRS}
    return max(scores, key=scores.get)


def attack_config(n: int, args) -> AttackConfig:
    """The U-Net attack on N pairs: ``--attack-steps`` steps of ``--attack-batch`` pairs whatever N (the
    same compute for every N; epochs = steps x batch / (N / 2)), or ``--attack-epochs`` epochs when no step
    budget is given."""
    epochs = args.attack_epochs
    if args.attack_steps:
        epochs = max(1, round(args.attack_steps * args.attack_batch / (n // 2)))
    return AttackConfig(pairs=n, epochs=epochs, batch_size=args.attack_batch, base_channels=args.attack_width,
                        seed=args.seed)


def train_split(system: str, split: Split, args) -> tuple:
    """Train ``system`` on the training people of ``split`` (an earlier run in its folder resumes, unless
    --overwrite); returns (model, training faces, result, the identity check on the split's test people)."""
    source = training_source(args, split)
    photos = source.training_photos(split)
    train_faces = training_faces(photos, args)
    config = TrainConfig(
        out_dir=str(Path(args.out) / system / split.name.replace("/", "-")),
        encoder=EncoderConfig(system=system, image_size=args.image_size, mask_seed=args.seed,
                              diffraction=args.diffraction and system == "mem-fr"),
        backbone=args.backbone, data=source, epochs=args.epochs,
        binary_epochs=args.binary_epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        backbone_learning_rate=args.backbone_learning_rate,
        loss=LossWeights(distill=args.distill, shifted=args.shift_weight, wiener=args.wiener_weight),
        validation_people=args.validation_people, seed=args.seed, device=args.device)
    result = train(config, data=train_faces, progress=not args.quiet, split=split, overwrite=args.overwrite)
    seen = check_unseen(identity_record(train_faces.identities), split.test_people, what=f"{system} of {split.name}")
    return result.model.to(args.device), train_faces, result, seen


def second_judge(args):
    """The judge that was not in the training loop (``--second-judge``), or None; it must see the scenes'
    geometry (dlib's chip, padding 0.25) to judge them."""
    if args.second_judge == "none":
        return None
    from faceveil.recognition.registry import make_embedder

    judge = make_embedder(args.second_judge, flip=True, device=args.device)
    check_chip_judge(judge, f"--second-judge {args.second_judge}")
    return judge


def judged(judges: dict, images: torch.Tensor, test, groups: list | None, keys=None) -> dict:
    """``{"judge": ..., "second_judge": ...}``: each judge's (of ``keys``, default all) verification of the
    View 2 pairs on ``images``."""
    return {key: judge_verify(judge, images, test, folds, groups) for key, (judge, folds) in judges.items()
            if keys is None or key in keys}


def run_system(system: str, args, splits: list[Split], test, judges: dict,
               perceptual: LPIPSAlex | None) -> dict:
    """Cross-fitted figures of ``system``: each View 2 image is encrypted, recognised and attacked by the
    model of the split that did not train on its person, then all pairs are scored together."""
    faces, a, b, labels, folds = test
    groups = [sorted({pair.fold for pair in split.test_pairs}) for split in splits]
    scenes = faces.images()
    encrypted, relaxed, wiener = torch.zeros_like(scenes), torch.zeros_like(scenes), torch.zeros_like(scenes)
    embedded, embedded_relaxed = torch.zeros(len(faces), 128), torch.zeros(len(faces), 128)
    rebuilt = {n: torch.zeros_like(scenes) for n in args.attack_pairs}
    per_split, unet_held_out = [], {n: [] for n in args.attack_pairs}
    for split in splits:
        model, train_faces, result, seen = train_split(system, split, args)
        index = _split_faces(split, faces)
        generator = torch.Generator().manual_seed(args.seed)
        encrypted[index] = model.encrypt(scenes[index], generator).cpu()
        embedded[index] = model.embed(encrypted[index].to(args.device)).cpu()
        model.encoder.binary = False
        relaxed[index] = model.encrypt(scenes[index], torch.Generator().manual_seed(args.seed)).cpu()
        embedded_relaxed[index] = model.embed(relaxed[index].to(args.device)).cpu()
        model.encoder.binary = True
        attacker = attacker_faces(split, args)
        attacker_scenes = attacker.images()
        attacker_encrypted = model.encrypt(attacker_scenes, torch.Generator().manual_seed(args.seed + 1)).cpu()
        response = model.encoder.response().detach().cpu()
        tuning = slice(0, WIENER_TUNING_PAIRS)
        nsr = args.nsr or tuned_wiener_nsr(response, attacker_encrypted[tuning], attacker_scenes[tuning])
        wiener[index] = wiener_deconvolution(encrypted[index], response, nsr=nsr)
        attacks = {}
        for n in args.attack_pairs:
            attack = attack_config(n, args)
            trained = train_unet_attack(attacker_encrypted, attacker_scenes, attack, progress=not args.quiet,
                                        device=args.device)
            held_out = reconstruct(trained.model, attacker_encrypted[trained.eval_index])
            unet_held_out[n].append({**quality(held_out, attacker_scenes[trained.eval_index], perceptual),
                                     "final_train_mse": trained.losses[-1], "epochs": attack.epochs,
                                     "train_pairs": len(trained.train_index)})
            rebuilt[n][index] = reconstruct(trained.model, encrypted[index])
            attacks[n] = attack.epochs
        per_split.append({
            "split": split.name, "train_people": len(train_faces.identities), "train_images": len(train_faces),
            "train_fallbacks": train_faces.fallbacks, "test_pairs": len(split.test_pairs), "test_images": len(index),
            "seen_test_people": seen["seen_identities"], "element_pitch_px": model.encoder.dilation,
            "attacker_photos": len(attacker), "wiener_nsr": nsr, "attack_epochs": attacks,
            "white_level": float(model.encoder.response().detach().sum()),
            "psf_support_px": int(model.encoder.psf().shape[0]),
            "open_mask_elements": int(model.encoder.transmissions().sum()),
            "mask": model.encoder.transmissions().int().tolist(),
            "train_seconds_per_epoch": float(np.mean([h["seconds"] for h in result.history])),
            "train_images_per_second": float(np.mean([h["samples_per_second"] for h in result.history])),
            "encoder_images_per_second": encoder_speed(model, scenes[index], args.seed),
            "history": result.history})
    row = {
        "system": system, "splits": per_split,
        "verification": verify(embedded, a, b, labels, folds, groups),
        "verification_relaxed_mask": verify(embedded_relaxed, a, b, labels, folds, groups),
        "privacy": {**quality(encrypted, scenes, perceptual), "dual_cosine": float(dual_cosine_loss(scenes, encrypted)),
                    **{f"{k}_on_encrypted": v for k, v in judged(judges, auto_gain(encrypted), test, groups).items()}},
        "wiener_true_psf": {**quality(wiener, scenes, perceptual), **judged(judges, wiener, test, groups)},
        "unet": {n: {**{k: float(np.mean([h[k] for h in unet_held_out[n]])) for k in unet_held_out[n][0]},
                     **{f"{k}_on_view2_reconstructions": v
                        for k, v in judged(judges, rebuilt[n], test, groups,
                                           None if n in args.second_judge_attacks else ("judge",)).items()}}
                 for n in args.attack_pairs},
        "train_seconds_per_epoch": float(np.mean([s["train_seconds_per_epoch"] for s in per_split])),
        "encoder_images_per_second": float(np.mean([s["encoder_images_per_second"] for s in per_split])),
    }
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
             ("  after best shift + gain: PSNR dB / SSIM",
              [f"{r['privacy']['aligned_psnr']:.2f} / {r['privacy']['aligned_ssim']:.3f}" for r in rows]),
             ("shift-invariant correlation", [f"{r['privacy']['shift_correlation']:.3f}" for r in rows]),
             ("dual cosine (Eq. 3)", [f"{r['privacy']['dual_cosine']:.3f}" for r in rows]),
             ("judge on encrypted (paper 63.10 %)",
              [pct(r["privacy"]["judge_on_encrypted"]["accuracy_mean"]) for r in rows]),
             (f"judge on originals: {pct(judge_clean['accuracy_mean'])}, cosine {cosines(judge_clean)} "
              f"(judge: {judge_clean['pairs']} pairs, {judge_clean['folds']} folds)", ["" for _ in rows]),
             ("Wiener, true PSF: PSNR dB / SSIM", [pair(r["wiener_true_psf"]) for r in rows]),
             ("  its noise-to-signal ratio", [", ".join(f"{s['wiener_nsr']:g}" for s in r["splits"]) for r in rows]),
             ("Wiener, true PSF: judge", [pct(r["wiener_true_psf"]["judge"]["accuracy_mean"]) for r in rows])]
    if "second_judge" in rows[0]["wiener_true_psf"]:
        lines += [(f"second judge on encrypted ({rows[0]['privacy']['second_judge_on_encrypted']['folds']} folds)",
                   [pct(r["privacy"]["second_judge_on_encrypted"]["accuracy_mean"]) for r in rows]),
                  ("Wiener, true PSF: second judge",
                   [pct(r["wiener_true_psf"]["second_judge"]["accuracy_mean"]) for r in rows])]
    for n in sorted({n for r in rows for n in r["unet"]}):
        paper = PAPER["unet"].get(n)
        note = f" (paper {paper['psnr']} / {paper['ssim']})" if paper else ""
        lines.append((f"U-Net N={n}: PSNR dB / SSIM{note}",
                      [pair(r["unet"][n]) if n in r["unet"] else "-" for r in rows]))
        for key, label in (("judge", "judge"), ("second_judge", "second judge")):
            if f"{key}_on_view2_reconstructions" in rows[0]["unet"].get(n, {}):
                lines.append((f"U-Net N={n}: {label} on View 2",
                              [pct(r["unet"][n][f"{key}_on_view2_reconstructions"]["accuracy_mean"])
                               if n in r["unet"] else "-" for r in rows]))
    lines += [("training s / epoch", [f"{r['train_seconds_per_epoch']:.1f}" for r in rows]),
              ("encoder images / s", [f"{r['encoder_images_per_second']:.0f}" for r in rows])]
    width = max(len(label) for label, _ in lines) + 2
    for label, cells in lines:
        print(label.ljust(width) + "".join(str(c).rjust(18) for c in cells))


def plot_curve(rows: list[dict], judge_clean: dict, path: Path) -> Path:
    """The attack curve: the judge's accuracy on the U-Net's reconstructions against N, per system, with
    the judge on the originals and each system's encrypted and Wiener-restored images as references."""
    curves = {f"{r['system']}: U-Net" : {int(n): v["judge_on_view2_reconstructions"]["accuracy_mean"]
                                         for n, v in r["unet"].items()} for r in rows}
    references = {"originals": judge_clean["accuracy_mean"]}
    for r in rows:
        references[f"{r['system']}: encrypted"] = r["privacy"]["judge_on_encrypted"]["accuracy_mean"]
        references[f"{r['system']}: Wiener, stolen mask"] = r["wiener_true_psf"]["judge"]["accuracy_mean"]
    return plot_attack_curve(curves, path, references)


def plot_training(rows: list[dict], path: Path) -> Path | None:
    """Training accuracy and, with ``--validation-people``, the held-out people's verification accuracy
    and AUC against the epoch, per system and split (None: nothing to plot)."""
    curves = {}
    for r in rows:
        for s in r["splits"]:
            name = f"{r['system']} {s['split']}"
            history = s["history"]
            curves[f"{name}: training accuracy"] = {h["epoch"]: h["loss"]["accuracy"] for h in history
                                                    if "accuracy" in h["loss"]}
            for key, label in (("accuracy", "validation accuracy"), ("auc", "validation AUC")):
                curves[f"{name}: {label}"] = {h["epoch"]: h["validation"][key] for h in history if "validation" in h}
    curves = {label: points for label, points in curves.items() if points}
    if not curves:
        return None
    return plot_training_curves(curves, path, "accuracy / AUC",
                                "back-end training (validation: held-out training people)")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark of ``args`` (the options of ``faceveil bench optical``); writes ``result.json``."""
    from ..cli import outputs

    out = outputs.prepare_folder(args.out, overwrite=args.overwrite,
                                 outputs=("result.json", "attack_curve.png", "training_curve.png"))
    if args.binary_epochs > args.epochs:
        raise ValueError(f"--binary-epochs {args.binary_epochs} exceeds --epochs {args.epochs}")
    if args.threads:
        torch.set_num_threads(args.threads)
    perceptual = load_lpips_alex(args.lpips_weights) if args.lpips_weights else None  # fail before training
    root = Path(args.root) if args.root else sample_root()
    splits = [lfw_protocol(root, PROTOCOL)[k - 1] for k in sorted(set(args.splits))]
    for split in splits:  # the attacker's pairs come from the training photos: check before any work
        photos = len(replace(training_source(args, split), min_images=1).training_photos(split))
        if max(args.attack_pairs) > photos:
            raise ValueError(f"--attack-pairs {max(args.attack_pairs)}: split {split.name} has only {photos} "
                             "training photos to draw the attacker's pairs from")
    t0 = time.perf_counter()
    test = pair_faces([pair for split in splits for pair in split.test_pairs], args.image_size, args)
    judges = {"judge": (DlibTorchEmbedder(device=args.device), args.judge_folds)}
    other = second_judge(args)
    if other is not None:
        judges["second_judge"] = (other, args.second_judge_folds)
    faces, a, b, labels, folds = test
    clean = judged(judges, faces.images(), test, None)
    judge_clean = clean["judge"]
    rows = [run_system(system, args, splits, test, judges, perceptual) for system in args.systems]
    print_table(rows, judge_clean)
    result = {
        "protocol": {"name": PROTOCOL, "splits": [s.record() for s in splits],
                     "note": "each View 2 pair is scored by the model of the split that did not train on its people"},
        "data": {"root": str(root.resolve()), "embedded_sample": args.root is None, "view2_images": len(faces),
                 "view2_pairs": len(labels), "view2_fallbacks": faces.fallbacks},
        "settings": {k: v for k, v in vars(args).items() if k not in ("func", "bench_module")},
        "seconds": time.perf_counter() - t0, "judge_on_originals": judge_clean,
        "judges": {key: {"name": judge.name, "model_key": judge.model_key(), "folds": folds,
                         "in_training_loop": key == "judge" and (args.distill > 0 or args.backbone == "dlib-resnet")}
                   for key, (judge, folds) in judges.items()},
        **({"second_judge_on_originals": clean["second_judge"]} if "second_judge" in clean else {}),
        "derived_table_1": table_1(),
        "paper": {"table_1": PAPER_TABLE_1, **{k: v for k, v in PAPER.items() if k != "unet"},
                  "unet": {str(k): v for k, v in PAPER["unet"].items()}},
        "systems": [{**r, "unet": {str(k): v for k, v in r["unet"].items()}} for r in rows],
        "provenance": provenance(data={"root": str(root.resolve())}, protocol={"name": PROTOCOL}, seed=args.seed),
    }
    write_json(out / "result.json", result)
    curve = plot_curve(rows, judge_clean, out / "attack_curve.png")
    training = plot_training(rows, out / "training_curve.png")
    print(f"wrote {out / 'result.json'}, {curve}{f' and {training}' if training else ''} ({result['seconds']:.0f} s)")
    return 0
