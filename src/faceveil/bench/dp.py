"""RDP, RDP-NA, RDP-LMGD, Pixel-DP and DCT-DP on face photos: seed 004's measurements and their speed.

Per feature vector F, method and budget eps_0 (p = 0.02 as in the seed), over the photos:
  * Fig. 2: normalised difference of the real squared error of the noisy photo, s_r^2 = sum_k (P'_k - P_k)^2,
    and the theory for the drawn K, s_t^2 = 2 sum_{k<=K} b_k^2: pooled over the photos,
    |sum s_r^2 - sum s_t^2| / sum s_t^2, and the median of the per-photo |s_r^2 - s_t^2| / s_t^2;
  * Fig. 3: log10 s_r^2 (8-bit pixel units, before clipping to [0, 255]);
  * Table II: SSIM; Fig. 4: PSNR, standard (clipped image, peak 255; photos the noise left unchanged
    at 8 bits, PSNR +inf, are counted apart as "same") and the seed's Eq. (7),
    10 log10(max(P')^2 / s_r^2) with s_r^2 the *sum* as the seed defines it;
  * Table III: the bypass attack: the protected photo (8-bit, as released) against the original with
    the reference judge (native dlib ResNet, its own face detection on the noisy photo): FNR at the
    judge's cosine threshold and at the seed's Euclidean threshold 0.975;
  * accounting: |sum_i eps_i / eps_0 - 1| of the scales used, RDP-LMGD's iterations and convergence;
  * the privacy auditor's lower bound on eps beside the claimed eps_0 (--audit-releases, on the chips of the
    first two photos: two people);
  * speed: RDP-NA and RDP-LMGD on 112x112 grey and 250x250 RGB eigenface crops (closed-form weights,
    timed apart as the one-off cost), against diffprivlib's Laplace mechanism on as many coefficients.

F (--features-model): ``eigenfaces``, M_F = --features eigenfaces of the face's dlib chip (docs/dp.md);
``dlib-torch``, the judge's own 128-D raw embedding through the PyTorch port (RDP-NA and RDP-LMGD only,
on the first --dlib-torch-images photos), with w_ik from autograd. Either way F is linearised once per
photo (TaylorFeatures, Eq. 2), and the sensitivities are measured on the basis' people.

With --root (LFW): the basis is fitted on View 1 DevTrain people (first photo of each, cached), the
photos are the first photo of --images people drawn (--seed) from View 1 DevTest: disjoint people.
Without: the embedded sample (basis and photos from the same 40 people: a smoke test only).

Full run (docs/dp.md: 39 minutes on one thread, plus about 7 once to fit and cache the DevTrain bases
and the dlib sensitivities):
    faceveil bench dp --root ../shared/data/lfw --images 100 --features-model eigenfaces dlib-torch \\
        --dlib-torch-images 10 --speed-images 5 --out results/dp
Smoke test on the embedded sample (about 25 s):
    faceveil bench dp --images 3 --epsilons 0.2 1.0 --features 16 --lmgd-max-iterations 300 \\
        --speed-images 1 --out /tmp/bench_dp
"""

from __future__ import annotations

import argparse
import math
import random
import time
from pathlib import Path

import numpy as np
import torch

from faceveil.attack.dp_targets import audit_chips
from faceveil.provenance import provenance
from faceveil.report.io import write_json
from faceveil.data.chips import ChipSpec, load_face_chips
from faceveil.data.folders import read_identity_folders
from faceveil.data.images import load_rgb, to_tensor, to_uint8
from faceveil.data.sample import sample_root
from faceveil.eval.quality import psnr, ssim
from faceveil.eval.verification import pair_scores
from faceveil.faces.align import FaceAligner
from faceveil.protect.dp.domains import make_domain
from faceveil.protect.dp.methods import DPAccount, DPConfig, protect_dp
from faceveil.protect.dp.features import eigenface_weights
from faceveil.protect.dp.noise import NoiseSource, laplace_noise
from faceveil.protect.dp.eigenfaces import Eigenfaces
from faceveil.protect.dp.photo_features import (EmbedderFeatures, PhotoFeatures, TaylorFeatures, dev_train_photos,
                                            embedding_sensitivity, lfw_eigenfaces, lfw_people_photos,
                                            sample_eigenfaces)
