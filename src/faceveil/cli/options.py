"""Options shared by the commands, defined once: model and alignment, device, quiet, on-error, seeds.

Nothing heavy is imported at the top of this module (``--help`` must stay instant); the builders that
need torch or dlib import them when called.
"""

from __future__ import annotations

import argparse
import math
import os

#: the settings that won the LFW ablation (docs/benchmarks.md); the defaults of every command
DEFAULTS = {"detector": "hog", "upsample": 1, "landmarks": 68, "flip": True, "jitter": 0, "metric": "cosine"}
MODEL_HELP = ("embedder: dlib (the native reference judge), dlib-torch (the same network in PyTorch), "
              "judge2 (the second, independent judge; faceveil models install it first), an npm face model by "
              "name (faceveil models list), onnx:PATH (an ONNX model you own) or checkpoint:PATH (a model "
              "trained by faceveil train)")
DETECTORS = ("hog", "cnn", "hog+cnn")


class UserError(Exception):
    """A mistake of the user (a bad value, a missing file, an output in the way): one line, exit 2."""


def int_in(minimum: int, maximum: int | None = None):
    """argparse type: an integer in [``minimum``, ``maximum``] (no upper bound when None)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bounds = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
            raise argparse.ArgumentTypeError(f"must be an integer {bounds}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}" if maximum is None else f"integer in [{minimum}, {maximum}]"
    return parse


def int_at_least(minimum: int):
    """argparse type: an integer >= ``minimum``."""
    return int_in(minimum)


def float_in(low: float, high: float, *, open_low: bool = False, open_high: bool = False):
    """argparse type: a finite number in the interval from ``low`` to ``high`` (open or closed ends)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        too_low = value <= low if open_low else value < low
        too_high = value >= high if open_high else value > high
        if not math.isfinite(value) or too_low or too_high:
            interval = f"{'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"
            raise argparse.ArgumentTypeError(f"must be a number in {interval}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


POSITIVE_FLOAT = float_in(0, math.inf, open_low=True, open_high=True)
COSINE_THRESHOLD = float_in(-1, 1)


def add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_overwrite(p: argparse.ArgumentParser) -> None:
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")


def add_on_error(p: argparse.ArgumentParser) -> None:
    p.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                   help="an unreadable image: stop (fail, the default) or skip it, listing it in the result")


def add_device(p: argparse.ArgumentParser, default: str | None = None) -> None:
    p.add_argument("--device", default=default,
                   help="torch device, e.g. cpu or cuda:0 (default: cpu; the native dlib judge runs on the CPU only)")


def add_model_options(p: argparse.ArgumentParser, judge_only: bool = False) -> None:
    """The embedder and its alignment: ``--model``, detector, landmarks, flip, jitter, workers, cache."""
    g = p.add_argument_group("model and alignment")
    g.add_argument("--model", default="dlib", help="dlib, dlib-torch or judge2" if judge_only else MODEL_HELP)
    g.add_argument("--detector", choices=DETECTORS, default=DEFAULTS["detector"],
                   help="face detector (hog+cnn: the CNN only where HOG finds no face)")
    g.add_argument("--upsample", type=int_at_least(0), default=DEFAULTS["upsample"],
                   help="detector upsampling, 0-3 (default 1)")
    g.add_argument("--landmarks", type=int, choices=(5, 68), default=DEFAULTS["landmarks"],
                   help="dlib landmark model used for the dlib chip (the template alignment always uses 68; "
                        "a checkpoint model uses the one it trained with)")
    g.add_argument("--flip", action=argparse.BooleanOptionalAction, default=DEFAULTS["flip"],
                   help="average the embeddings of each chip and its mirror image")
    g.add_argument("--jitter", type=int_at_least(0), default=DEFAULTS["jitter"],
                   help="dlib num_jitters: mean embedding of K jittered chips (dlib, dlib-torch)")
    g.add_argument("--workers", type=int_at_least(1), default=min(2, os.cpu_count() or 1),
                   help="processes for the native dlib judge")
    add_device(g)
    g.add_argument("--cache", default=None, help="embedding cache file (default: the user cache directory)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    g.add_argument("--batch-size", type=int_at_least(1), default=32, help="chips per model call")
    add_quiet(p)
    p.set_defaults(preflight=check_model_options)


def check_model_options(args) -> None:
    """Refuse combinations argparse cannot see: a device for the CPU-only native judge, upsampling > 3."""
    if args.upsample > 3:
        raise UserError(f"--upsample must be 0-3, got {args.upsample}")
    if args.model == "dlib" and args.device not in (None, "cpu"):
        raise UserError(f"--device {args.device}: the native dlib judge runs on the CPU only; "
                        "use --model dlib-torch for a torch device")
    if args.cache is not None and args.no_cache:
        raise UserError("--cache and --no-cache contradict each other")


def build_judge(args):
    """(embedder, aligner, cache) of the model options; raises :class:`UserError` on bad settings."""
    from ..faces.align import FaceAligner
    from ..recognition.cache import EmbeddingCache
    from ..recognition.registry import make_embedder

    check_model_options(args)
    embedder = make_embedder(args.model, flip=args.flip, jitter=args.jitter, workers=args.workers,
                             device=args.device or "cpu")
    aligner = FaceAligner(embedder.alignment, args.detector, args.upsample, embedder.landmarks or args.landmarks)
    cache = None if args.no_cache else EmbeddingCache(args.cache)
    return embedder, aligner, cache
