"""Ship a MEM-FR model trained by ``faceveil bench optical`` as the package's default optical encoder.

Copies ``<bench out>/<system>/view2-2fold-<split>/model.pt`` (the model of one of the benchmark's two
person-disjoint trainings) to ``src/faceveil/protect/optical/weights/<system>.pt`` without its
training-only classification head (the deployed camera needs the mask and the embedding network), with
its provenance (the people it trained on, so that faceveil refuses to score it on them), and writes
``<system>.json`` beside it: the benchmark command that trained and measured it, the training
configuration, and the figures (from the benchmark's ``result.json``: the cross-fitted figures of both
trainings, and this training's own). Run from the repository root:

    python tools/ship_optical_model.py results/optical --system mem-fr --split 1 [--half]

``--half`` stores the back-end's weights in half precision (a fine-tuned dlib-resnet back-end: 11 instead
of 22 MB); they load into the float32 model (the card's figures are re-measured by the test suite only
through the sample, so use it only where the figures do not move).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from faceveil.protect.optical import PACKAGED_CHECKPOINT, load_checkpoint, save_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_out", type=Path, help="output folder of faceveil bench optical")
    ap.add_argument("--system", default="mem-fr")
    ap.add_argument("--split", type=int, default=1, choices=(1, 2), help="which of the two trainings to ship")
    ap.add_argument("--out", type=Path, default=PACKAGED_CHECKPOINT.parent)
    ap.add_argument("--half", action="store_true", help="store the back-end's weights in half precision")
    args = ap.parse_args()
    result = json.loads((args.bench_out / "result.json").read_text())
    row = next(r for r in result["systems"] if r["system"] == args.system)
    model, extra = load_checkpoint(args.bench_out / args.system / f"view2-2fold-{args.split}" / "model.pt")
    deployed = type(model)(replace(model.config, n_classes=0))
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("classifier.")}
    deployed.load_state_dict(state)
    deployed.encoder.binary = True
    args.out.mkdir(parents=True, exist_ok=True)
    target = args.out / f"{args.system}.pt"
    save_checkpoint(target, deployed.eval(), {"train_config": extra["train_config"],
                                              "provenance": extra["provenance"]})
    if args.half:
        payload = torch.load(target, weights_only=True)
        payload["state_dict"] = {k: v.half() if k.startswith("backbone.") and v.is_floating_point() else v
                                 for k, v in payload["state_dict"].items()}
        torch.save(payload, target)
        load_checkpoint(target)  # the half-precision weights still make the same camera
    figures = {key: row[key] for key in ("verification", "verification_relaxed_mask", "privacy", "wiener_true_psf",
                                         "unet")}
    this_split = {k: v for k, v in row["splits"][args.split - 1].items() if k != "history"}
    this_split["curve"] = [{"epoch": h["epoch"], "training_accuracy": h["loss"].get("accuracy"),
                            **({"validation": h["validation"]} if "validation" in h else {})}
                           for h in row["splits"][args.split - 1]["history"]]
    protocol = extra["provenance"]["protocol"]
    card = {"trained_and_measured_by": result["provenance"]["command"], "version": result["provenance"]["version"],
            "data": result["data"], "protocol": {k: v for k, v in protocol.items() if k != "train_identities"},
            "train_identities": {k: v for k, v in protocol["train_identities"].items() if k != "names"},
            "train_config": extra["train_config"], "figures_cross_fitted": figures, "this_training": this_split,
            "note": "the training-only identity classifier was removed; the embedding network and mask are those "
                    "measured. The cross-fitted figures score every View 2 pair with the training that did not "
                    "see its people (this model scored the pairs of " + protocol["split"] + "'s test folds)."}
    target.with_suffix(".json").write_text(json.dumps(card, indent=1))
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and {target.with_suffix('.json')}")


if __name__ == "__main__":
    main()