from faceveil.recognition.dlib_native import DlibEmbedder

PAPER_EUCLIDEAN_THRESHOLD = 0.975  # seed 004, Sec. VII-C (face_recognition distance)
FEATURE_MODELS = ("eigenfaces", "dlib-torch")
#: seed 004, Table II (LFW): SSIM at eps_0 = 0.2, 0.4, 0.6, 0.8, 1.0
PAPER_SSIM = {
    "dct": (0.9767, 0.9908, 0.9937, 0.9956, 0.9965),
    "pixel": (0.9826, 0.9918, 0.9953, 0.9962, 0.9972),
    "rdp": (0.9844, 0.9926, 0.9953, 0.9963, 0.9973),
    "rdp-na": (0.9954, 0.9980, 0.9988, 0.9992, 0.9994),
    "rdp-lmgd": (0.9955, 0.9983, 0.9991, 0.9993, 0.9994),
}
PAPER_EPSILONS = (0.2, 0.4, 0.6, 0.8, 1.0)
#: seed 004, Table III (LFW): FNR "under the same utility setting" (one value per method)
PAPER_FNR = {"dct": 0.3775, "pixel": 0.3944, "rdp": 0.4005, "rdp-na": 0.7718, "rdp-lmgd": 0.8138}


def paper_psnr(noisy: torch.Tensor, clean: torch.Tensor) -> float:
    """Seed 004, Eq. (7): 10 log10(max(P')^2 / s_r^2), s_r^2 = sum_k (P'_k - P_k)^2 (as printed: a sum).

    Args: images of any one shape, in the same units (8-bit levels here); ``noisy`` != ``clean``.
    """
    squared_error = float((noisy - clean).double().pow(2).sum())
    return 10 * math.log10(float(noisy.max()) ** 2 / squared_error)


def paper_ssim(method: str, epsilon0: float) -> float | None:
    """The seed's Table II SSIM on LFW for ``method`` at ``epsilon0``, None where it has none."""
    for eps, value in zip(PAPER_EPSILONS, PAPER_SSIM[method]):
        if math.isclose(eps, epsilon0):
            return value
    return None


def select_photos(root: Path | None, n: int, seed: int) -> tuple[list[tuple[Path, str]], str]:
    """The evaluated photos (path, person) and their description.

    LFW (``root``): the first photo of ``n`` people drawn with ``seed`` from View 1 DevTest (people
    file order kept), none of whom is in DevTrain, the basis' people. The embedded sample (None): the
    first photo of each of its first ``n`` people.
    """
    if root is None:
        first = {}
        for path, person in read_identity_folders(sample_root() / "lfw"):
            first.setdefault(person, path)
        return [(p, person) for person, p in first.items()][:n], "embedded LFW sample, first photo of each person"
    people = lfw_people_photos(root, "dev-test")
    chosen = sorted(random.Random(seed).sample(range(len(people)), min(n, len(people))))
    return ([people[i] for i in chosen],
            f"LFW View 1 DevTest: first photo of {len(chosen)} of its {len(people)} people (drawn with seed {seed})")


def training_photos(root: Path | None, per_person: int) -> tuple[list[tuple[Path, str]], str, str]:
    """Photos (path, person) the sensitivities of an embedder are measured on, their description and
    cache key: the basis' people (LFW View 1 DevTrain, or the embedded sample)."""
    if root is None:
        return read_identity_folders(sample_root() / "lfw"), "the embedded LFW sample", "lfw-sample"
    return dev_train_photos(root, per_person)


def load_basis(args: argparse.Namespace, root: Path | None) -> Eigenfaces:
    """--basis: ``sample``, ``lfw-dev-train`` (needs --root) or an ``Eigenfaces.save`` file; by default
    ``lfw-dev-train`` with --root, else ``sample``. Fitted bases: --basis-components grey eigenfaces of
    --basis-size chips."""
    choice = args.basis or ("lfw-dev-train" if root is not None else "sample")
    if choice == "sample":
        return sample_eigenfaces(args.basis_components, args.basis_size)
    if choice == "lfw-dev-train":
        if root is None:
            raise ValueError("--basis lfw-dev-train needs --root (the LFW copy)")
        return lfw_eigenfaces(root, args.basis_components, args.basis_size, per_person=args.basis_per_person)
    return Eigenfaces.load(choice)


