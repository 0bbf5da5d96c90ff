"""``faceveil bench NAME``: the measurements of docs/benchmarks.md, each a command that writes result.json.

The options of every benchmark are defined here, without importing the benchmark (its module imports
torch); ``run`` imports :mod:`faceveil.bench.<module>` and calls its ``run(args)``. The choices listed
here are checked against the library's own constants by the tests.
"""

from __future__ import annotations

import argparse

from .options import POSITIVE_FLOAT, add_device, add_quiet, int_at_least

#: methods of ``faceveil protect dp`` (faceveil.protect.dp.methods.METHODS)
DP_METHODS = ("rdp", "rdp-na", "rdp-lmgd", "pixel", "dct")
#: methods the privacy auditor knows (faceveil.attack.dp_targets.AUDITED_METHODS)
DP_AUDITED_METHODS = (*DP_METHODS, "dp-pix")
#: feature models of the DP benchmark (faceveil.bench.dp.FEATURE_MODELS)
DP_FEATURE_MODELS = ("eigenfaces", "dlib-torch")
#: the seed's privacy budgets (faceveil.bench.dp.PAPER_EPSILONS)
DP_PAPER_EPSILONS = (0.2, 0.4, 0.6, 0.8, 1.0)
#: optical systems (faceveil.protect.optical.SYSTEMS)
OPTICAL_SYSTEMS = ("mem-fr", "loen")
#: the fixed masks of faceveil bench optical-masks (faceveil.bench.optical_masks.MASKS)
OPTICAL_MASKS = ("centre", "offcentre", "corner", "open", "random")
#: back-ends of the optical models (faceveil.recognition.backbones.BACKBONES)
BACKBONES = ("light", "dlib-resnet", "inception-resnet-v1")
#: configurations of the LFW ablation (faceveil.bench.lfw_ablation.CONFIGS)
ABLATION_CONFIGS = ("baseline", "euclidean", "upsample2", "hog+cnn", "cnn", "landmarks68", "upscale250", "flip",
                    "jitter10", "flip+euclidean", "jitter10+euclidean", "landmarks68+flip",
                    "landmarks68+flip+euclidean", "landmarks68+jitter10", "hog+cnn+landmarks68+flip",
                    "hog+cnn+landmarks68+flip+euclidean")
#: the npm face models (faceveil.recognition.tfjs.models.MODELS)
NPM_MODELS = ("mobilefacenet", "mobileface", "faceres", "faceres-deep")
#: benchmarks whose work runs on a torch device and shows progress bars: they get --device and --quiet
DEVICE_BENCHES = ("optical", "optical-masks", "optical-sweep", "judge-search", "judge2", "superres", "inpaint", "speckle")


