"""``faceveil protect dp``: differentially private copies of face photos, with nothing private beside them.

* **What a recipient gets**: the PNG and a sidecar that says only what a recipient may know: the
  mechanism, eps_0, p, the basis id, the package version and a random release id. The per-image account
  (which coefficients were noised, their scales, K, the data-dependent feature epsilons, the
  sensitivities) reveals where the face's energy lies and, with a few sidecars, the noise seed: it is
  written only with ``--full-account``.
* **No names**: outputs are called ``release-0001.png``... and neither the sidecars, nor ``result.json``, nor
  the recorded command line hold the inputs' paths, unless ``--keep-names`` (LFW file names are identities).
* **Noise** from the OS CSPRNG unless ``--seed`` (experiments only: the seed removes the noise).
* **Budget**: photos of one identity (one folder per person, or ``--identity-map``) compose: their eps add
  up (basic composition). The run reports the spend per identity, ``--budget`` refuses a run that would
  pass the cap, and ``--ledger FILE`` carries the spend across runs.
* **Safe I/O**: every input is read and its face located before the first output; an input is never
  overwritten (not even with ``--overwrite``); grey photos stay grey; photos without a detected face are
  counted and warned about.
"""

from __future__ import annotations


from .options import POSITIVE_FLOAT, float_in, int_at_least, int_in

#: faceveil.protect.dp.methods.METHODS, faceveil.protect.dp.features.RANKINGS and dp-pix (checked by the tests)
DP_METHODS = ("rdp", "rdp-na", "rdp-lmgd", "pixel", "dct", "dp-pix")
DP_RANKINGS = ("magnitude", "weight")
SENSITIVITIES = ("range", "estimated")


def register(sub) -> None:
    """Add ``dp`` to the ``protect`` sub-commands ``sub``; ``common`` options are added by the caller."""
    from .protect import add_common

    dp = sub.add_parser(
        "dp", help="differential privacy: DP-Pix (proven), and RDP (Ou et al.), Pixel-DP, DCT-DP",
        description="Release noisy copies of face photos: DP-Pix (Fan 2018; eps-DP for neighbours that differ in "
                    "up to m pixels, exact sampler) or Ou et al.'s Laplace noise on eigenface features (RDP "
                    "and its baselines; the privacy auditor refutes their claim, docs/dp.md). One PNG and one "
                    "sidecar per photo; see docs/dp.md for what the sidecar holds.")
    dp.add_argument("--method", choices=DP_METHODS, required=True)
    dp.add_argument("--epsilon", type=POSITIVE_FLOAT, required=True,
                    help="privacy budget of each release: eps_0 of the feature vector (RDP methods) or eps (dp-pix)")
    dp.add_argument("--p", type=float_in(0, 1, open_low=True, open_high=True), default=0.02,
                    help="RDP methods: geometric parameter of K, in (0, 1) (default 0.02)")
    dp.add_argument("--block", type=int_at_least(1), default=16, help="dp-pix: block side in pixels (default 16)")
    dp.add_argument("--neighbour-pixels", type=int_at_least(1), default=16,
                    help="dp-pix: m, neighbours are photos that differ in up to m pixels (default 16)")
    noise = dp.add_mutually_exclusive_group()
    noise.add_argument("--seed", type=int_in(0, 2**63 - 1), default=None,
                       help="reproducible noise, for experiments only: whoever knows the seed can remove the noise "
                            "(never written to any output)")
    noise.add_argument("--secure", action="store_true", help="noise from os.urandom (the default without --seed)")
    dp.add_argument("--snap", action="store_true",
                    help="RDP methods: Mironov's snapping mechanism (refused where a scale exceeds the coefficient "
                         "bound)")
    dp.add_argument("--basis", default=None,
                    help="RDP methods: eigenface basis .npz (dlib chips, padding 0.25); default: fitted on the embedded "
                         "LFW sample")
    dp.add_argument("--sensitivity", choices=SENSITIVITIES, default="range",
                    help="RDP methods: range (the proven worst case over all images, default) or estimated (the "
                         "seed's: the largest change seen between the basis' people, too small for others)")
    dp.add_argument("--features", type=int_at_least(1), default=None,
                    help="RDP methods: M_F, the eigenface features protected (default: all)")
    dp.add_argument("--levels", type=int_at_least(1), default=3, help="RDP methods: Haar levels of the RDP methods")
    dp.add_argument("--rank-by", choices=DP_RANKINGS, default="magnitude",
                    help="RDP methods: ranking of the coefficients")
    dp.add_argument("--identity-map", default=None,
                    help="CSV file of 'path,identity' lines: whose photo each input is (default: the name of the "
                         "folder holding it, one folder per person)")
    dp.add_argument("--budget", type=POSITIVE_FLOAT, default=None,
                    help="refuse the run if any identity's total eps (this run plus --ledger) would exceed this")
    dp.add_argument("--ledger", default=None,
                    help="JSON file of the eps spent per identity, read and updated (it names identities: keep it "
                         "private)")
    dp.add_argument("--keep-names", action="store_true",
                    help="name outputs after the inputs and record the input paths (file names can be identities)")
    dp.add_argument("--full-account", action="store_true",
                    help="SENSITIVE: also write the per-image account (noised coefficients, scales, K, feature "
                         "epsilons, sensitivities) into each sidecar; it reveals where the face's energy lies and, "
                         "over a few sidecars, a --seed: never publish it with the images")
    add_common(dp)
    dp.set_defaults(func=run_dp)


