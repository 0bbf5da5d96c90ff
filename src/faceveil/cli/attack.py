"""``faceveil attack deconv``: reconstruct faces from optically encrypted images (U-Net or Wiener)."""

from __future__ import annotations

import argparse

from . import outputs
from .options import POSITIVE_FLOAT, add_device, add_overwrite, add_quiet, int_at_least


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="attack", required=True, metavar="ATTACK")
    a = sub.add_parser(
        "deconv", help="deconvolution attack on optically encrypted faces (U-Net or Wiener)",
        description="Reconstruct faces from encrypted images. unet: blind, trained on half of N (encrypted, "
                    "original) pairs and measured on the other half; wiener: non-blind, with the true PSF of "
                    "--checkpoint, measured on all pairs. Pairs are matched by relative path; the originals are "
                    "the aligned faces that 'faceveil protect optical --scenes DIR' writes.")
    a.add_argument("--encrypted", required=True, help="folder of encrypted images (faceveil protect optical --out)")
    a.add_argument("--original", required=True, help="folder of the originals (faceveil protect optical --scenes)")
    a.add_argument("--out", required=True, help="output folder: result.json, reconstructed/, unet.pt")
    a.add_argument("--method", choices=("unet", "wiener"), default="unet")
    a.add_argument("--pairs", type=int_at_least(2), default=None,
                   help="N pairs the attacker holds (default: all, made even)")
    a.add_argument("--epochs", type=int_at_least(1), default=100, help="U-Net training epochs")
    a.add_argument("--batch-size", type=int_at_least(2), default=8)
    a.add_argument("--seed", type=int_at_least(0), default=0, help="pair selection and training")
    a.add_argument("--checkpoint", default=None,
                   help="wiener: the optical model whose PSF the attacker knows (default: the shipped camera)")
    a.add_argument("--nsr", type=POSITIVE_FLOAT, default=1e-2, help="wiener: noise-to-signal power ratio")
    a.add_argument("--unverified-camera", action="store_true",
                   help="wiener: deconvolve even when --encrypted has no result.json of 'faceveil protect optical' "
                        "naming the camera (its digest is checked against --checkpoint otherwise)")
    a.add_argument("--unet", default=None,
                   help="unet: apply the U-Net trained by 'faceveil train deconv' (unet.pt) to every pair instead "
                        "of training one on half of them; it refuses pairs of people it trained on (a person is "
                        "an image's folder, or the Name of an LFW file Name_0001)")
    a.add_argument("--allow-seen-identities", action="store_true",
                   help="--unet: measure the U-Net even on people it trained on (recorded in result.json)")
    add_device(a, default="cpu")
    add_overwrite(a)
    add_quiet(a)
    a.set_defaults(func=run_deconv)


def matched_pairs(encrypted_dir, original_dir) -> list:
    """(encrypted file, original file, relative path) for every image under ``encrypted_dir``; the original
    has the same path relative to ``original_dir``. Raises ``FileNotFoundError`` naming the first encrypted
    image without an original."""
    from pathlib import Path

    from ..data.folders import expand_inputs

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
                                    "relative path; write the originals with 'faceveil protect optical --scenes')")
        pairs.append((path, original, relative))
    return pairs


def _person(relative) -> str:
    """The person of an image: its folder (identity folders), else the LFW file name ``Name_0001``."""
    return relative.parent.name if relative.parent.name else relative.stem.rsplit("_", 1)[0]


def _load_images(paths, what: str):
    from ..data.images import load_rgb, to_tensor

    arrays = [load_rgb(p) for p in paths]
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        raise ValueError(f"all {what} images must have one size, found {sorted(sizes)}")
    return to_tensor(arrays)


def check_camera(encrypted_dir, model, checkpoint, unverified: bool) -> dict | None:
    """Refuse a Wiener attack with a camera that did not make the images: the ``result.json`` that
    ``faceveil protect optical`` wrote beside them names the camera's digest. Returns that record (None
    when the folder has none and ``unverified`` allows it)."""
    import json
    from pathlib import Path

    from ..protect.optical.model import camera_digest

    manifest = Path(encrypted_dir) / "result.json"
    record = None
    if manifest.is_file():
        try:
            record = json.loads(manifest.read_text()).get("camera")
        except (json.JSONDecodeError, AttributeError):
            record = None
    if record is None:
        if unverified:
            return None
        raise ValueError(f"--method wiener: {manifest} does not name the camera that made the images (write them "
                         "with 'faceveil protect optical', or pass --unverified-camera to deconvolve anyway)")
    if record.get("digest") != camera_digest(model):
        raise ValueError(f"--checkpoint {checkpoint} is not the camera that made these images (they were made by "
                         f"{record.get('checkpoint')}, a {record.get('system')} camera): Wiener needs the true PSF")
    return record


