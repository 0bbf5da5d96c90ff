"""The preprocessing of the npm face models, found by measurement on LFW View 1 DevTest.

Each photo is detected and fitted with dlib's 68 landmarks once, then cut into every candidate crop at
the models' input sizes (112 and 224): the ArcFace template, dlib's chip with padding 0.25, and the
detector's box widened by 25 % of its side (the crop of detector-only pipelines). The search is staged
per model, one factor at a time from the best setting so far: (1) the input range ([0, 1], [0, 255],
[-1, 1]) on dlib's chip in RGB without flip, (2) the other two crops, (3) BGR, (4) flip averaging; then, for
the two leading models only, (5) the other crops with the best channel order and flip, and (6) paddings
0.1 and 0.4 of the dlib chip and of the box. Each setting is scored by the 10-fold accuracy of the
DevTest pairs (folds interleaved: pair i is in fold i mod 10, 50 genuine + 50 impostor pairs each; the
threshold is chosen on the other nine), with AUC, EER and the mean genuine / impostor cosines (a model
whose cosines all sit near 1 needs many digits to threshold). DevTest's people are disjoint from
DevTrain's; faceveil trained none of these models (their upstream training data are not known to
exclude LFW's people).

Run of docs/benchmarks.md:
    faceveil bench judge-search --root ../shared/data/lfw --out results/judge-search
Per-setting embeddings are kept in ``--out``/embeddings: a second run resumes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.images import load_rgb
from ..data.lfw import LFW
from ..eval.verification import auc, eer, kfold_accuracy, pair_scores, roc_curve
from ..faces.align import FaceAligner
from ..provenance import provenance
from ..recognition.base import AlignmentSpec
from ..recognition.npm_models import CROPS, VALUE_RANGES, NpmFaceEmbedder, Preprocessing
from ..recognition.tfjs.models import MODELS, face_model
from ..report.io import write_json

OUTPUTS = ("result.json", "table.md")
#: the candidate crops: method -> padding
CROP_PADDING = {"template": 0.0, "dlib-chip": 0.25, "box": 0.25}
#: the other paddings of the dlib chip and the box tried for the leading models (stage 6)
REFINE_PADDINGS = (0.1, 0.4)
#: how many of the best models get stages 5 and 6
REFINED_MODELS = 2
FOLDS = 10


def dev_test_pairs(root: str | Path, per_class: int | None):
    """View 1 DevTest pairs (a missing image's pair is skipped), optionally the first ``per_class``
    genuine and impostor pairs."""
    pairs = LFW(root).pairs("dev-test", on_missing="skip")
    if per_class is not None:
        pairs = [p for p in pairs if p.same][:per_class] + [p for p in pairs if not p.same][:per_class]
    return pairs


def align_all(paths: list[Path], specs: list[AlignmentSpec], detector: str, upsample: int,
              progress: bool) -> tuple[dict[AlignmentSpec, np.ndarray], np.ndarray]:
    """Chips (N, H, W, 3) uint8 of every photo under every spec (one detection per photo), and
    detected (N,) bool (False: dlib's fallback box)."""
    aligner = FaceAligner(specs[0], detector, upsample, landmarks=68)
    chips = {spec: np.zeros((len(paths), *spec.size, 3), np.uint8) for spec in specs}
    detected = np.zeros(len(paths), bool)
    for i, path in enumerate(tqdm(paths, desc="align", unit="img", disable=not progress)):
        image = np.ascontiguousarray(load_rgb(path))
        box, detected[i] = aligner.locate(image)
        shape = aligner.landmarks.shape(image, box)
        for spec in specs:
            chips[spec][i] = aligner.cut(image, box, shape, spec)
    return chips, detected


def score_setting(embeddings: np.ndarray, ia: np.ndarray, ib: np.ndarray, labels: np.ndarray) -> dict:
    """Verification figures of one setting's raw embeddings (N, D)."""
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    scores = pair_scores(unit[ia], unit[ib])
    folds = np.arange(len(scores)) % FOLDS
    k = kfold_accuracy(scores, labels, folds)
    fpr, tpr, _ = roc_curve(scores, labels)
    return {"accuracy": k.mean, "accuracy_sem": k.standard_error, "auc": auc(fpr, tpr), "eer": eer(scores, labels)[0],
            "genuine_cosine": float(scores[labels].mean()), "impostor_cosine": float(scores[~labels].mean())}


class Search:
    """Embeds and scores settings, keeping each setting's embeddings in ``folder`` (resumable)."""

    def __init__(self, chips, ia, ib, labels, folder: Path, device: str, batch_size: int, progress: bool):
        self.chips, self.ia, self.ib, self.labels = chips, ia, ib, labels
        self.folder, self.device, self.batch_size, self.progress = folder, device, batch_size, progress
        self.rows: list[dict] = []

    def run(self, model: str, pre: Preprocessing, flip: bool, stage: int) -> dict:
        embedder = NpmFaceEmbedder(model, pre, flip=flip, device=self.device, batch_size=self.batch_size)
        file = self.folder / f"{model}_{pre.key().replace('|', '_')}_flip{int(flip)}.npy"
        if file.is_file():
            emb = np.load(file)
        else:
            chips = self.chips[embedder.alignment]
            parts = []
            for start in tqdm(range(0, len(chips), self.batch_size), desc=f"{model} {pre.key()} flip={int(flip)}",
                              unit="batch", disable=not self.progress, leave=False):
                batch = torch.from_numpy(chips[start:start + self.batch_size]).permute(0, 3, 1, 2).float() / 255
                parts.append(embedder.embed_raw(batch).numpy())
            emb = np.concatenate(parts)
            np.save(file, emb)
        row = {"model": model, "stage": stage, "crop": pre.crop, "padding": pre.padding, "range": pre.value_range,
               "channels": pre.channels, "flip": flip, **score_setting(emb, self.ia, self.ib, self.labels)}
        self.rows.append(row)
        print(f"{model:<14} {pre.key():<28} flip={int(flip)}  {100 * row['accuracy']:6.2f} %  AUC {row['auc']:.4f}",
              flush=True)
        return row


def search_model(search: Search, model: str) -> dict:
    """The staged search of one model (each stage keeps the best setting so far); its best row."""
    def better(a: dict, b: dict) -> bool:
        return (a["accuracy"], a["auc"]) > (b["accuracy"], b["auc"])

    def stage(number: int, candidates) -> None:
        nonlocal best
        for pre, flip in candidates:
            row = search.run(model, pre, flip, number)
            best = row if best is None or better(row, best) else best

    def current(**change) -> Preprocessing:
        settings = {"crop": best["crop"], "padding": best["padding"], "value_range": best["range"],
                    "channels": best["channels"]} | change
        return Preprocessing(**settings)

    best = None
    stage(1, [(Preprocessing("dlib-chip", CROP_PADDING["dlib-chip"], r, "rgb"), False) for r in VALUE_RANGES])
    stage(2, [(current(crop=c, padding=CROP_PADDING[c]), False) for c in CROPS if c != "dlib-chip"])
    stage(3, [(current(channels="bgr"), False)])
    stage(4, [(current(), True)])
    return best


def refine_model(search: Search, model: str, best: dict) -> dict:
    """Stages 5-6 for the leading models: the other crops with the best channels and flip, then the
    paddings of :data:`REFINE_PADDINGS` for the two crops that have one; the best row."""
    flip = best["flip"]
    candidates = [Preprocessing(c, CROP_PADDING[c], best["range"], best["channels"]) for c in CROPS if c != best["crop"]]
    candidates += [Preprocessing(c, p, best["range"], best["channels"]) for c in ("dlib-chip", "box")
                   for p in REFINE_PADDINGS]
    for number, pres in ((5, candidates[:2]), (6, candidates[2:])):
        for pre in pres:
            row = search.run(model, pre, flip, number)
            if (row["accuracy"], row["auc"]) > (best["accuracy"], best["auc"]):
                best = row
    return best


def markdown(rows: list[dict], best: dict[str, dict]) -> str:
    lines = ["| model | stage | crop | range | channels | flip | accuracy (10-fold) | AUC | EER | mean cos genuine / impostor |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mark = " **(best)**" if best[r["model"]] is r else ""
        crop = r["crop"] + (f" {r['padding']:g}" if r["crop"] != "template" else "")
        lines.append(f"| {r['model']}{mark} | {r['stage']} | {crop} | {r['range']} | {r['channels']} | "
                     f"{'yes' if r['flip'] else 'no'} | {100 * r['accuracy']:.2f} % +- {100 * r['accuracy_sem']:.2f} | "
                     f"{r['auc']:.4f} | {100 * r['eer']:.2f} % | {r['genuine_cosine']:.4f} / {r['impostor_cosine']:.4f} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """``faceveil bench judge-search`` (options: :func:`faceveil.cli.bench._judge_search`)."""
    from ..cli import outputs

    models = args.models
    for model in models:
        NpmFaceEmbedder(model)  # not installed: say so before any work
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS, inputs=[args.root])
    pairs = dev_test_pairs(args.root, args.pairs)
    paths = list(dict.fromkeys(p for pair in pairs for p in (pair.path_a, pair.path_b)))
    index = {p: i for i, p in enumerate(paths)}
    ia = np.array([index[p.path_a] for p in pairs])
    ib = np.array([index[p.path_b] for p in pairs])
    labels = np.array([p.same for p in pairs], bool)
    sizes = sorted({face_model(m).input_size for m in models})
    specs = [Preprocessing(crop, padding).alignment(size) for size in sizes for crop in CROPS
             for padding in {CROP_PADDING[crop], *(REFINE_PADDINGS if crop != "template" else ())}]
    progress = not args.quiet
    torch.set_num_threads(args.threads)
    chips, detected = align_all(paths, specs, args.detector, args.upsample, progress)
    folder = out / "embeddings"
    folder.mkdir(exist_ok=True)
    search = Search(chips, ia, ib, labels, folder, args.device, args.batch_size, progress)
    best = {model: search_model(search, model) for model in models}
    leaders = sorted(best, key=lambda m: (best[m]["accuracy"], best[m]["auc"]), reverse=True)[:REFINED_MODELS]
    for model in leaders:
        best[model] = refine_model(search, model, best[model])
    winner = max(best.values(), key=lambda r: (r["accuracy"], r["auc"]))
    (out / "table.md").write_text(markdown(search.rows, best))
    write_json(out / "result.json", {
        "protocol": f"LFW View 1 DevTest, {len(pairs)} pairs, 10-fold (pair i in fold i mod 10)",
        "images": len(paths), "fallbacks": int((~detected).sum()),
        "rows": search.rows, "best": best, "judge2": winner["model"],
        "provenance": provenance(data={"root": str(Path(args.root).resolve()), "view": "dev-test"}, seed=None,
                                 models={m: MODELS[m].sha256 for m in models}),
    })
    print(markdown(search.rows, best))
    print(f"best: {winner['model']} ({100 * winner['accuracy']:.2f} %); wrote {out / 'result.json'}")
    return 0