def _identities(paths, identity_map: str | None) -> dict:
    """photo path -> identity: from ``--identity-map`` (every input must be listed) or its folder's name."""
    from pathlib import Path

    if identity_map is None:
        return {p: p.parent.name or str(p.parent) for p in paths}
    import csv

    mapping = {}
    with open(Path(identity_map).expanduser(), newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 2 or not row[0].strip() or row[0].startswith("#"):
                continue
            mapping[Path(row[0].strip()).expanduser().resolve()] = row[1].strip()
    missing = [p for p in paths if p.resolve() not in mapping]
    if missing:
        raise ValueError(f"--identity-map {identity_map} does not list {len(missing)} input(s), e.g. {missing[0]}")
    return {p: mapping[p.resolve()] for p in paths}


def _output_targets(args, paths) -> dict:
    """input -> output PNG: mirrored names with --keep-names, else release-0001.png... in input order."""
    from ..data.folders import output_names
    from .protect import _path

    out = _path(args.out)
    if args.keep_names:
        return output_names(args.inputs, out)
    width = max(4, len(str(len(paths))))
    return {p: out / f"release-{i:0{width}d}.png" for i, p in enumerate(paths, 1)}


def _check_inputs(paths, aligner, on_error: str) -> tuple[dict, dict]:
    """Read and align every photo before anything is written: path -> aligned face, and path -> reason for
    the photos that ``--on-error skip`` leaves out (unreadable, or failing alignment). The pixels are not
    kept (a folder of 12-megapixel photos would not fit in memory): the protection reads each photo again."""
    from ..data.images import ImageReadError, load_rgb

    faces, skipped = {}, {}
    for path in paths:
        try:
            faces[path] = aligner.align(load_rgb(path))
        except (ImageReadError, ValueError, RuntimeError) as err:
            if on_error == "fail":
                raise ValueError(str(err) if isinstance(err, ImageReadError) else f"{path}: {err}") from err
            skipped[path] = str(err)
    return faces, skipped


def run_dp(args) -> int:
    import uuid

    import numpy as np
    from tqdm.auto import tqdm

    from .. import __version__
    from ..data.chips import ChipSpec
    from ..data.folders import expand_inputs
    from ..data.images import load_rgb, save_png, to_tensor
    from ..provenance import provenance
    from ..protect.dp.eigenfaces import Eigenfaces
    from ..protect.dp.ledger import Ledger
    from ..protect.dp.methods import DPConfig
    from ..protect.dp.noise import NoiseSource
    from ..protect.dp.photo_features import sample_eigenfaces
    from ..protect.dp.photos import release_photo
    from ..protect.dp.pixelization import PixelizationConfig
    from ..report.io import write_json
    from . import outputs
    from .protect import Report, _path, finish

    pix = args.method == "dp-pix"
    if pix:
        pix_config = PixelizationConfig(args.epsilon, args.block, args.neighbour_pixels)
    else:
        config = DPConfig(method=args.method, epsilon0=args.epsilon, p=args.p, levels=args.levels,
                          rank_by=args.rank_by, snap=args.snap)
    paths = expand_inputs(args.inputs)
    targets = _output_targets(args, paths)
    out_path = _path(args.out)
    written = [str(t.relative_to(out_path).with_suffix(s)) for t in targets.values() for s in (".png", ".json")]
    out = outputs.prepare_folder(args.out, overwrite=args.overwrite, outputs=tuple(written) + ("result.json",),
                                 inputs=args.inputs)  # an empty folder left by a failure is removed on exit
    identities = _identities(paths, args.identity_map)
    ledger = Ledger.load(_path(args.ledger)) if args.ledger else Ledger()
    spend = args.epsilon if not pix else pix_config.effective_epsilon
    ledger.check([identities[p] for p in paths], spend, args.budget)  # before anything is read or written
    basis = None
    if not pix:
        basis = Eigenfaces.load(args.basis) if args.basis else sample_eigenfaces()
        sensitivity = basis.range_sensitivity() if args.sensitivity == "range" else basis.sensitivity
        if sensitivity is None:
            raise ValueError(f"the basis {args.basis} has no estimated sensitivities: use --sensitivity range")
        n_features = basis.check_n_features(args.features)
    aligner = ChipSpec(size=basis.image_shape[1] if basis else 150, detector=args.detector).aligner()
    faces, skipped = _check_inputs(paths, aligner, args.on_error)
    report = Report(args, args.judge)
    judge_aligner = None
    if report.judge is not None:
        judge_aligner = ChipSpec(size=report.judge.alignment.size, detector=args.detector, landmarks=68).aligner()
    source = NoiseSource(seed=args.seed) if args.seed is not None else NoiseSource(secure=True)
    if args.seed is not None:
        print("warning: --seed makes the noise reproducible, for experiments only: whoever learns the seed can "
              "remove the noise")
    hidden = () if args.keep_names else tuple(args.inputs)
    record = provenance(seed=None, secret_options=("--seed",), hidden_words=hidden,
                        settings={"method": args.method, "epsilon": args.epsilon,
                                  "noise": "seeded (seed withheld, experiments only)" if args.seed is not None
                                  else "os.urandom"})
    public = {"mechanism": args.method, "version": __version__}
    if pix:
        public |= {"epsilon": pix_config.effective_epsilon, "guarantee": pix_config.account(3)["neighbours"],
                   "block": args.block, "neighbour_pixels": args.neighbour_pixels, "delta": 0.0}
    else:
        public |= {"epsilon0": args.epsilon, "p": args.p, "basis_id": basis.digest(), "levels": args.levels,
                   "sensitivity": sensitivity.source}
    released_identities = []
    for path in tqdm(list(faces), desc=f"protect dp ({args.method})", unit="img", disable=args.quiet):
        photo, face, target = load_rgb(path), faces[path], targets[path]
        grey = bool((photo[..., :1] == photo).all())
        if pix:
            released, account = release_photo(photo[..., :1] if grey else photo, pix_config, source)
        else:
            released, account = release_photo(photo[..., :1] if grey else photo, config, source, face.landmarks,
                                              basis, sensitivity, n_features)
        save_png(released, target)
        changed = int((released != photo[..., : released.shape[2]]).any(axis=2).sum())
        rgb = np.repeat(released, 3, axis=2) if grey else released
        similarity = None
        if judge_aligner is not None:
            original_face, released_face = judge_aligner.align(photo), judge_aligner.align(rgb)
            if released_face.detected:
                similarity = report.similarity(to_tensor([original_face.chip]), to_tensor([released_face.chip]))
        row = {"output": str(target), "grey": grey, "face_detected": bool(face.detected), "pixels_changed": changed,
               "pixels_changed_fraction": changed / (photo.shape[0] * photo.shape[1]), "judge_similarity": similarity}
        if args.keep_names:
            row = {"input": str(path), **row}
        report.add(row, str(path))
        sidecar = {**public, "release_id": uuid.uuid4().hex}
        if args.full_account and account is not None:
            sidecar["account"] = account.to_dict()
        write_json(target.with_suffix(".json"), sidecar)
        released_identities.append(identities[path])
    ledger.spend(released_identities, spend)
    totals = {who: ledger.spent[who] for who in dict.fromkeys(released_identities)}
    budget = {"composition": "basic (sum of eps per identity)", "epsilon_per_release": spend,
              "identities": len(totals), "largest_total": max(totals.values(), default=0.0), "cap": args.budget,
              "ledger": bool(args.ledger)}
    if args.keep_names:
        budget["per_identity"] = totals
    if args.ledger:
        ledger.save(_path(args.ledger))
    finish(out, report, skipped, "protected image(s)", record, keep_names=args.keep_names, extra={"budget": budget})
    print(f"budget: {len(totals)} identit{'y' if len(totals) == 1 else 'ies'}, the largest total spend is "
          f"{budget['largest_total']:g} (basic composition{', with the ledger' if args.ledger else ''})")
    return 0