def rgb250_basis(args: argparse.Namespace, root: Path | None) -> Eigenfaces:
    """The basis of the 250x250 RGB speed case: --basis-components eigenfaces of 250x250 RGB chips of the
    first --speed-basis-people DevTrain people (LFW) or of the embedded sample."""
    if root is None:
        return sample_eigenfaces(args.basis_components, 250, grey=False)
    return lfw_eigenfaces(root, args.basis_components, 250, False, args.basis_per_person, args.speed_basis_people)


def released_photo(noisy: torch.Tensor) -> np.ndarray:
    """The photo as released: (1, C, H, W) noisy values -> clipped, 8-bit (H, W, C) uint8."""
    return np.ascontiguousarray(to_uint8(noisy.clamp(0, 1))[0])


def noise_measures(noisy: torch.Tensor, clean: torch.Tensor, account: DPAccount) -> dict:
    """Fig. 2-4 and Table II measures of one protected photo: ``noisy`` (1, C, H, W) before clipping,
    ``clean`` (1, C, H, W) in [0, 1]; squared errors in 8-bit units (0-255)."""
    real = float((noisy - clean).double().mul(255).pow(2).sum())
    theory = 2 * math.fsum(b * b for b in account.scales) * 255**2
    clipped = noisy.clamp(0, 1)
    quality = float(psnr(clipped, clean)[0])
    solver = account.solver or {}
    return {
        "K": account.K, "n_features": account.n_features,
        "budget_residual": abs(account.total_epsilon / account.epsilon0 - 1),
        "lmgd_iterations": solver.get("iterations"), "lmgd_converged": solver.get("converged"),
        "variance_real": real, "variance_theory": theory,
        "variance_difference": abs(real - theory) / theory if theory > 0 else None,
        "log10_variance_real": math.log10(real) if real > 0 else None,
        "ssim": float(ssim(clipped, clean)[0]), "psnr": quality if math.isfinite(quality) else None,
        "psnr_eq7": paper_psnr(noisy * 255, clean * 255) if real > 0 else None,
    }


def judge_embeddings(photos: list[np.ndarray], judge: DlibEmbedder, aligner: FaceAligner) -> tuple[torch.Tensor, list[bool]]:
    """Raw dlib descriptors (N, 128) of RGB uint8 photos (H, W, 3), and whether a face was detected in
    each (False: the judge used its fallback box)."""
    faces = [aligner.align(photo) for photo in photos]
    return judge.embed_raw(to_tensor([f.chip for f in faces])), [f.detected for f in faces]


def attack(rows: list[dict], released: list[np.ndarray], enrolled: torch.Tensor, judge: DlibEmbedder,
           aligner: FaceAligner) -> None:
    """Table III's bypass attack on one photo: each released version (row) against the original's
    descriptor ``enrolled`` (128,); adds the judge's cosine and distance and the misses to the rows."""
    probes, detected = judge_embeddings(released, judge, aligner)
    originals = enrolled[None].expand_as(probes)
    cosine = pair_scores(probes, originals)  # the scores of faceveil.eval: cosine, and the negated L2 distance
    distance = -pair_scores(probes, originals, metric="euclidean")
    for row, c, d, found in zip(rows, cosine.tolist(), distance.tolist(), detected):
        row.update(judge_cosine=c, judge_distance=d, probe_detected=found,
                   missed_judge=c < judge.verification_threshold, missed_paper=d >= PAPER_EUCLIDEAN_THRESHOLD)


def protect_photo(photo: np.ndarray, features, sensitivity, configs: list[DPConfig],
                  generator: torch.Generator) -> tuple[list[dict], list[np.ndarray]]:
    """Every (method, eps_0) of ``configs`` on one photo (H, W, 3) uint8: one row each, and the
    released 8-bit photos."""
    clean = to_tensor([photo])
    rows, released = [], []
    for config in configs:
        t0 = time.perf_counter()
        result = protect_dp(clean, features, sensitivity, config, generator=generator, clamp=False)
        seconds = time.perf_counter() - t0
        released.append(released_photo(result.images))
        rows.append({"method": config.method, "epsilon0": config.epsilon0, "seconds": seconds,
                     "unchanged": bool((released[-1] == photo).all()),  # no noise survived the 8-bit release
                     **noise_measures(result.images, clean, result.accounts[0])})
    return rows, released