def _dp(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root with the View 1 files (default: the embedded sample)")
    p.add_argument("--images", type=int_at_least(1), default=20,
                   help="photos: the first of N people (LFW: drawn from DevTest)")
    p.add_argument("--epsilons", type=float, nargs="+", default=list(DP_PAPER_EPSILONS))
    p.add_argument("--p", type=float, default=0.02)
    p.add_argument("--methods", nargs="+", choices=DP_METHODS, default=list(DP_METHODS),
                   help="methods for F = eigenfaces")
    p.add_argument("--features-model", nargs="+", choices=DP_FEATURE_MODELS, default=["eigenfaces"],
                   help="F: eigenfaces of the chip and/or the dlib judge's embedding (torch port)")
    p.add_argument("--features", type=int_at_least(1), default=64, help="M_F of the eigenfaces")
    p.add_argument("--dlib-torch-images", type=int_at_least(1), default=10,
                   help="photos (the first N) for F = dlib-torch, with RDP-NA and RDP-LMGD")
    p.add_argument("--levels", type=int_at_least(1), default=3)
    p.add_argument("--basis", default=None,
                   help="'sample', 'lfw-dev-train' or an eigenface .npz (default: lfw-dev-train with --root)")
    p.add_argument("--basis-components", type=int_at_least(1), default=64, help="eigenfaces fitted (>= --features)")
    p.add_argument("--basis-size", type=int_at_least(16), default=112, help="side of the grey chips of the basis")
    p.add_argument("--basis-per-person", type=int_at_least(1), default=1,
                   help="DevTrain photos per person in the basis")
    p.add_argument("--lmgd-max-iterations", type=int_at_least(1), default=5000)
    p.add_argument("--speed-images", type=int_at_least(0), default=3,
                   help="crops timed at 112x112 grey and 250x250 RGB (0: skip)")
    p.add_argument("--speed-basis-people", type=int_at_least(1), default=200,
                   help="DevTrain people of the 250x250 RGB basis")
    p.add_argument("--seed", type=int, default=0, help="noise and the draw of the DevTest people")
    p.add_argument("--threads", type=int_at_least(1), default=1, help="torch threads (1 is fastest on a shared machine)")
    p.add_argument("--audit-releases", type=int_at_least(0), default=300,
                   help="releases per input and half of the privacy audit beside each claim (0: no audit)")


def _optical(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample)")
    p.add_argument("--systems", nargs="+", choices=OPTICAL_SYSTEMS, default=list(OPTICAL_SYSTEMS))
    p.add_argument("--image-size", type=int_at_least(16), default=80, help="scene side S (the paper: 160)")
    p.add_argument("--backbone", default="light", choices=BACKBONES,
                   help="the back-end: light (from scratch), dlib-resnet (the judge's network and weights, "
                        "fine-tuned), inception-resnet-v1 (the paper's, from scratch)")
    p.add_argument("--splits", type=int, nargs="+", choices=(1, 2), default=[1, 2],
                   help="the view2-2fold splits to train and score (1: folds 1-5 train, 6-10 score; both: all "
                        "6,000 pairs)")
    p.add_argument("--epochs", type=int_at_least(1), default=30)
    p.add_argument("--binary-epochs", type=int_at_least(0), default=3)
    p.add_argument("--batch-size", type=int_at_least(2), default=32)
    p.add_argument("--learning-rate", type=POSITIVE_FLOAT, default=1e-3, help="AdamW step of the back-end")
    p.add_argument("--backbone-learning-rate", type=POSITIVE_FLOAT, default=None,
                   help="AdamW step of the back-end's network alone (default: --learning-rate; smaller to "
                        "fine-tune dlib-resnet while its new head learns at --learning-rate)")
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of the judge distillation (0, the default: the paper's loss)")
    p.add_argument("--shift-weight", type=float, default=0.0,
                   help="weight of the shift-invariant privacy term L_shift (0: the paper's loss)")
    p.add_argument("--wiener-weight", type=float, default=0.0,
                   help="weight of the stolen-mask Wiener privacy term L_wiener (0: the paper's loss)")
    p.add_argument("--max-identities", type=int_at_least(1), default=None, help="limit the training people")
    p.add_argument("--validation-people", type=int_at_least(0), default=0,
                   help="training people held out (never trained on) whose pairs are verified after every epoch: "
                        "the validation curve, training_curve.png (0: none)")
    p.add_argument("--diffraction", action="store_true", help="MEM-FR lenslet diffraction blur")
    p.add_argument("--attack-pairs", type=int_at_least(2), nargs="+", default=[200, 600],
                   help="N, the attacker's (encrypted, original) pairs; half train, half measure")
    p.add_argument("--attack-epochs", type=int_at_least(1), default=100)
    p.add_argument("--attack-steps", type=int_at_least(1), default=None,
                   help="train every U-Net attack this many steps whatever N (overrides --attack-epochs)")
    p.add_argument("--attack-batch", type=int_at_least(2), default=8, help="U-Net attack batch size")
    p.add_argument("--attack-width", type=int_at_least(1), default=32, help="U-Net channels at full resolution")
    p.add_argument("--nsr", type=POSITIVE_FLOAT, default=None,
                   help="noise-to-signal ratio of the Wiener attack (default: the best of 1e-6..1e-1 on the "
                        "attacker's own pairs)")
    p.add_argument("--lpips-weights", default=None,
                   help="LPIPS-AlexNet weights (docs/quality.md): also report LPIPS of encrypted and attacked images")
    p.add_argument("--judge-folds", type=int, default=10, choices=range(1, 11), metavar="K",
                   help="the reference judge verifies the pairs of the first K View 2 folds (default: all 10)")
    p.add_argument("--second-judge", choices=("judge2", "none"), default="judge2",
                   help="the judge outside the training loop (the back-end distils the dlib judge): judge2 "
                        "(faceveil models install judge2) or none")
    p.add_argument("--second-judge-folds", type=int, default=2, choices=range(1, 11), metavar="K",
                   help="the second judge verifies the pairs of the first K View 2 folds (default 2)")
    p.add_argument("--second-judge-attacks", type=int, nargs="*", default=[600],
                   help="the U-Net attacks (by N) the second judge also verifies (default 600, the seed's; it is "
                        "~8x slower than dlib on a CPU)")
    p.add_argument("--seed", type=int, default=0,
                   help="every random choice of the trainings (mask and back-end initialisation, order, flips, "
                        "noise, validation people) and of the attacks")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch threads (default: torch's)")


def _optical_masks(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample)")
    p.add_argument("--systems", nargs="+", choices=OPTICAL_SYSTEMS, default=list(OPTICAL_SYSTEMS))
    p.add_argument("--masks", nargs="+", choices=OPTICAL_MASKS, default=list(OPTICAL_MASKS))
    p.add_argument("--image-size", type=int_at_least(16), default=80, help="scene side S")
    p.add_argument("--judge-folds", type=int, default=2, choices=range(2, 11), metavar="K",
                   help="the judge verifies the pairs of the first K test folds of split 1 (default 2)")
    p.add_argument("--seed", type=int, default=0, help="sensor noise and the random mask")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch threads (default: torch's)")


def _optical_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample)")
    p.add_argument("--image-size", type=int_at_least(16), default=80, help="scene side S (the paper: 160)")
    p.add_argument("--kernel-sizes", type=int_at_least(1), nargs="+", default=[3, 5, 7, 9],
                   help="mask sizes k (k x k elements), each at the system's dilation (Fig. 2a)")
    p.add_argument("--dilations", type=POSITIVE_FLOAT, nargs="+", default=[1, 2, 6, 8],
                   help="element pitches ('dilations') in pixels, each with a 5 x 5 mask (Fig. 2c); the pitch of "
                        "the optics is always run")
    p.add_argument("--epochs", type=int_at_least(1), default=5)
    p.add_argument("--batch-size", type=int_at_least(2), default=64)
    p.add_argument("--max-identities", type=int_at_least(1), default=None, help="limit the training people")
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of the judge distillation (0, the default: the paper's loss)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch threads (default: torch's)")


def _comma_list(choices: tuple[str, ...]):
    """argparse type: comma-separated names, each one of ``choices``."""
    def parse(text: str) -> list[str]:
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in choices]
        if not names or unknown:
            raise argparse.ArgumentTypeError(f"unknown configuration(s) {', '.join(unknown) or repr(text)}; "
                                             f"expected a comma-separated list of {', '.join(choices)}")
        return names
    parse.__name__ = "comma-separated list"
    return parse


def _fold_list(text: str) -> list[int]:
    """argparse type: comma-separated LFW View 2 folds, 0-9."""
    try:
        folds = [int(f) for f in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated folds 0-9, got {text!r}") from None
    if not folds or any(not 0 <= f <= 9 for f in folds):
        raise argparse.ArgumentTypeError(f"folds must be 0-9, got {text!r}")
    return folds


def _lfw_ablation(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="../shared/data/lfw", help="LFW root (View 2: pairs.txt)")
    p.add_argument("--folds", type=_fold_list, default=None,
                   help="comma-separated View 2 folds (0-9); default all ten")
    p.add_argument("--configs", type=_comma_list(ABLATION_CONFIGS), default=["baseline", "euclidean"],
                   help=f"comma-separated configurations, the first is the reference row: {', '.join(ABLATION_CONFIGS)} "
                        "(default: baseline,euclidean)")
    p.add_argument("--model", default="dlib", help="dlib, or dlib-torch (its exact PyTorch port, ~9x faster)")
    p.add_argument("--workers", type=int_at_least(1), default=2, help="processes for the native dlib judge")
    add_quiet(p)


def _lfw_speed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="../shared/data/lfw", help="LFW root (View 2: pairs.txt)")
    p.add_argument("--images", type=int_at_least(1), default=256,
                   help="the first N distinct images of the View 2 pairs, timed stage by stage")
    p.add_argument("--folds", type=int_at_least(1), default=1,
                   help="View 2 folds (600 pairs each) for the cold/warm run")


def _dlib_torch(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lfw", default="/work/shared/data/lfw/lfw", help="folder of LFW photos <person>/*.jpg")
    p.add_argument("--count", type=int_at_least(1), default=100, help="faces for the parity checks")
    p.add_argument("--seed", type=int, default=0, help="the random draw of the photos")
    p.add_argument("--timed", type=int_at_least(1), default=64, help="chips embedded per throughput measurement")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch intra-op threads (default: torch's)")


def _lfw_roc(p: argparse.ArgumentParser) -> None:
    p.add_argument("results", nargs="+", metavar="RESULT", help="result.json files of faceveil eval lfw (one "
                   "curve each, e.g. the dlib judge's and the second judge's)")
    p.add_argument("--rocs", default="../shared/data/lfw/roc-files",
                   help="folder of the ROC curves published by LFW participants (LFW's roc-files)")


def _optical_speed(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="+", help="model.pt files of faceveil train optical / bench optical")
    p.add_argument("--batch-size", type=int_at_least(1), default=64)
    p.add_argument("--repeats", type=int_at_least(1), default=5, help="timed calls; the best one counts")
    p.add_argument("--threads", type=int_at_least(1), default=2, help="torch threads")


def _judge_search(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default="../shared/data/lfw", help="LFW root (View 1: pairsDevTest.txt)")
    p.add_argument("--models", nargs="+", choices=NPM_MODELS, default=list(NPM_MODELS),
                   help="npm face models to search (installed with faceveil models install)")
    p.add_argument("--pairs", type=int_at_least(1), default=None,
                   help="only the first N genuine and N impostor DevTest pairs (default: all 500 + 500)")
    p.add_argument("--detector", choices=("hog", "cnn", "hog+cnn"), default="hog", help="face detector")
    p.add_argument("--upsample", type=int, choices=(0, 1, 2, 3), default=1, help="detector upsampling")
    p.add_argument("--batch-size", type=int_at_least(1), default=32, help="chips per forward pass")
    p.add_argument("--threads", type=int_at_least(1), default=2, help="torch threads")


def _dp_privacy(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root with the View 1 files (default: the embedded sample)")
    p.add_argument("--methods", nargs="+", choices=DP_AUDITED_METHODS, default=list(DP_AUDITED_METHODS),
                   help="methods audited")
    p.add_argument("--epsilons", type=float, nargs="+", default=[0.2, 0.6, 1.0], help="claims audited")
    p.add_argument("--pairs", type=int_at_least(1), default=2, help="pairs of inputs audited per (method, eps)")
    p.add_argument("--releases", type=int_at_least(0), default=1000,
                   help="releases per input and per half (0: no audit)")
    p.add_argument("--delta", type=float, default=1e-5, help="delta of the audited bound")
    p.add_argument("--people", type=int_at_least(0), default=100, help="DevTest people of the frontier (0: none)")
    p.add_argument("--frontier-methods", nargs="+", choices=DP_AUDITED_METHODS,
                   default=["rdp", "rdp-na", "rdp-lmgd", "dp-pix"])
    p.add_argument("--frontier-epsilons", type=float, nargs="+", default=[0.2, 0.6, 1.0, 3.0, 10.0, 30.0, 100.0])
    p.add_argument("--block", type=int_at_least(1), default=16, help="DP-Pix block side")
    p.add_argument("--neighbour-pixels", type=int_at_least(1), default=16, help="DP-Pix m")
    p.add_argument("--seed", type=int, default=0, help="people drawn and noise")
    p.add_argument("--threads", type=int_at_least(1), default=1, help="torch threads")


def _dp_speed(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample's photos)")
    p.add_argument("--batch", type=int_at_least(1), default=100, help="chips per protect_dp call")
    p.add_argument("--repeats", type=int_at_least(1), default=3, help="timed calls per method; the best counts")
    p.add_argument("--photos", type=int_at_least(1), default=50, help="photos of the command-line runs")
    p.add_argument("--reference-src", default=None,
                   help="the src folder of another faceveil tree to time beside this one (e.g. a git worktree)")


def _judge2(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lfw", default="../shared/data/lfw/lfw", help="folder of LFW photos <person>/*.jpg")
    p.add_argument("--count", type=int_at_least(1), default=20, help="photos for the parity check")
    p.add_argument("--seed", type=int, default=0, help="the random draw of the photos")
    p.add_argument("--models", nargs="+", choices=NPM_MODELS, default=list(NPM_MODELS), help="npm face models")
    p.add_argument("--repeats", type=int_at_least(1), default=3, help="timed calls per batch size; the best counts")
    p.add_argument("--threads", type=int_at_least(1), default=2, help="torch threads")
    p.add_argument("--from", dest="tarball", default=None,
                   help="the npm package's .tgz fetched earlier (default: npm pack fetches it)")


#: name -> (module under faceveil.bench, options, summary, description)
def _superres(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample, a smoke test)")
    p.add_argument("--method", action="append", default=[], metavar="NAME=MODEL[,MODEL]",
                   help="a trained EDSR: its model.pt for each view2-2fold split (each probe is restored by the "
                        "model that never saw its person); repeatable. Bicubic up-sampling is always a row")
    p.add_argument("--judges", nargs="+", default=["dlib-torch", "judge2"],
                   help="judges, the first one also for identification (default: dlib-torch, the F of the identity "
                        "loss, then judge2, outside the loop; faceveil models install judge2)")
    p.add_argument("--sizes", type=int_at_least(1), nargs="+", default=[7, 14, 16, 28],
                   help="probe sides s (s x s pixels) of the verification table (the seed: 7x6, 14x12, 16x16, 28x24)")
    p.add_argument("--second-judge-sizes", type=int_at_least(1), nargs="+", default=[7, 14, 28],
                   help="probe sides verified by the judges after the first (their cost: judge2 is 8x slower)")
    p.add_argument("--identification-sizes", type=int_at_least(1), nargs="*", default=[7, 14, 16, 18],
                   help="probe sides of the identification table, by the first judge (the seed: 7x6, 14x12, 16x14, "
                        "18x16; none: no identification)")
    p.add_argument("--min-images", type=int_at_least(2), default=4, help="photos per identification subject")
    p.add_argument("--runs", type=int_at_least(1), default=10, help="identification runs (random galleries)")
    p.add_argument("--chip-size", type=int_at_least(16), default=112, help="side of the high-resolution chips")
    p.add_argument("--flip", action="store_true", help="flip-averaged judge features (the seed's flip "
                                                         "concatenation; twice the judging time)")
    p.add_argument("--examples", type=int_at_least(1), default=6, help="faces in examples.png")
    p.add_argument("--speed-images", type=int_at_least(0), default=64,
                   help="faces of the restore-speed timing (0: no timing)")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="identification galleries and the examples")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch threads (default: torch's)")


def _inpaint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=None, help="LFW root (default: the embedded sample, a smoke test)")
    p.add_argument("--method", action="append", default=[], metavar="NAME=MODEL[,MODEL]",
                   help="a trained generator: its model.pt for each scored view2-2fold split (each probe is restored "
                        "by the model that never saw its person); repeatable; scored by recognition and image quality")
    p.add_argument("--quality-method", action="append", default=[], metavar="NAME=MODEL",
                   help="a generator scored on image quality only, on the probes of people it never trained on "
                        "(Zeman et al.'s Table 1 family); repeatable")
    p.add_argument("--baselines", nargs="*", choices=("telea", "ns"), default=["telea", "ns"],
                   help="OpenCV inpainting baselines (default: both)")
    p.add_argument("--damages", nargs="+", choices=("algorithm1", "algorithm1-code", "irregular"),
                   default=["algorithm1", "irregular"], help="damages (default: Algorithm 1 and irregular masks)")
    p.add_argument("--noise", choices=("add", "replace"), default="add",
                   help="Algorithm 1's N(128, 35) added to the pixels (the paper) or replacing them (the public code)")
    p.add_argument("--masks", type=int_at_least(5), default=1000,
                   help="irregular masks in the fixed set (equal numbers per 10 %% hole-ratio bin up to 50 %%)")
    p.add_argument("--judges", nargs="+", default=["dlib-torch", "judge2"],
                   help="judges (default: dlib-torch, then judge2; neither is in the GAN's loop)")
    p.add_argument("--second-judge-methods", nargs="*", default=None,
                   help="the conditions the judges after the first score, besides the damaged faces (default: every "
                        "method; judge2 is 8x slower)")
    p.add_argument("--test-splits", type=int_at_least(0), nargs="+", default=[0, 1],
                   help="view2-2fold splits whose test pairs are scored (0: folds 6-10, 1: folds 1-5; default both)")
    p.add_argument("--quality-images", type=int_at_least(1), default=300,
                   help="probes of the image-quality tables (FSIM takes ~80 ms an image)")
    p.add_argument("--lpips-weights", default=None,
                   help="LPIPS-AlexNet state dict: adds LPIPS to the image-quality tables (docs/quality.md)")
    p.add_argument("--inception-weights", default=None,
                   help="inception-2015-12-05.pt (TorchScript): adds FID to the image-quality tables (docs/quality.md)")
    p.add_argument("--chip-size", type=int_at_least(16), default=128, help="side of the chips")
    p.add_argument("--examples", type=int_at_least(1), default=5, help="faces in examples.png")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="damage, masks, quality probes and examples")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch threads (default: torch's)")


def _speckle(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", action="append", default=[], metavar="NAME=MODEL[,MODEL...]",
                   help="networks of 'faceveil train speckle', one model.pt per grit (each names its grit and its "
                        "dataset; all from one dataset); repeatable")
    p.add_argument("--splits", nargs="+", choices=("train", "test", "depth", "faces", "diffuser"),
                   default=["test", "depth", "faces", "diffuser"],
                   help="dataset splits scored (default: test, depth (the paper's 40 mm validation), faces (unseen "
                        "people), diffuser (an unseen diffuser of the grit))")
    p.add_argument("--judge", default="dlib-torch", help="the judge of the identity table (default dlib-torch)")
    p.add_argument("--speed-sizes", type=int_at_least(8), nargs="+", default=[200, 224, 256],
                   help="input sides of the model-cost table (default: the paper's 200 224 256)")
    p.add_argument("--repeats", type=int_at_least(1), default=3, help="timed forward passes, best kept (default 3)")
    p.add_argument("--simulator-settings", nargs="+", choices=("cpu", "full"), default=["cpu", "full"],
                   help="simulator settings timed (full: one face per grit; default both)")
    p.add_argument("--threads", type=int_at_least(1), default=None, help="torch threads (default: torch's)")


BENCHES = {
    "dp": ("dp", _dp, "differential privacy on faces: RDP, NA, LMGD, Pixel-DP, DCT-DP (Ranked DP, Tables II-III)",
           "Variance, SSIM, PSNR and the judge's bypass attack of the DP mechanisms on LFW photos, and their speed "
           "against diffprivlib (pip install 'faceveil[bench]'). With --root the eigenface basis is fitted on View 1 "
           "DevTrain people and the photos come from DevTest people (disjoint); without it, the embedded sample "
           "(a smoke test only)."),
    "dp-privacy": ("dp_privacy", _dp_privacy, "what the DP mechanisms guarantee: audited eps, and DP-Pix against RDP",
                   "The privacy auditor's lower bound on eps beside every method's claim, and the privacy/utility "
                   "frontier on LFW photos: the dlib judge's rank-1 and TAR on protected probes, PSNR and SSIM, for "
                   "DP-Pix (a proven mechanism) and the RDP methods (Ou et al.)."),
    "dp-speed": ("dp_speed", _dp_speed, "speed and memory of the DP mechanisms beside a reference tree and diffprivlib",
                 "protect_dp images/s per method (112x112 grey, one thread), the command line's images/s on LFW "
                 "photos and a 12-megapixel photo's time and peak memory, each in a fresh process, beside an older "
                 "faceveil tree (--reference-src) and diffprivlib's Laplace mechanism."),
    "optical": ("optical", _optical, "MEM-FR against LOEN optical encoders: recognition, privacy, attacks, speed",
                "Train each optical encoder with its back-end end to end, then measure verification, privacy of the "
                "encrypted images (PSNR, SSIM, the dlib judge), U-Net and Wiener attacks, and speed (Wu et al., "
                "privacy-preserving face recognition with a mask-encoded microlens array: MEM-FR, and its lensless "
                "baseline LOEN)."),
    "optical-masks": ("optical_masks", _optical_masks, "what fixed, untrained masks hide, by every privacy measure",
                      "Encrypt LFW View 2 faces through simple fixed masks (centre, off-centre, corner, open, random) "
                      "of MEM-FR and LOEN and compare Eq. 3, pixel-aligned and aligned PSNR/SSIM, the shift-invariant "
                      "correlation and the dlib judge, on the encrypted images and after Wiener with the true PSF."),
    "optical-sweep": ("optical_sweep", _optical_sweep, "MEM-FR mask size and dilation against recognition and privacy",
                      "One short MEM-FR training per mask size and dilation; verification accuracy and PSNR/SSIM of "
                      "the encrypted faces per setting (the paper's Fig. 2)."),
    "lfw-ablation": ("lfw_ablation", _lfw_ablation, "ablation of the dlib judge's LFW pipeline, one factor at a time",
                     "LFW View 2 verification of the judge with one factor of the baseline changed per configuration "
                     "(HOG detector, one upsampling, 5-point landmarks, no flip, no jitter, cosine score): which "
                     "factor closes the gap to dlib's published 99.38 %? Writes result.json and table.md (markdown); "
                     "embeddings go through the shared embedding cache."),
    "lfw-speed": ("lfw_speed", _lfw_speed, "speed of the evaluation core on LFW photos (native dlib judge)",
                  "With the command line's default settings: detection + alignment and embedding (1 and 2 "
                  "processes) timed separately, then the wall time of a cold (empty cache) and a warm (cached) "
                  "verification run on the first --folds folds of View 2."),
    "dlib-torch": ("dlib_torch", _dlib_torch, "dlib-torch against native dlib: parity of chips and embeddings, speed",
                   "On --count random LFW photos: torch face chips against dlib.get_face_chip, dlib-torch "
                   "embeddings against dlib's on dlib's chips, and embeddings/s, CPU use and peak memory at batch "
                   "1, 16 and 64, each engine in a fresh process (Linux: memory read from /proc/self/status)."),
    "lfw-roc": ("lfw_roc", _lfw_roc, "the judges' LFW ROCs beside curves published by LFW participants",
                "Plot the ROC of one or more faceveil eval lfw result.json files beside dlib's published curve, DeepFace, DeepID2 "
                "and human performance on tight crops (log FPR); writes roc.png and result.json."),
    "judge-search": ("judge_search", _judge_search, "the preprocessing of the npm face models, by measurement",
                     "LFW View 1 DevTest accuracy of each npm face model under candidate crops (ArcFace template, "
                     "dlib chip, detector box), input ranges, channel orders and flip averaging, staged: the best "
                     "setting of the best model is the second judge (judge2)."),
    "judge2": ("judge2", _judge2, "the npm face models: parity with TensorFlow.js, speed beside dlib-torch",
               "Torch port against the reference runtime (TF.js in Node) on --count LFW chips per model (cosine, "
               "largest difference; skipped without node/npm), and img/s at batch 1, 16 and 64 beside dlib-torch."),
    "superres": ("superres", _superres, "low-resolution faces: bicubic against EDSR with an identity loss, two judges",
                 "LFW verification with a clean high-resolution gallery and probes at s x s pixels, restored by "
                 "bicubic interpolation or trained EDSRs (each probe by the model that never saw its person, "
                 "view2-2fold), rank-1 identification, PSNR/SSIM and restore speed, by the dlib judge (inside the "
                 "identity loss) and judge2 (outside it): Lai et al.'s Tables 1 and 2."),
    "inpaint": ("inpaint", _inpaint, "occluded faces: GAN generators against OpenCV inpainting, two judges",
                "Algorithm 1 occlusions and irregular masks on LFW probes, reconstructed by trained generators (each "
                "probe by the model that never saw its person, view2-2fold), their inpainted composites and OpenCV's "
                "Telea and Navier-Stokes: PSNR, SSIM, MS-SSIM, FSIM, a Frechet distance on judge embeddings, and "
                "ACC / FPR / TPR at the clean threshold by two judges: Zeman et al.'s Tables 1-7."),
    "speckle": ("speckle", _speckle, "faces through ground glass: SpT UNet, SpT UNet-B and a U-Net on simulated "
                "speckle", "Reconstruction of binary faces from simulated speckle per grit: PCC, SSIM, Jaccard and "
                "PSNR on unseen depth, unseen faces and an unseen diffuser; identity kept, by a judge; parameters, "
                "FLOPs and speed at 200-256 px; simulator speed: Wang et al.'s Tables 1 and 2."),
    "optical-speed": ("optical_speed", _optical_speed, "speed of trained optical systems, back to back in one process",
                      "Images per second of the encoder (optics + sensor) and of the whole system (encoder + "
                      "back-end) of each checkpoint on one batch of scenes, best of --repeats, one after the other "
                      "under the same conditions."),
}


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, (module, options, summary, description) in BENCHES.items():
        p = sub.add_parser(name, help=summary, description=description)
        options(p)
        p.add_argument("--out", required=True, help="output folder: result.json and the figures")
        p.add_argument("--overwrite", action="store_true", help="replace an existing result.json")
        if name in DEVICE_BENCHES:
            add_device(p, default="cpu")
            add_quiet(p)
        p.set_defaults(func=run, bench_module=module)


def run(args) -> int:
    import importlib

    return importlib.import_module(f"faceveil.bench.{args.bench_module}").run(args)