def run_deconv(args) -> int:
    import torch

    from ..attack.deconv import (AttackConfig, load_attack, reconstruct, reconstruction_quality, save_attack,
                                 train_unet_attack, wiener_deconvolution)
    from ..config import to_dict
    from ..data.images import save_png, to_grey
    from ..protect.optical import packaged_checkpoint
    from ..protect.optical.model import load_checkpoint
    from ..provenance import provenance
    from ..report.io import write_json

    pairs = matched_pairs(args.encrypted, args.original)
    config = None
    if args.unet is not None and args.method != "unet":
        raise ValueError("--unet applies a trained U-Net: it goes with --method unet")
    unet, trained_config, payload = load_attack(args.unet) if args.unet is not None else (None, None, None)
    seen = None
    if unet is not None:
        from ..data.identities import UNKNOWN_IDENTITIES, check_unseen

        record = ((payload.get("provenance") or {}).get("protocol") or {}).get("train_identities")
        seen = check_unseen(record or UNKNOWN_IDENTITIES, {_person(rel) for _, _, rel in pairs},
                            allow=args.allow_seen_identities, what=f"the U-Net {args.unet}")
    if args.method == "unet" and args.unet is None:
        n_pairs = args.pairs if args.pairs is not None else len(pairs) - len(pairs) % 2
        config = AttackConfig(pairs=n_pairs, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
        if config.pairs > len(pairs):
            raise ValueError(f"--pairs {config.pairs} exceeds the {len(pairs)} pairs found")
    checkpoint = None
    if args.method == "wiener":
        checkpoint = args.checkpoint or packaged_checkpoint()
        if checkpoint is None:
            raise ValueError("--method wiener deconvolves with the true PSF: pass --checkpoint of the encoder's model")
    trains = args.method == "unet" and args.unet is None
    names = ("result.json", "reconstructed") + (("unet.pt",) if trains else ())
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=names,
                                 inputs=[args.encrypted, args.original])
    if checkpoint is not None:  # the output folder is checked first; an empty one is removed on error
        camera, _ = load_checkpoint(checkpoint)
        check_camera(args.encrypted, camera, checkpoint, args.unverified_camera)
    encrypted = _load_images([e for e, _, _ in pairs], "encrypted")
    originals = _load_images([o for _, o, _ in pairs], "original")
    if encrypted.shape != originals.shape:
        raise ValueError(f"encrypted images are {tuple(encrypted.shape[-2:])}, originals "
                         f"{tuple(originals.shape[-2:])}: they must have the same size")
    if unet is not None:
        if unet.down[0][0].in_channels == 1:  # a U-Net trained against a grey camera
            encrypted, originals = to_grey(encrypted), to_grey(originals)
        index = torch.arange(len(pairs))
        restored = reconstruct(unet, encrypted)
        settings = {"unet": str(args.unet), "trained": to_dict(trained_config)}
    elif trains:
        result = train_unet_attack(encrypted, originals, config, progress=not args.quiet, device=args.device)
        index = result.eval_index
        restored = reconstruct(result.model, encrypted[index])
        save_attack(out / "unet.pt", result, config)
        settings = {"pairs": config.pairs, "train_pairs": config.pairs // 2, "epochs": config.epochs,
                    "seed": config.seed}
    else:
        index = torch.arange(len(pairs))
        restored = wiener_deconvolution(encrypted, camera.encoder.response().detach(), args.nsr)
        settings = {"nsr": args.nsr, "checkpoint": str(checkpoint)}
    quality = reconstruction_quality(restored, originals[index])
    for image, i in zip(restored, index.tolist()):
        save_png(image, out / "reconstructed" / pairs[i][2].with_suffix(".png"))
    write_json(out / "result.json", {"method": args.method, "pairs_found": len(pairs), **quality, "attack": settings,
                                     "identities": seen,
                                     "evaluated": [str(pairs[i][2]) for i in index.tolist()],
                                     "provenance": provenance(seed=args.seed)})
    print(f"{args.method}: PSNR {quality['psnr_mean']:.2f} dB, SSIM {quality['ssim_mean']:.3f} over {quality['n']} "
          f"evaluated pair(s); wrote {out / 'result.json'} and {out / 'reconstructed'}")
    return 0