def evaluate(model: str, photos: list[np.ndarray], landmarks: list[np.ndarray], enrolled: torch.Tensor,
             make_features, sensitivity, configs: list[DPConfig], args, judge, aligner) -> list[dict]:
    """The rows of one feature model: every config on every photo, with the bypass attack.

    ``make_features(landmarks)`` gives F for a photo (a differentiable callable); it is linearised at the
    photo once (its weights time is the row's ``weights_seconds``).
    """
    generator = torch.Generator().manual_seed(args.seed)
    rows, t_start = [], time.perf_counter()
    for i, (photo, marks) in enumerate(zip(photos, landmarks)):
        t0 = time.perf_counter()
        features = TaylorFeatures(make_features(marks), to_tensor([photo]))
        weights_seconds = time.perf_counter() - t0
        photo_rows, released = protect_photo(photo, features, sensitivity, configs, generator)
        attack(photo_rows, released, enrolled[i], judge, aligner)
        rows += [{"features": model, "photo": i, "weights_seconds": weights_seconds, **r} for r in photo_rows]
        elapsed = time.perf_counter() - t_start
        print(f"  [{model}] photo {i + 1}/{len(photos)}: {elapsed:.0f} s, about "
              f"{elapsed / (i + 1) * (len(photos) - i - 1):.0f} s left", flush=True)
    return rows


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return float(np.mean(values)) if values else None


def variance_difference(group: list[dict]) -> float | None:
    """Fig. 2 over photos: |sum s_r^2 - sum s_t^2| / sum s_t^2, the normalised difference of the mean real
    and theoretical squared errors (per photo it is dominated by Laplace sampling, and meaningless where
    the drawn K got scales of ~0: s_t^2 ~ 0 against float32 round-off in s_r^2)."""
    theory = math.fsum(r["variance_theory"] for r in group)
    return abs(math.fsum(r["variance_real"] for r in group) - theory) / theory if theory > 0 else None


def summarise(rows: list[dict]) -> list[dict]:
    """One entry per (features, method, eps_0): the means (and standard deviations of the continuous
    measures) over the photos, the FNRs (fraction of rows missed), the pooled Fig. 2 difference and the
    median of the per-photo ones, the worst budget residual."""
    keys = ("log10_variance_real", "ssim", "psnr", "psnr_eq7", "seconds", "lmgd_iterations", "K")
    groups = {}
    for r in rows:
        groups.setdefault((r["features"], r["method"], r["epsilon0"]), []).append(r)
    table = []
    for (model, method, epsilon0), group in groups.items():
        per_photo = [r["variance_difference"] for r in group if r["variance_difference"] is not None]
        entry = {"features": model, "method": method, "epsilon0": epsilon0, "n": len(group),
                 "fnr_judge": float(np.mean([r["missed_judge"] for r in group])),
                 "fnr_paper_threshold": float(np.mean([r["missed_paper"] for r in group])),
                 "unchanged_fraction": float(np.mean([r["unchanged"] for r in group])),
                 "probe_fallback_fraction": float(np.mean([not r["probe_detected"] for r in group])),
                 "variance_difference": variance_difference(group),
                 "variance_difference_median": float(np.median(per_photo)) if per_photo else None,
                 "budget_residual_max": max(r["budget_residual"] for r in group),
                 "lmgd_converged_fraction": _mean([r["lmgd_converged"] for r in group]),
                 "paper_ssim": paper_ssim(method, epsilon0), "paper_fnr": PAPER_FNR[method]}
        for key in keys:
            entry[key] = _mean([r[key] for r in group])
            entry[key + "_sd"] = (float(np.std([r[key] for r in group if r[key] is not None]))
                                  if entry[key] is not None else None)
        table.append(entry)
    return table


