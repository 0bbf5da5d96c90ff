"""Plot the judges' LFW View 2 ROCs beside curves published by LFW participants.

Reads the ROC points of one or more ``faceveil eval lfw`` results and the published curve files of ``--rocs``
(LFW's ``roc-files``: dlib's own curve, DeepFace, DeepID2, human performance on the tight crop), and
writes one log-FPR plot, ``roc.png``, and ``result.json`` into ``--out``.

Run of docs/benchmarks.md (the figure is then copied to docs/img/lfw_roc.png):
    faceveil bench lfw-roc runs/lfw-default/result.json --out runs/lfw-roc
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from ..provenance import provenance
from ..report.io import write_json
from ..report.plots import plot_roc
from ..report.published_roc import read_published_roc

OUTPUTS = ("result.json", "roc.png")
#: label -> file of LFW's roc-files
PUBLISHED = {
    "dlib ResNet v1 (published, 99.38 %)": "dlib_LFW_roc_curve.txt",
    "DeepFace ensemble (Taigman 2014)": "deepface_ensemble.txt",
    "DeepID2 (Sun 2014)": "YiSun_DeepID2.txt",
    "humans, tight crop (Kumar 2009)": "kumar_human_crop.txt",
}


def run(args: argparse.Namespace) -> int:
    """``faceveil bench lfw-roc`` (options: :func:`faceveil.cli.bench._lfw_roc`)."""
    from ..cli import outputs

    curves, ours = {}, []
    for source in map(Path, args.results):
        result = json.loads(source.read_text())
        try:
            label = f"faceveil: {result['model']['name']} on this LFW copy ({100 * result['accuracy_mean']:.2f} %)"
            curves[label] = (np.array(result["roc"]["fpr"]), np.array(result["roc"]["tpr"]))
        except (KeyError, TypeError):
            raise ValueError(f"{source}: not a result.json of faceveil eval lfw (needs model.name, accuracy_mean, "
                             "roc.fpr and roc.tpr)") from None
        ours.append({"label": label, "result": str(source.resolve()), "accuracy_mean": result["accuracy_mean"]})
    rocs = Path(args.rocs)
    missing = [file for file in PUBLISHED.values() if not (rocs / file).is_file()]
    if missing:
        raise FileNotFoundError(f"--rocs {rocs}: missing the published curve(s) {', '.join(missing)}")
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=OUTPUTS, inputs=[rocs])
    for name, file in PUBLISHED.items():
        curves[name] = read_published_roc(rocs / file)
    figure = plot_roc(curves, out / "roc.png", title="LFW View 2 ROC", overwrite=True)
    print(figure)
    record = {"figure": figure.name, "ours": ours,
              "curves": {name: {"file": file, "points": int(len(curves[name][0]))} for name, file in PUBLISHED.items()},
              "provenance": provenance(data={"results": [o["result"] for o in ours], "rocs": str(rocs.resolve())},
                                       seed=None)}
    write_json(out / "result.json", record)
    print(f"wrote {out / 'result.json'}")
    return 0
