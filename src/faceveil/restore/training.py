"""One training run of a restorer (``faceveil train superres|inpaint``): the faces of a split's training
people, the shared loop, and the deployable ``model.pt`` with the people trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from torch import nn

from ..config import to_dict
from ..data.chips import FaceChips
from ..data.protocols import Split
from ..provenance import provenance
from ..train import FaceTask, FitConfig, fit_on_split, resume_point
from .faces import training_faces

#: the deployable file a restorer's training writes in its ``out_dir``
MODEL_FILE = "model.pt"


@dataclass
class RestorerTrainResult:
    """The trained network (eval mode, CPU), the per-epoch history, the output files and whether every
    epoch ran (False: ``max_steps`` stopped the run; running it again resumes)."""

    model: nn.Module
    history: list[dict]
    checkpoint: Path
    model_file: Path
    finished: bool


def prepare_run(config, task: type[FaceTask], overwrite: bool = False, max_steps: int | None = None) -> FitConfig:
    """The loop settings of ``config`` (``out_dir``, ``epochs``, ``batch_size``, ``seed``, ``device``), after
    refusing an ``out_dir`` that holds another run (before any data is loaded or generated)."""
    settings = FitConfig(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed, device=config.device,
                         max_steps=max_steps)
    resume_point(Path(config.out_dir), config, settings, resumable=task.resumable, overwrite=overwrite,
                 outputs=(MODEL_FILE,))
    return settings


def fit_and_save(task: FaceTask, settings: FitConfig, split: Split, people, network: str, save_model, chip: dict,
                 extra: dict, progress: bool = True, overwrite: bool = False) -> RestorerTrainResult:
    """Fit ``task`` (its configuration's ``out_dir``) on ``people`` of ``split`` and write the deployable
    ``model.pt`` of its model ``network``: ``save_model(path, model, chip, entries)`` with ``extra``, the
    history, steps, configuration and provenance (the split and the people trained on)."""
    config = task.config
    out = Path(config.out_dir)
    model_file = out / MODEL_FILE
    result, protocol = fit_on_split(task, settings, out, split, people, overwrite=overwrite, progress=progress,
                                    outputs=(model_file.name,))
    model = result.models[network].cpu().eval()
    if result.main:
        save_model(model_file, model, chip, {**extra, "history": result.history, "steps": result.steps,
                                             "train_config": to_dict(config),
                                             "provenance": provenance(protocol=protocol, seed=config.seed)})
    return RestorerTrainResult(model, result.history, result.checkpoint, model_file, result.finished)


def train_restorer(config, task: type[FaceTask], network: str, save_model, extra: dict,
                   data: FaceChips | None = None, progress: bool = True, overwrite: bool = False,
                   max_steps: int | None = None, split: Split | None = None) -> RestorerTrainResult:
    """Train (or resume, or finish) the run of ``config``, a restorer's training configuration (``out_dir``,
    ``epochs``, ``batch_size``, ``seed``, ``device``, ``data``, ``chip_size`` and ``chip()``).

    Args:
        task: the :class:`~faceveil.train.FaceTask` class to fit, built as ``task(config, faces)``; its
            ``resumable`` settings may change on resuming. network: the name of the model it builds that is
            deployed.
        save_model: ``save_model(path, model, chip, extra)``, the restorer's file writer.
        extra: entries of the deployable file besides the chip, history, steps, configuration and provenance.
        data: the clean training chips; default: :func:`~faceveil.restore.faces.training_faces` of the split.
        progress: progress bars; overwrite: start afresh even if ``out_dir`` holds a run.
        max_steps: stop after this many steps in all (a later call resumes).
        split: the protocol split (default: ``config.data.protocol_split()``), recorded with the people
            trained on.

    Raises:
        ValueError: ``out_dir`` holds a run of other settings, or the chips do not fit the configuration.
    """
    settings = prepare_run(config, task, overwrite, max_steps)
    split = split or config.data.protocol_split()
    spec = config.chip()
    data = data if data is not None else training_faces(config.data, split, spec, progress)
    if tuple(data.chips.shape[1:]) != (3, config.chip_size, config.chip_size):
        raise ValueError(f"the chips are {tuple(data.chips.shape[1:])}, the run expects RGB chips of "
                         f"{config.chip_size} x {config.chip_size}")
    chip = {"method": spec.method, "size": list(spec.size), "padding": spec.padding}
    return fit_and_save(task(config, data), settings, split, data.identities, network, save_model, chip, extra,
                        progress, overwrite)