#: (title, width, format, table key) of the printed columns
COLUMNS = [("method", 9, "s", "method"), ("eps0", 5, ".2f", "epsilon0"), ("n", 4, "d", "n"),
           ("|dVar|/Var", 10, ".3f", "variance_difference"), ("median", 7, ".3f", "variance_difference_median"),
           ("log10Var", 9, ".2f", "log10_variance_real"), ("SSIM", 7, ".4f", "ssim"), ("paper", 7, ".4f", "paper_ssim"),
           ("PSNR", 7, ".2f", "psnr"), ("Eq.7", 7, ".2f", "psnr_eq7"), ("FNRjudge", 8, ".3f", "fnr_judge"),
           ("FNR0.975", 8, ".3f", "fnr_paper_threshold"), ("paper", 6, ".3f", "paper_fnr"),
           ("same", 5, ".2f", "unchanged_fraction"), ("s/img", 6, ".2f", "seconds"), ("iters", 6, ".0f", "lmgd_iterations"),
           ("resid", 7, ".1e", "budget_residual_max"), ("eps>=", 6, ".2f", "audit_epsilon_lower")]


def add_audits(table: list[dict], items: list[tuple[Path, str]], basis: Eigenfaces, args) -> None:
    """The privacy auditor's lower bound on eps (:func:`~faceveil.attack.dp_targets.audit_chips`, the
    basis' chips of the first two photos: two people, the seed's estimated sensitivities) beside each
    eigenface entry's claimed eps_0 (``audit_epsilon_lower``; None where the audit is off)."""
    chips = None
    if args.audit_releases and len(items) >= 2:
        spec = ChipSpec(size=basis.image_shape[1], channels=basis.image_shape[0])
        chips = tuple(to_uint8(load_face_chips(items[:2], spec, progress=False).images()))
    for entry in table:
        entry["audit_epsilon_lower"] = None
        if chips is not None and entry["features"] == "eigenfaces":
            result = audit_chips(entry["method"], entry["epsilon0"], chips, basis, basis.sensitivity,
                                 releases=args.audit_releases, seed=args.seed, p=args.p, levels=args.levels)
            entry["audit_epsilon_lower"], entry["audit_test"] = result.epsilon_lower, result.best_test


