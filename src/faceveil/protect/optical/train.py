"""End-to-end training of an optical encoder and its back-end (seed 000, Sec. 2.2 and Fig. 3).

The run is an :class:`OpticalTask` trained by :func:`faceveil.train.fit`: every epoch shuffles the
aligned faces, draws random horizontal flips and sensor noise from the run's seeded generator, minimises
Eq. 5 (:func:`faceveil.protect.optical.losses.total_loss`) with AdamW, and writes ``checkpoint.pt``; a run
started again on the same output folder resumes where it stopped and ends with the same weights as an
uninterrupted run (``torchrun`` trains it on several devices: docs/design.md, "Training").
The last ``binary_epochs`` epochs train through the binarised mask (straight-through estimator),
so the deployed binary encoder is the one the back-end was tuned on (the paper fine-tunes the back-end
on the fabricated mask's images).

Outputs in ``out_dir``: ``checkpoint.pt`` (resume), ``model.pt`` (the deployable model, binary mask),
``history.json`` (per-epoch losses, training accuracy, seconds and, with ``validation_people``, the
validation AUC and accuracy), ``best.pt`` (with ``validation_people``: the checkpoint of the epoch of the
best validation AUC), ``train_config.json``, ``mask.png`` and ``mask.csv`` (:mod:`.export`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..._checks import check_int, check_positive
from ...data.chips import ChipSpec, FaceChips, load_face_chips
from ...data.holdout import hold_out_people, labelled_pairs
from ...eval.verification import accuracy_at, auc, best_threshold, roc_curve
from ...data.protocols import DataConfig, Split
from ...config import load_config, to_dict
from ...provenance import provenance
from ...train import FitConfig, OptimizerConfig, OptimizerSpec, FaceTask, fit_on_split, resume_point, unwrap
from .encoder import EncoderConfig
from .export import export_mask
from .losses import LossWeights, total_loss
from .model import ModelConfig, OpticalFaceModel, save_checkpoint

#: settings that may change between a run and its resumption
RESUMABLE_CHANGES = ("epochs", "out_dir", "device")
JUDGE_DIM = 128


@dataclass(frozen=True)
class TrainConfig:
    """A training run (``faceveil train optical --config FILE`` reads it from JSON).

    Attributes:
        out_dir: where checkpoints and outputs go.
        encoder: the optical encoder to train.
        backbone, channels, embedding_dim: the back-end (:class:`~faceveil.protect.optical.model.ModelConfig`).
        data: the training faces.
        epochs: passes over the data; binary_epochs: how many of the last ones use the binary mask.
        batch_size: faces per step.
        learning_rate: AdamW step of the back-end and its heads; mask_learning_rate: of the mask's
            parameters; backbone_learning_rate: of the back-end's network alone (None: learning_rate; a
            smaller one fine-tunes a pretrained back-end such as ``dlib-resnet`` while its new
            classification head learns at ``learning_rate``).
        weight_decay: AdamW decoupled weight decay of the back-end (the mask has Eq. 4 instead).
        loss: Eq. 5's weights.
        flip: random horizontal flips (seed 000's augmentation).
        validation_people: training people set aside (never trained on) whose pairs the deployed-to-be
            model verifies after every epoch (:mod:`faceveil.data.holdout`): the validation curve that
            shows whether training has plateaued; 0: no validation.
        validation_pairs: at most this many validation pairs (half genuine).
        seed: every random choice of the run (initialisation, order, flips, sensor noise, held-out people).
        device: torch device.
    """

    out_dir: str
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    backbone: str = "light"
    channels: int = 3
    embedding_dim: int = 128
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 20
    binary_epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 1e-3
    mask_learning_rate: float = 1e-2
    backbone_learning_rate: float | None = None
    weight_decay: float = 5e-4
    loss: LossWeights = field(default_factory=LossWeights)
    flip: bool = True
    validation_people: int = 0
    validation_pairs: int = 1000
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must name the output folder of the run")
        check_int(self.epochs, "epochs", 1)
        check_int(self.binary_epochs, "binary_epochs", 0, self.epochs)
        check_int(self.batch_size, "batch_size", 2)
        check_positive(self.learning_rate, "learning_rate")
        check_positive(self.mask_learning_rate, "mask_learning_rate")
        if self.backbone_learning_rate is not None:
            check_positive(self.backbone_learning_rate, "backbone_learning_rate")
        if not float(self.weight_decay) >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        check_int(self.validation_people, "validation_people", 0)
        check_int(self.validation_pairs, "validation_pairs", 2)
        check_int(self.seed, "seed", 0)
        if self.loss.gradient > 0 and self.encoder.kernel_size < 2:
            raise ValueError(f"the weight gradient loss (Eq. 4) needs a mask of at least 2 x 2 elements, got "
                             f"kernel_size {self.encoder.kernel_size}; use a larger mask or loss.gradient = 0")

    def model_config(self, n_classes: int) -> ModelConfig:
        """The model this run trains, for ``n_classes`` identities."""
        return ModelConfig(self.encoder, self.backbone, self.channels, self.embedding_dim,
                           n_classes if self.loss.task > 0 else 0, JUDGE_DIM if self.loss.distill > 0 else 0)


#: the configurations shipped with faceveil, by name (``--config smoke``)
CONFIGS = Path(__file__).parent / "configs"


def load_train_config(path: str | Path, data: dict | None = None, **overrides) -> TrainConfig:
    """A :class:`TrainConfig` from a JSON file or a shipped configuration by name (``smoke``, ``paper``):
    :func:`faceveil.config.load_config`."""
    return load_config(TrainConfig, path, CONFIGS, data, **overrides)


@dataclass
class TrainResult:
    """The trained model (binary mask, eval mode, on the CPU), the per-epoch history, the output files and
    whether every epoch ran (False: ``max_steps`` stopped the run; running it again resumes)."""

    model: OpticalFaceModel
    history: list[dict]
    checkpoint: Path
    model_file: Path
    finished: bool = True


class OpticalTask(FaceTask):
    """The run of ``config`` on the faces ``data`` (:class:`~faceveil.data.chips.FaceChips`), for
    :func:`~faceveil.train.fit`: one model (``"model"``), AdamW with the mask's own learning rate and no
    weight decay on the mask, Eq. 5 and the training accuracy (with a classification head), the binary
    mask in the last ``binary_epochs`` epochs; with ``validation`` faces (people not in ``data``), the
    verification AUC of their pairs after every epoch chooses ``best.pt``."""

    resumable = RESUMABLE_CHANGES
    min_batch = 2  # batch norm needs two samples

    def __init__(self, config: TrainConfig, data: FaceChips, validation: FaceChips | None = None) -> None:
        super().__init__(config, data)
        self.name = f"train {config.encoder.system}"
        self.validation = validation
        self.metric = "auc" if validation is not None else None
        if validation is not None:
            self.validation_pairs = labelled_pairs(validation.labels, config.validation_pairs, config.seed)

    def build(self) -> dict[str, OpticalFaceModel]:
        return {"model": OpticalFaceModel(self._config.model_config(len(self.data.identities)))}

    def optimizers(self, models) -> dict[str, OptimizerSpec]:
        model = models["model"]
        mask, backbone = list(model.encoder.parameters()), list(model.backbone.parameters())
        taken = {id(p) for p in mask + backbone}
        heads = [p for p in model.parameters() if id(p) not in taken]
        config = self._config
        adamw = OptimizerConfig("adamw", config.learning_rate, config.weight_decay)
        groups = [{"params": backbone, "lr": config.backbone_learning_rate or config.learning_rate},
                  {"params": mask, "lr": config.mask_learning_rate, "weight_decay": 0.0}]
        return {"model": OptimizerSpec(adamw, groups + ([{"params": heads}] if heads else []))}

    def batch(self, index, generator, device):
        """(scenes (n, C, S, S) in [0, 1], randomly flipped; labels (n,); teacher (n, 128) or None)."""
        scenes = self.data.images(index)
        if self._config.flip:
            flipped = torch.rand(len(index), generator=generator) < 0.5
            scenes[flipped] = scenes[flipped].flip(-1)
        teacher = self.data.teacher[index].to(device) if self.data.teacher is not None else None
        return scenes.to(device), self.data.labels[index].to(device), teacher

    def losses(self, models, batch, optimizer, generator) -> dict[str, torch.Tensor]:
        scenes, labels, teacher = batch
        output = models["model"](scenes, generator)
        encoder = unwrap(models["model"]).encoder
        response = encoder.response() if self._config.loss.wiener > 0 else None
        terms = total_loss(output, scenes, labels, encoder.mask.relaxed(), self._config.loss, teacher, response)
        if output.logits is not None:
            terms["accuracy"] = (output.logits.argmax(1) == labels).float().mean()
        return terms

    def start_epoch(self, models, epoch: int, epochs: int) -> dict:
        binary = epoch >= epochs - self._config.binary_epochs
        models["model"].encoder.binary = binary
        return {"binary_mask": binary}

    def validate(self, models) -> dict[str, float]:
        """Verification of the held-out people's pairs through the mask in use (the epoch's binary or
        relaxed one) with fixed sensor noise: AUC and the accuracy at the best threshold on these pairs."""
        if self.validation is None:
            return {}
        model = models["model"]
        device = next(model.parameters()).device
        captured = model.encrypt(self.validation.images().to(device), torch.Generator().manual_seed(self._config.seed))
        embeddings = model.embed(captured).cpu()
        a, b, same = self.validation_pairs
        scores = (embeddings[a] * embeddings[b]).sum(1).numpy()
        labels = same.numpy()
        return {"auc": auc(*roc_curve(scores, labels)[:2]),
                "accuracy": accuracy_at(scores, labels, best_threshold(scores, labels))}


def train(config: TrainConfig, data: FaceChips | None = None, progress: bool = True,
          overwrite: bool = False, max_steps: int | None = None, split: Split | None = None) -> TrainResult:
    """Train (or resume, or finish) the run of ``config``.

    Args:
        config: the run.
        data: the aligned training faces; default: :func:`~faceveil.data.chips.load_face_chips` of
            ``config.data.training_photos()`` (with the judge's embeddings when ``config.loss.distill`` > 0).
        progress: show progress bars.
        overwrite: start afresh even if ``out_dir`` holds a run.
        max_steps: stop after this many optimisation steps in all (a smoke run; the outputs are written
            all the same); a later call with a larger budget, or None, resumes.
        split: the protocol split ``data`` comes from (default: ``config.data.protocol_split()``); the
            checkpoints record it with the identities of ``data``.

    Under ``torchrun`` every process trains on its share of the faces; the process of rank 0 writes the files.

    Raises:
        ValueError: ``out_dir`` holds a run of another configuration (the message names the differing
            settings), or holds outputs but no checkpoint, and ``overwrite`` is False.
    """
    out = Path(config.out_dir)
    model_file = out / "model.pt"
    settings = FitConfig(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed, device=config.device,
                         max_steps=max_steps)
    # refuse a folder of another run before the faces load (fit checks again)
    resume_point(out, config, settings, resumable=OpticalTask.resumable, overwrite=overwrite,
                 outputs=(model_file.name,))
    split = split or config.data.protocol_split()
    if data is None:
        spec = ChipSpec(size=config.encoder.image_size, channels=config.channels, detector=config.data.detector)
        data = load_face_chips(config.data.training_photos(split), spec,
                               "dlib-torch" if config.loss.distill > 0 else None, progress=progress,
                               device=config.device)
    if config.loss.distill > 0 and data.teacher is None:
        raise ValueError("loss.distill > 0 needs the judge's embeddings: load the chips with teacher='dlib-torch'")
    if data.chips.shape[1] != config.channels:
        raise ValueError(f"the chips have {data.chips.shape[1]} channel(s), the model expects {config.channels}")
    if data.chips.shape[-1] != config.encoder.image_size:
        raise ValueError(f"the chips are {data.chips.shape[-1]} pixels wide, the encoder expects "
                         f"{config.encoder.image_size}")
    validation = None
    if config.validation_people:
        data, validation = hold_out_people(data, config.validation_people, config.seed)
    result, protocol = fit_on_split(OpticalTask(config, data, validation), settings, out, split, data.identities,
                                    overwrite=overwrite, progress=progress, outputs=(model_file.name,))
    model = result.models["model"].cpu().eval()
    model.encoder.binary = True
    if result.main:
        save_checkpoint(model_file, model, {"history": result.history, "train_config": to_dict(config),
                                            "provenance": provenance(protocol=protocol, seed=config.seed)})
        export_mask(model.encoder, out, overwrite=True)
    return TrainResult(model, result.history, result.checkpoint, model_file, result.finished)
