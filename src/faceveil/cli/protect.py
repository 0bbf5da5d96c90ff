"""``faceveil protect dp|optical``: protected copies of face photos, with a check that they protect.

The output folder gets a ``result.json`` that lists, per image, whether a face was found, how many
pixels changed (DP) and the reference judge's cosine between the protected image and the original. A DP
release also gets a JSON sidecar per image (what its recipient may know, docs/dp.md); optical images get
none: their one manifest is ``result.json`` (with the digest of the camera that made them), so tools that
read image folders see images only. A protection that leaves the face as it was is said so on the
console: a photo the noise did not change, or one the judge still matches to its original.
"""

from __future__ import annotations

import argparse

from . import outputs, protect_dp
from .options import DETECTORS, add_on_error, add_overwrite, add_quiet, int_at_least

#: the judges that can check a protection
JUDGES = ("dlib", "dlib-torch", "judge2", "none")
#: a protected image that differs from its original in fewer pixels than this fraction is reported
UNCHANGED_FRACTION = 0.01


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", help="image files or folders (searched recursively)")
    p.add_argument("--out", required=True, help="output folder (outside every input folder)")
    p.add_argument("--detector", choices=DETECTORS, default="hog", help="face detector")
    p.add_argument("--judge", choices=JUDGES, default="dlib",
                   help="reference judge that measures each protected image against its original (none: skip)")
    add_overwrite(p)
    add_on_error(p)
    add_quiet(p)


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="protection", required=True, metavar="PROTECTION")
    protect_dp.register(sub)

    optical = sub.add_parser(
        "optical", help="optical encryption: simulate a trained MEM-FR or LOEN camera",
        description="Align each face, pass it through a trained optical encoder (mask, optics, sensor; "
                    "docs/optical.md) and write the sensor image as PNG; result.json beside them lists every "
                    "image and the camera's digest (which 'attack deconv --method wiener' checks).")
    optical.add_argument("--checkpoint", default=None,
                         help="model.pt written by 'faceveil train optical' (default: the shipped MEM-FR camera)")
    optical.add_argument("--scenes", default=None,
                         help="also write the aligned faces the camera saw (the originals of an attack)")
    optical.add_argument("--seed", type=int_at_least(0), default=0, help="seed of the sensor noise")
    add_common(optical)
    optical.set_defaults(func=run_optical)


class Report:
    """Per-image facts of a protection run, the console warnings and the run's result.json."""

    def __init__(self, args, judge_name: str) -> None:
        self.quiet = args.quiet
        self.rows: list[dict] = []
        self.judge = None
        if judge_name != "none":
            from ..recognition.registry import make_embedder

            from ..data.chips import check_chip_judge

            self.judge = make_embedder(judge_name, flip=True)
            check_chip_judge(self.judge, f"--judge {judge_name}")

    def similarity(self, original, protected) -> float | None:
        """The judge's cosine between two aligned RGB chips (1, 3, S, S) in [0, 1], resampled to its input."""
        if self.judge is None:
            return None
        import torch.nn.functional as F

        from ..data.chips import judge_view

        import torch

        pair = torch.cat([x.expand(-1, 3, -1, -1) for x in (original, protected)])  # grey -> RGB
        a, b = self.judge.embed(judge_view(pair, self.judge.alignment.size))
        return float(F.cosine_similarity(a[None], b[None])[0])

    def add(self, row: dict, name: str) -> None:
        """Record one image's row; ``name`` (the input, for the console only) names it in warnings."""
        self.rows.append(row)
        if not row["face_detected"]:
            print(f"warning: no face detected in {name}: protected the centred fallback box")
        changed = row.get("pixels_changed_fraction")
        if changed is not None and changed < UNCHANGED_FRACTION:
            print(f"warning: {name}: only {row['pixels_changed']} pixels changed ({100 * changed:.2f} %): "
                  "the protected image is nearly the original")
        score = row.get("judge_similarity")
        if score is not None and self.judge.verification_threshold is not None \
                and score >= self.judge.verification_threshold:
            print(f"warning: {name}: the judge still matches the protected image to the original "
                  f"(cosine {score:.4f} >= threshold {self.judge.verification_threshold:.3f})")

    def summary(self) -> dict:
        rows = self.rows
        threshold = None if self.judge is None else self.judge.verification_threshold
        scores = [r["judge_similarity"] for r in rows if r.get("judge_similarity") is not None]
        return {"images": len(rows), "no_face": sum(not r["face_detected"] for r in rows),
                "judge": None if self.judge is None else {"name": self.judge.name, "threshold": threshold},
                "judge_matches_original": None if threshold is None else sum(s >= threshold for s in scores),
                "nearly_unchanged": sum(r.get("pixels_changed_fraction") is not None
                                        and r["pixels_changed_fraction"] < UNCHANGED_FRACTION for r in rows)}


