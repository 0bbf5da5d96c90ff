"""``faceveil train optical``, ``faceveil protect optical`` and ``faceveil attack deconv`` (docs/optical.md).

    faceveil train optical --config FILE.json [--out DIR] [--device DEV] [--overwrite] [--quiet]
    faceveil protect optical [--checkpoint FILE] INPUT... --out DIR [--scenes DIR] [--seed S]
                             [--detector hog|cnn|hog+cnn] [--overwrite] [--quiet]
    faceveil attack deconv --encrypted DIR --original DIR --out DIR [--method unet|wiener] [--pairs N]
                           [--epochs E] [--batch-size B] [--seed S] [--checkpoint FILE] [--nsr X]
                           [--overwrite] [--quiet]

Contract with ``cli.py`` (as for ``cli_dp``): ``cli.py`` creates the shared commands ``protect``,
``train`` and ``attack`` and hands their sub-command registries to :func:`register`. Every ``func(args)``
returns an exit status and raises ``ValueError``/``FileNotFoundError`` for user errors (``cli.main``
prints them as one line, status 2). Nothing is written before the inputs, options and outputs are checked.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import torch
from PIL import Image
from tqdm.auto import tqdm

from . import __version__
from ._checks import check_outside
from .data.folders import expand_inputs, output_names
from .data.images import load_rgb, to_tensor, to_uint8
from .protect.optical import packaged_checkpoint
from .attack.deconv import (AttackConfig, reconstruct, reconstruction_quality, save_attack, train_unet_attack,
                                     wiener_deconvolution)
from .protect.optical.chips import align_photos, scene_aligner, scenes_from_chips
from .protect.optical.model import load_checkpoint
from .protect.optical.train import load_train_config, train


def register(protect_subparsers, train_subparsers, attack_subparsers) -> None:
    """Add ``optical`` to ``faceveil protect`` and ``faceveil train``, and ``deconv`` to ``faceveil attack``
    (each argument an ``add_subparsers()`` object)."""
    t = train_subparsers.add_parser(
        "optical", help="train an optical encoder (MEM-FR, LOEN) end to end with its recognition network",
        description="Train the mask and the back-end of seed 000 (Eq. 5) from a JSON configuration; "
                    "resumes an interrupted run in the same output folder.")
    t.add_argument("--config", required=True, help="JSON file of a TrainConfig (docs/optical.md)")
    t.add_argument("--out", default=None, help="output folder (default: out_dir of the configuration)")
    t.add_argument("--device", default=None, help="torch device (default: device of the configuration)")
    t.add_argument("--overwrite", action="store_true", help="restart even if the output folder holds a run")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=cmd_train_optical)

    p = protect_subparsers.add_parser(
        "optical", help="optical encryption (seed 000): simulate a trained MEM-FR/LOEN camera",
        description="Align each face, pass it through a trained optical encoder (mask, optics, sensor) and "
                    "write the sensor image as PNG with a JSON sidecar.")
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--checkpoint", default=None,
                   help="model.pt written by 'faceveil train optical' (default: the shipped MEM-FR camera)")
    p.add_argument("--out", required=True, help="output folder of the encrypted images (outside every input folder)")
    p.add_argument("--scenes", default=None, help="also write the aligned faces the camera saw (attack pairs)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sensor noise")
    p.add_argument("--detector", choices=("hog", "cnn", "hog+cnn"), default="hog", help="face detector")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_protect_optical)

    a = attack_subparsers.add_parser(
        "deconv", help="deconvolution attack on optically encrypted faces (U-Net or Wiener)",
        description="Reconstruct faces from encrypted images. unet: blind, trained on half of N (encrypted, "
                    "original) pairs and measured on the other half; wiener: non-blind, with the true PSF "
                    "of --checkpoint, measured on all pairs. Pairs are matched by relative path.")
    a.add_argument("--encrypted", required=True, help="folder of encrypted images (faceveil protect optical --out)")
    a.add_argument("--original", required=True, help="folder of the originals (faceveil protect optical --scenes)")
    a.add_argument("--out", required=True, help="output folder: result.json, reconstructed/, unet.pt")
    a.add_argument("--method", choices=("unet", "wiener"), default="unet")
    a.add_argument("--pairs", type=int, default=None, help="N pairs the attacker holds (default: all, made even)")
    a.add_argument("--epochs", type=int, default=100, help="U-Net training epochs")
    a.add_argument("--batch-size", type=int, default=8)
    a.add_argument("--seed", type=int, default=0, help="pair selection and training")
    a.add_argument("--checkpoint", default=None, help="wiener: the model whose PSF the attacker knows")
    a.add_argument("--nsr", type=float, default=1e-2, help="wiener: noise-to-signal power ratio")
    a.add_argument("--device", default="cpu", help="torch device of the U-Net")
    a.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    a.add_argument("--quiet", action="store_true", help="no progress bars")
    a.set_defaults(func=cmd_attack_deconv)


def _command(args) -> str:
    return "faceveil " + " ".join(shlex.quote(a) for a in getattr(args, "argv", []))


def _save_png(image: torch.Tensor, path: Path) -> None:
    """One image (C, H, W) in [0, 1] as 8-bit PNG (grey for C = 1)."""
    array = to_uint8(image[None])[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array).save(path)


def _check_out_folder(out: Path, inputs: list[str], files: list[Path], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    check_outside(out, inputs)
    existing = [f for f in files if f.exists()]
    if existing and not overwrite:
        raise ValueError(f"{existing[0]} exists ({len(existing)} output file(s) in all); pass --overwrite to replace")


def cmd_train_optical(args) -> int:
    config = load_train_config(args.config, out_dir=args.out, device=args.device)
    result = train(config, progress=not args.quiet, overwrite=args.overwrite)
    last = result.history[-1]
    print(f"epoch {last['epoch']}: loss {last['loss']['total']:.4f} (identity {last['loss']['identity']:.4f}, "
          f"distill {last['loss']['distill']:.4f}, cosine {last['loss']['cosine']:.4f}), training accuracy "
          f"{100 * last['train_accuracy']:.1f} %, {last['seconds']:.1f} s")
    print(f"wrote {result.model_file} (deployable, binary mask), {result.checkpoint} (resume), history.json, "
          f"train_config.json, mask.png and mask.csv in {config.out_dir}")
    return 0


def cmd_protect_optical(args) -> int:
    checkpoint = Path(args.checkpoint) if args.checkpoint else packaged_checkpoint()
    if checkpoint is None:
        raise ValueError("no --checkpoint given, and this installation has no shipped optical encoder: train one "
                         "with 'faceveil train optical --config FILE' and pass --checkpoint OUT_DIR/model.pt")
    model, _ = load_checkpoint(checkpoint)
    out = Path(args.out)
    scenes_out = Path(args.scenes) if args.scenes else None
    targets = output_names(args.inputs, out)
    scene_targets = {}
    if scenes_out is not None:
        check_outside(scenes_out, args.inputs, "--scenes folder")
        if scenes_out.resolve() == out.resolve():
            raise ValueError("--scenes must differ from --out: both would hold files of the same names")
        scene_targets = {path: scenes_out / target.relative_to(out) for path, target in targets.items()}
    files = [f for t in targets.values() for f in (t, t.with_suffix(".json"))] + list(scene_targets.values())
    _check_out_folder(out, args.inputs, files, args.overwrite)
    photos = {path: load_rgb(path) for path in targets}
    config = model.config
    aligner = scene_aligner(config.encoder.image_size, args.detector)
    generator = torch.Generator().manual_seed(args.seed)
    command = _command(args)
    for path, target in tqdm(targets.items(), desc=f"protect optical ({config.encoder.system})", unit="img",
                             disable=args.quiet):
        chips, detected = align_photos([photos[path]], aligner)
        scene = scenes_from_chips(chips, config.channels)
        captured = model.encrypt(scene, generator)
        _save_png(captured[0], target)
        if scenes_out is not None:
            _save_png(scene[0], scene_targets[path])
        sidecar = {"input": str(path), "output": str(target),
                   "scene": str(scene_targets[path]) if scenes_out is not None else None,
                   "face_detected": bool(detected[0]), "checkpoint": str(checkpoint.resolve()),
                   "system": config.encoder.system, "image_size": config.encoder.image_size,
                   "sensor_seed": args.seed, "command": command, "version": __version__}
        target.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))
    print(f"wrote {len(targets)} encrypted image(s) and JSON sidecars to {out}"
          + (f", the aligned scenes to {scenes_out}" if scenes_out else "")
          + f" ({config.encoder.system}, {config.encoder.image_size} px, sensor seed {args.seed})")
    return 0


def matched_pairs(encrypted_dir: str | Path, original_dir: str | Path) -> list[tuple[Path, Path, Path]]:
    """(encrypted file, original file, relative path) for every image under ``encrypted_dir``; the original
    has the same path relative to ``original_dir``. Raises ``FileNotFoundError`` naming the first
    encrypted image without an original."""
    encrypted_dir, original_dir = Path(encrypted_dir), Path(original_dir)
    for folder, option in ((encrypted_dir, "--encrypted"), (original_dir, "--original")):
        if not folder.is_dir():
            raise FileNotFoundError(f"{option} folder not found: {folder}")
    pairs = []
    for path in expand_inputs([encrypted_dir]):
        relative = path.relative_to(encrypted_dir)
        original = original_dir / relative
        if not original.is_file():
            raise FileNotFoundError(f"no original for {relative}: {original} is missing (pairs are matched by "
                                    "relative path)")
        pairs.append((path, original, relative))
    return pairs


def _load_images(paths: list[Path], what: str) -> torch.Tensor:
    arrays = [load_rgb(p) for p in paths]
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        raise ValueError(f"all {what} images must have one size, found {sorted(sizes)}")
    return to_tensor(arrays)


def cmd_attack_deconv(args) -> int:
    out = Path(args.out)
    pairs = matched_pairs(args.encrypted, args.original)
    if args.method == "wiener" and not args.checkpoint:
        raise ValueError("--method wiener deconvolves with the true PSF: pass --checkpoint of the encoder's model")
    config = None
    if args.method == "unet":
        n_pairs = args.pairs if args.pairs is not None else len(pairs) - len(pairs) % 2
        config = AttackConfig(pairs=n_pairs, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
        if config.pairs > len(pairs):
            raise ValueError(f"--pairs {config.pairs} exceeds the {len(pairs)} pairs found")
    files = [out / "result.json"] + ([out / "unet.pt"] if args.method == "unet" else [])
    _check_out_folder(out, [args.encrypted, args.original], files + [out / "reconstructed"], args.overwrite)
    encrypted = _load_images([e for e, _, _ in pairs], "encrypted")
    originals = _load_images([o for _, o, _ in pairs], "original")
    if encrypted.shape != originals.shape:
        raise ValueError(f"encrypted images are {tuple(encrypted.shape[-2:])}, originals "
                         f"{tuple(originals.shape[-2:])}: they must have the same size")
    if args.method == "unet":
        result = train_unet_attack(encrypted, originals, config, progress=not args.quiet, device=args.device)
        index = result.eval_index
        restored = reconstruct(result.model, encrypted[index])
        save_attack(out / "unet.pt", result, config)
    else:
        model, _ = load_checkpoint(args.checkpoint)
        index = torch.arange(len(pairs))
        restored = wiener_deconvolution(encrypted, model.encoder.response().detach(), args.nsr)
    quality = reconstruction_quality(restored, originals[index])
    for image, i in zip(restored, index.tolist()):
        _save_png(image, out / "reconstructed" / pairs[i][2].with_suffix(".png"))
    settings = ({"pairs": config.pairs, "train_pairs": config.pairs // 2, "epochs": config.epochs, "seed": config.seed}
                if args.method == "unet" else {"nsr": args.nsr, "checkpoint": args.checkpoint})
    report = {"method": args.method, "pairs_found": len(pairs), **quality, "attack": settings,
              "evaluated": [str(pairs[i][2]) for i in index.tolist()],
              "command": _command(args), "version": __version__}
    (out / "result.json").write_text(json.dumps(report, indent=1))
    print(f"{args.method}: PSNR {quality['psnr_mean']:.2f} dB, SSIM {quality['ssim_mean']:.3f} over {quality['n']} "
          f"evaluated pair(s); wrote {out / 'result.json'} and {out / 'reconstructed'}")
    return 0

