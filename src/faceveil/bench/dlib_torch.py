"""dlib-torch against native dlib on LFW: parity of chips and embeddings, speed and peak memory on CPU.

Run of docs/dlib_torch.md and docs/benchmarks.md::

    faceveil bench dlib-torch --out runs/dlib-torch                # torch's default threads
    faceveil bench dlib-torch --threads 1 --out runs/dlib-torch-1thread

(options ``--lfw DIR --count 100 --seed 0 --timed 64 --threads N``)

1. ``--count`` photos drawn at random (``--seed``) from ``--lfw`` (a folder of ``<person>/*.jpg``),
   faces found with dlib's HOG detector (upsample 1) and its 5-point landmarks; the first face whose
   box is nearest the centre is kept; photos without a face are replaced by further draws.
2. Chip parity: :func:`faceveil.faces.torch_align.face_chips` (quantize on and off) against
   ``dlib.get_face_chip(photo, shape, 150, 0.25)``, in grey levels.
3. Embedding parity on dlib's own chips: :class:`DlibTorchEmbedder` against
   ``dlib.face_recognition_model_v1.compute_face_descriptor`` (raw 128-D descriptors).
4. Throughput at batch 1, 16 and 64: for each batch size, torch then native dlib, each in a fresh
   process (spawned one after the other in this run) that loads the model, embeds one warm-up batch,
   then embeds the same ``--timed`` chips batch by batch. Reported: embeddings/s, CPU seconds per wall
   second (how many cores the process really got), the resident memory added by loading the model, and
   the peak resident memory added while embedding (warm-up included). Memory is read from
   ``/proc/self/status``: VmRSS, and VmHWM after resetting the high-water mark through
   ``/proc/self/clear_refs`` (Linux >= 4.0); tracemalloc misses torch's and dlib's native allocations,
   and a fresh process keeps memory freed by earlier measurements out of the numbers.

Everything printed is also written to ``result.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.images import load_rgb, to_tensor, to_uint8
from ..faces.torch_align import face_chips
from ..model_files import dlib_model_path, require_dlib
from ..provenance import provenance
from ..recognition.dlib_resnet import DlibTorchEmbedder
from ..report.io import write_json

OUTPUTS = ("result.json",)
BATCH_SIZES = (1, 16, 64)


def status_kb(field: str) -> int:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in kB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak_memory() -> int:
    """Reset this process's resident-memory high-water mark (VmHWM) to VmRSS; return VmRSS in kB."""
    Path("/proc/self/clear_refs").write_text("5")
    return status_kb("VmRSS")


def lfw_faces(root: Path, count: int, seed: int):
    """``count`` LFW photos with a detected face: photos (N, H, W, 3) uint8, landmarks (N, 5, 2),
    dlib's chips (N, 150, 150, 3) and the file names."""
    dlib = require_dlib()
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path("landmarks5")))
    files = sorted(root.glob("*/*.jpg"))
    if not files:
        raise FileNotFoundError(f"no LFW photos (<person>/*.jpg) under {root}")
    random.Random(seed).shuffle(files)
    photos, marks, chips, names = [], [], [], []
    for path in files:
        photo = np.array(load_rgb(path))
        boxes = detector(photo, 1)
        if not boxes:
            continue
        h, w = photo.shape[:2]
        box = min(boxes, key=lambda b: (b.center().x - w / 2) ** 2 + (b.center().y - h / 2) ** 2)
        shape = predictor(photo, box)
        photos.append(photo)
        marks.append([[p.x, p.y] for p in shape.parts()])
        chips.append(dlib.get_face_chip(photo, shape, size=150, padding=0.25))
        names.append(path.name)
        if len(photos) == count:
            break
    if not photos:
        raise ValueError(f"no face detected in the photos under {root}")
    return np.stack(photos), np.array(marks, dtype=np.float64), np.stack(chips), names


def chip_parity(photos: np.ndarray, marks: np.ndarray, chips: np.ndarray) -> list[dict]:
    """Grey-level differences of the torch chips (quantize on, then off) to dlib's chips; printed too."""
    expected = chips.astype(np.float64)
    rows = []
    for quantize in (True, False):
        got = face_chips(to_tensor(photos), marks, 150, 0.25, quantize)
        grey = to_uint8(got).astype(np.float64) if quantize else got.permute(0, 2, 3, 1).double().numpy() * 255
        diff = np.abs(grey - expected)
        per_chip = diff.reshape(len(chips), -1).mean(1)
        rows.append({"quantize": quantize, "mean_abs_diff": float(diff.mean()), "worst_chip_mean": float(per_chip.max()),
                     "max_abs_diff": float(diff.max()), "fraction_differing_by_1": float((diff >= 1).mean())})
        print(f"  quantize={quantize!s:5}: mean |diff| {diff.mean():.4f} grey levels (worst chip {per_chip.max():.4f}), "
              f"max {diff.max():.2f}, pixels differing by >= 1 level: {(diff >= 1).mean():.2e}")
    return rows