def read_photos(paths, on_error: str) -> tuple[dict, dict]:
    """path -> RGB uint8 photo, and path -> reason for the photos that ``--on-error skip`` left out."""
    from ..data.images import ImageReadError, load_rgb

    photos, skipped = {}, {}
    for path in paths:
        try:
            photos[path] = load_rgb(path)
        except ImageReadError as err:
            if on_error == "fail":
                raise
            skipped[path] = str(err)
    return photos, skipped


def finish(out, report: Report, skipped: dict, what: str, provenance_record: dict, keep_names: bool = True,
           extra: dict | None = None, sidecars: bool = True) -> None:
    """Write the run's result.json (the skipped inputs by path only with ``keep_names``) and say what was
    done, with the count of photos without a detected face."""
    from ..report.io import write_json
    from .embed import report_skipped

    summary = report.summary()
    listed = {str(k): v for k, v in skipped.items()} if keep_names else len(skipped)
    write_json(out / "result.json", {**summary, **(extra or {}), "per_image": report.rows, "skipped": listed,
                                     "provenance": provenance_record})
    report_skipped(skipped)
    if summary["judge_matches_original"]:
        print(f"{summary['judge_matches_original']} of {summary['images']} protected image(s) are still matched "
              f"to their original by the judge {summary['judge']['name']}")
    if summary["no_face"]:
        print(f"{summary['no_face']} of {summary['images']} photo(s) had no detected face: the centred fallback box "
              "was protected instead")
    also = " and their JSON sidecars" if sidecars else ""
    print(f"wrote {summary['images']} {what}{also} to {out}, and {out / 'result.json'}")


def _targets(args, sidecars: bool = True) -> tuple[dict, list[str]]:
    """input photo -> output PNG, and every name the run writes in ``--out`` (PNGs, sidecars, result.json)."""
    from ..data.folders import output_names

    out = _path(args.out)
    targets = output_names(args.inputs, out)
    suffixes = (".png", ".json") if sidecars else (".png",)
    names = [str(t.relative_to(out).with_suffix(s)) for t in targets.values() for s in suffixes]
    return targets, names + ["result.json"]


def _path(text: str):
    from pathlib import Path

    return Path(text).expanduser()


def run_optical(args) -> int:
    import torch
    from tqdm.auto import tqdm

    from ..data.chips import CHIP_PADDING, ChipSpec
    from ..data.images import save_png, to_grey, to_tensor
    from ..protect.optical import packaged_checkpoint
    from ..protect.optical.model import camera_digest, load_checkpoint
    from ..provenance import provenance

    checkpoint = _path(args.checkpoint) if args.checkpoint else packaged_checkpoint()
    if checkpoint is None:
        raise ValueError("no --checkpoint given, and this installation has no shipped optical encoder: train one "
                         "with 'faceveil train optical --config smoke --out DIR' and pass --checkpoint DIR/model.pt")
    targets, names = _targets(args, sidecars=False)
    scene_names = ()
    if args.scenes is not None:
        if _path(args.scenes).resolve() == _path(args.out).resolve():
            raise ValueError("--scenes must differ from --out: both would hold files of the same names")
        scene_names = tuple(n for n in names if n.endswith(".png"))
    model, _ = load_checkpoint(checkpoint)
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=tuple(names), inputs=args.inputs)
    scenes_out = None
    if args.scenes is not None:
        scenes_out = outputs.prepare_folder(args.scenes, option="--scenes", overwrite=args.overwrite,
                                            outputs=scene_names, inputs=args.inputs)
    photos, skipped = read_photos(list(targets), args.on_error)
    config = model.config
    size = config.encoder.image_size
    aligner = ChipSpec(size=size, padding=CHIP_PADDING, landmarks=5, detector=args.detector).aligner()
    report = Report(args, args.judge)
    generator = torch.Generator().manual_seed(args.seed)
    record = provenance(seed=args.seed, checkpoint=str(checkpoint.resolve()), system=config.encoder.system,
                        image_size=size)
    for path in tqdm(list(photos), desc=f"protect optical ({config.encoder.system})", unit="img", disable=args.quiet):
        face = aligner.align(photos[path])
        scene = to_tensor([face.chip])
        if config.channels == 1:
            scene = to_grey(scene)
        captured = model.encrypt(scene, generator)
        target = save_png(captured[0], targets[path])
        scene_file = None if scenes_out is None else save_png(scene[0], scenes_out / target.relative_to(out))
        row = {"input": str(path), "output": str(target), "scene": None if scene_file is None else str(scene_file),
               "face_detected": bool(face.detected), "judge_similarity": report.similarity(scene, captured)}
        report.add(row, str(path))
    camera = {"digest": camera_digest(model), "checkpoint": str(checkpoint.resolve()), "system": config.encoder.system,
              "image_size": size}
    finish(out, report, skipped, f"encrypted image(s) ({config.encoder.system}, {size} px, sensor seed {args.seed})",
           record, extra={"camera": camera}, sidecars=False)
    return 0