def print_table(table: list[dict]) -> None:
    """The table, one section per feature model, with the seed's Table II SSIM and Table III FNR."""
    for model in dict.fromkeys(e["features"] for e in table):
        print(f"F = {model}")
        print(" ".join(title.ljust(width) if i == 0 else title.rjust(width)
                       for i, (title, width, _, _) in enumerate(COLUMNS)))
        for e in (e for e in table if e["features"] == model):
            cells = ["-" if e[key] is None else format(e[key], spec) for _, _, spec, key in COLUMNS]
            print(" ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, (_, w, _, _)) in enumerate(zip(cells, COLUMNS))))


def plot(table: list[dict], out: Path) -> list[Path]:
    """Figs. 2, 3 and 4 (PSNR standard and Eq. 7) against eps_0: one line per (features, method),
    dashed for F = the dlib embedding."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = [("variance_difference", "|s_r^2 - s_t^2| / s_t^2", "fig2_variance_difference.png"),
               ("log10_variance_real", "log10 s_r^2 (8-bit units)", "fig3_log_variance.png"),
               ("psnr", "PSNR (dB), clipped image", "fig4_psnr.png"),
               ("psnr_eq7", "PSNR as defined by Ou et al. (RDP), Eq. (7) (dB)", "fig4_psnr_eq7.png")]
    series = list(dict.fromkeys((e["features"], e["method"]) for e in table))
    paths = []
    for key, label, name in figures:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        for model, method in series:
            pts = [(e["epsilon0"], e[key]) for e in table
                   if (e["features"], e["method"]) == (model, method) and e[key] is not None]
            if pts:
                ax.plot(*zip(*sorted(pts)), marker="o", linestyle="-" if model == "eigenfaces" else "--",
                        label=method if model == "eigenfaces" else f"{method} (F = {model})")
        ax.set_xlabel("eps_0")
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        paths.append(out / name)
    return paths


def diffprivlib_seconds(n: int, seed: int) -> float:
    """Seconds for IBM diffprivlib's Laplace mechanism on ``n`` values (one ``randomise`` call each:
    its API takes one value at a time)."""
    from diffprivlib.mechanisms import Laplace

    values = np.random.default_rng(seed).random(n).tolist()
    mechanism = Laplace(epsilon=1.0, sensitivity=1.0, random_state=seed)
    t0 = time.perf_counter()
    for v in values:
        mechanism.randomise(v)
    return time.perf_counter() - t0


def time_crops(crops: torch.Tensor, basis: Eigenfaces, method: str, args, generator) -> dict:
    """RDP-NA or RDP-LMGD on crops (N, C, H, W) of the basis' shape: the one-off closed-form weights
    (``eigenface_weights``, shared by every image) and the per-image rest (ranking, scales, noise, inverse
    transform): protect_dp's time minus the weights'."""
    domain = make_domain("haar", args.levels)
    t0 = time.perf_counter()
    eigenface_weights(basis, domain, args.features)
    weights = time.perf_counter() - t0
    config = DPConfig(method, 1.0, args.p, args.levels, lmgd_max_iterations=args.lmgd_max_iterations)
    t0 = time.perf_counter()
    result = protect_dp(crops, basis, basis.sensitivity, config, n_features=args.features, generator=generator)
    per_image = (time.perf_counter() - t0 - weights) / len(crops)
    return {"weights_seconds": weights, "seconds_per_image": per_image, "images_per_second": 1 / per_image,
            "lmgd_iterations": [a.solver["iterations"] for a in result.accounts if a.solver]}


def speed(args, root: Path | None, paths: list[Path], basis: Eigenfaces) -> dict:
    """Images/s of RDP-NA and RDP-LMGD on the basis' 112x112 grey crops and on 250x250 RGB crops (a basis
    of that shape), and per image against diffprivlib's Laplace mechanism on the same number M_P of
    (Haar) coefficients, with the ratio (ours / diffprivlib)."""
    generator = torch.Generator().manual_seed(args.seed)
    timing = {}
    for case_basis in (basis, rgb250_basis(args, root)):
        channels, height, width = case_basis.image_shape
        grey = channels == 1
        crops = load_face_chips([(p, p.parent.name) for p in paths], ChipSpec(size=height, channels=channels),
                                progress=False).images()
        n_coefficients = math.prod(make_domain("haar", args.levels).coefficient_shape(case_basis.image_shape))
        reference = diffprivlib_seconds(n_coefficients, args.seed)
        t0 = time.perf_counter()
        laplace_noise(torch.ones(n_coefficients, dtype=torch.float64), NoiseSource(seed=args.seed))
        vectorised = time.perf_counter() - t0
        label = f"{height}x{width} {'grey' if grey else 'RGB'}"
        timing[label] = {"basis": case_basis.description, "M_P": n_coefficients, "images": len(crops),
                         "diffprivlib_laplace_seconds_per_image": reference,
                         "faceveil_laplace_seconds_per_image": vectorised}
        for method in ("rdp-na", "rdp-lmgd"):
            measured = time_crops(crops, case_basis, method, args, generator)
            timing[label][method] = {**measured, "ratio_to_diffprivlib": measured["seconds_per_image"] / reference}
    return timing


def photo_speed(rows: list[dict]) -> dict:
    """Per (features, method): mean seconds per photo of the weights (F linearised at the photo, once)
    and of protect_dp (the Haar weights from the linearisation, scales, noise) over all eps_0."""
    out = {}
    for model in dict.fromkeys(r["features"] for r in rows):
        mine = [r for r in rows if r["features"] == model]
        first = {r["photo"]: r["weights_seconds"] for r in mine}
        out[model] = {"weights_seconds_per_photo": float(np.mean(list(first.values())))}
        for method in dict.fromkeys(r["method"] for r in mine):
            out[model][f"{method}_seconds_per_image"] = _mean([r["seconds"] for r in mine if r["method"] == method])
    return out


def print_speed(timing: dict, photos: dict) -> None:
    for label, entry in timing.items():
        print(f"  {label} crops (M_P = {entry['M_P']}, {entry['images']} images): diffprivlib Laplace "
              f"{entry['diffprivlib_laplace_seconds_per_image']:.3f} s/image, faceveil Laplace "
              f"{entry['faceveil_laplace_seconds_per_image']:.4f} s/image")
        for method in ("rdp-na", "rdp-lmgd"):
            m = entry[method]
            print(f"    {method:8s}: weights {m['weights_seconds']:.3f} s once, {m['seconds_per_image']:.3f} s/image "
                  f"({m['images_per_second']:.2f} images/s), {m['ratio_to_diffprivlib']:.2f} x diffprivlib")
    for model, entry in photos.items():
        print(f"  LFW photos, F = {model}: " + ", ".join(f"{k} {v:.3f}" for k, v in entry.items()))


def run(args: argparse.Namespace) -> int:
    """Run the benchmark of ``args`` (the options of ``faceveil bench dp``); writes ``result.json``."""
    import importlib

    from ..cli import outputs

    if args.speed_images:
        importlib.import_module("diffprivlib")  # the [bench] extra, checked before any work
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=("result.json",))
    torch.set_num_threads(args.threads)
    root = Path(args.root) if args.root else None
    t_start = time.perf_counter()
    items, photo_description = select_photos(root, args.images, args.seed)
    photos = [load_rgb(p) for p, _ in items]
    basis = load_basis(args, root)
    judge = DlibEmbedder()
    aligner = FaceAligner(judge.alignment)
    faces = [aligner.align(photo) for photo in photos]
    enrolled = judge.embed_raw(to_tensor([f.chip for f in faces]))
    landmarks = [f.landmarks for f in faces]
    print(f"{len(photos)} photos: {photo_description}\nbasis: {basis.description}\n"
          f"M_F = {args.features}, p = {args.p}; judge: dlib, cosine threshold {judge.verification_threshold}")
    rows, sections = [], {}
    if "eigenfaces" in args.features_model:
        configs = [DPConfig(m, e, args.p, args.levels, lmgd_max_iterations=args.lmgd_max_iterations)
                   for m in args.methods for e in args.epsilons]
        make = lambda marks: PhotoFeatures(basis, marks, args.features)  # noqa: E731
        rows += evaluate("eigenfaces", photos, landmarks, enrolled, make, basis.sensitivity, configs, args, judge, aligner)
        sections["eigenfaces"] = {"basis": basis.config(), "M_F": args.features, "photos": len(photos)}
    if "dlib-torch" in args.features_model:
        from faceveil.recognition.dlib_resnet import DlibTorchEmbedder

        embedder = DlibTorchEmbedder()
        sensitivity = embedding_sensitivity(embedder, *training_photos(root, args.basis_per_person))
        configs = [DPConfig(m, e, args.p, args.levels, lmgd_max_iterations=args.lmgd_max_iterations)
                   for m in ("rdp-na", "rdp-lmgd") for e in args.epsilons]
        n = min(args.dlib_torch_images, len(photos))
        make = lambda marks: EmbedderFeatures(embedder, marks)  # noqa: E731
        rows += evaluate("dlib-torch", photos[:n], landmarks[:n], enrolled, make, sensitivity, configs, args, judge, aligner)
        sections["dlib-torch"] = {"sensitivity": sensitivity.to_dict(), "M_F": embedder.dim, "photos": n}
    table = summarise(rows)
    add_audits(table, items, basis, args)
    print_table(table)
    photos_timing = photo_speed(rows)
    timing = speed(args, root, [p for p, _ in items[: args.speed_images]], basis) if args.speed_images else {}
    print_speed(timing, photos_timing)
    figures = plot(table, out)
    settings = {k: v for k, v in vars(args).items() if k not in ("func", "bench_module")}
    record = {"settings": settings,
              "provenance": provenance(data={"root": str(root or sample_root())},
                                       protocol={"name": "view1", "basis": "DevTrain people",
                                                 "photos": "DevTest people"} if root else None, seed=args.seed),
              "data": {"root": str(root or sample_root()), "photos": photo_description,
                       "images": [str(p) for p, _ in items], "face_detected": [f.detected for f in faces]},
              "features": sections, "judge": {"name": judge.name, "cosine_threshold": judge.verification_threshold,
                                              "paper_euclidean_threshold": PAPER_EUCLIDEAN_THRESHOLD},
              "seconds": time.perf_counter() - t_start, "table": table,
              "speed": {"crops": timing, "lfw_photos": photos_timing}, "rows": rows}
    write_json(out / "result.json", record)
    print(f"wrote {out / 'result.json'} and {', '.join(p.name for p in figures)} "
          f"({time.perf_counter() - t_start:.0f} s)")
    return 0