def embedding_parity(torch_model: DlibTorchEmbedder, native, chips: np.ndarray) -> dict:
    """Cosine and differences of the torch embeddings to dlib's descriptors of the same chips; printed too."""
    ours = torch_model.embed_raw(to_tensor(chips))
    ref = torch.tensor(np.array([np.asarray(d) for d in native.compute_face_descriptor(list(chips))]), dtype=torch.float32)
    cosine = F.cosine_similarity(ours, ref)
    distance = (ours - ref).norm(dim=1)
    print(f"  cosine(torch, dlib): min {cosine.min().item():.8f}, mean {cosine.mean().item():.8f}")
    print(f"  max |diff| per coordinate: {(ours - ref).abs().max().item():.2e}; "
          f"max Euclidean distance {distance.max().item():.2e} (dlib's same-person threshold: 0.6)")
    return {"faces": len(chips), "cosine_min": cosine.min().item(), "cosine_mean": cosine.mean().item(),
            "max_abs_diff": (ours - ref).abs().max().item(), "max_euclidean_distance": distance.max().item()}


def load_engine(engine: str):
    """A function embedding a list of uint8 chips (N, 150, 150, 3): ``"torch"`` or ``"native"``."""
    if engine == "torch":
        model = DlibTorchEmbedder()
        return lambda chips: model.embed_raw(to_tensor(chips))
    native = require_dlib().face_recognition_model_v1(str(dlib_model_path("resnet")))
    return lambda chips: native.compute_face_descriptor(list(chips))


def measure(engine: str, batch: int, chips_file: str, threads: int | None) -> tuple[float, float, float, float]:
    """Run in a fresh process: (embeddings/s, CPU s per wall s, MB added by loading, peak MB added
    while embedding) of ``engine`` on the chips saved in ``chips_file``, ``batch`` chips per call."""
    if threads:
        torch.set_num_threads(threads)
    chips = np.load(chips_file)
    before_load = reset_peak_memory()
    embed = load_engine(engine)
    before_work = reset_peak_memory()
    embed(chips[:batch])  # warm-up
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for start in range(0, len(chips), batch):
        embed(chips[start : start + batch])
    wall = time.perf_counter() - wall0
    return (len(chips) / wall, (time.process_time() - cpu0) / wall, (before_work - before_load) / 1024,
            (status_kb("VmHWM") - before_work) / 1024)


def run(args: argparse.Namespace) -> int:
    """``faceveil bench dlib-torch`` (options: :func:`faceveil.cli.bench._dlib_torch`)."""
    from ..cli import outputs

    root = Path(args.lfw).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"--lfw {root}: no such folder (expected LFW photos as <person>/*.jpg)")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS, inputs=[root])
    if args.threads:
        torch.set_num_threads(args.threads)
    dlib = require_dlib()
    machine = {"processor": platform.processor() or platform.machine(), "torch_threads": torch.get_num_threads(),
               "torch": torch.__version__, "dlib": dlib.__version__}
    print(f"machine: {machine['processor']}, {machine['torch_threads']} torch threads, "
          f"torch {torch.__version__}, dlib {dlib.__version__}")

    t0 = time.perf_counter()
    photos, marks, chips, names = lfw_faces(root, args.count, args.seed)
    detect_seconds = time.perf_counter() - t0
    print(f"{len(chips)} LFW faces from {root} (seed {args.seed}), photos {photos.shape[1]}x{photos.shape[2]}, "
          f"detected in {detect_seconds:.1f} s")

    print("chip parity, torch face_chips vs dlib.get_face_chip:")
    chips_result = chip_parity(photos, marks, chips)

    print(f"embedding parity on dlib's chips ({len(chips)} faces):")
    embeddings_result = embedding_parity(DlibTorchEmbedder(), dlib.face_recognition_model_v1(str(dlib_model_path("resnet"))),
                                         chips)

    timed = np.concatenate([chips] * (1 + args.timed // len(chips)))[: args.timed]
    print(f"throughput on {len(timed)} chips, one fresh process per cell (embeddings/s; CPU s per wall s; "
          f"MB for the model; peak MB while embedding):")
    print(f"  {'batch':>5} | {'torch':>34} | {'native dlib':>34} | torch/native")
    spawn = multiprocessing.get_context("spawn")
    throughput = []
    with tempfile.TemporaryDirectory() as tmp:
        chips_file = str(Path(tmp) / "chips.npy")
        np.save(chips_file, timed)
        for batch in BATCH_SIZES:
            cells = []
            for engine in ("torch", "native"):
                with spawn.Pool(1) as pool:
                    cells.append(pool.apply(measure, (engine, batch, chips_file, args.threads)))
            row = [f"{r:6.1f}/s {u:4.2f} cpu {lm:4.0f} MB {wm:5.0f} MB" for r, u, lm, wm in cells]
            print(f"  {batch:>5} | {row[0]:>34} | {row[1]:>34} | {cells[0][0] / cells[1][0]:.2f}x", flush=True)
            throughput.append({"batch_size": batch, "torch_over_native": cells[0][0] / cells[1][0],
                               **{engine: {"embeddings_per_s": r, "cpu_per_wall": u, "model_mb": lm, "peak_mb": wm}
                                  for engine, (r, u, lm, wm) in zip(("torch", "native"), cells)}})

    data = {"root": str(root.resolve()), "photos": names, "photo_size": list(photos.shape[1:3])}
    result = {"settings": {"count": args.count, "timed": len(timed), "threads": args.threads,
                           "detector": "hog", "upsample": 1, "landmarks": 5, "chip_size": 150, "padding": 0.25},
              "machine": machine, "faces": len(chips), "detect_seconds": detect_seconds,
              "chip_parity": chips_result, "embedding_parity": embeddings_result, "throughput": throughput,
              "provenance": provenance(data=data, seed=args.seed)}
    write_json(out / "result.json", result)
    print(f"wrote {out / 'result.json'}")
    return 0
