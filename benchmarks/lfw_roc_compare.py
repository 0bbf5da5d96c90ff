"""Plot the judge's LFW View 2 ROC beside curves published by LFW participants.

Reads the ROC points of a ``faceveil eval lfw`` result and the published curve files of
``../shared/data/lfw/roc-files`` (dlib's own curve, DeepFace, DeepID2, human performance on the
tight crop), and writes one log-FPR plot.

    python benchmarks/lfw_roc_compare.py runs/lfw-best/result.json --out docs/img/lfw_roc.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from faceveil.report.plots import plot_roc
from faceveil.report.published_roc import read_published_roc

PUBLISHED = {
    "dlib ResNet v1 (published, 99.38 %)": "dlib_LFW_roc_curve.txt",
    "DeepFace ensemble (Taigman 2014)": "deepface_ensemble.txt",
    "DeepID2 (Sun 2014)": "YiSun_DeepID2.txt",
    "humans, tight crop (Kumar 2009)": "kumar_human_crop.txt",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("result", help="result.json of faceveil eval lfw")
    ap.add_argument("--rocs", default="../shared/data/lfw/roc-files")
    ap.add_argument("--out", required=True)
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args()
    result = json.loads(Path(args.result).read_text())
    label = f"faceveil: {result['model']['name']} on this LFW copy ({100 * result['accuracy_mean']:.2f} %)"
    curves = {label: (np.array(result["roc"]["fpr"]), np.array(result["roc"]["tpr"]))}
    for name, file in PUBLISHED.items():
        curves[name] = read_published_roc(Path(args.rocs) / file)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    print(plot_roc(curves, args.out, title="LFW View 2 ROC", overwrite=args.overwrite))


if __name__ == "__main__":
    main()
