"""End-to-end training of an optical encoder and its back-end (seed 000, Sec. 2.2 and Fig. 3).

One loop: every epoch shuffles the aligned faces, draws random horizontal flips and sensor noise from
one seeded generator, minimises Eq. 5 (:func:`faceveil.protect.optical.losses.total_loss`) with AdamW,
and writes ``checkpoint.pt`` (model, optimiser, random states, history); a run started again on the same
output folder resumes after the last finished epoch and ends with the same weights as an uninterrupted
run. The last ``binary_epochs`` epochs train through the binarised mask (straight-through estimator),
so the deployed binary encoder is the one the back-end was tuned on (the paper fine-tunes the back-end
on the fabricated mask's images).

Outputs in ``out_dir``: ``checkpoint.pt`` (resume), ``model.pt`` (the deployable model, binary mask),
``history.json`` (per-epoch losses, accuracy, seconds), ``train_config.json``, ``mask.png`` and
``mask.csv`` (:mod:`.export`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from ..._checks import check_int, check_positive
from .chips import ChipSet, DataConfig, load_chips, training_items
from ...config import differences, from_dict, to_dict
from .encoder import EncoderConfig
from .export import export_mask
from .losses import LossWeights, total_loss
from .model import ModelConfig, OpticalFaceModel, load_checkpoint, read_checkpoint, save_checkpoint

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
        learning_rate: AdamW step of the back-end; mask_learning_rate: of the mask's parameters.
        weight_decay: AdamW decoupled weight decay of the back-end (the mask has Eq. 4 instead).
        loss: Eq. 5's weights.
        flip: random horizontal flips (seed 000's augmentation).
        seed: every random choice of the run (initialisation, order, flips, sensor noise).
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
    weight_decay: float = 5e-4
    loss: LossWeights = field(default_factory=LossWeights)
    flip: bool = True
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
        if not float(self.weight_decay) >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        check_int(self.seed, "seed", 0)
        if self.loss.gradient > 0 and self.encoder.kernel_size < 2:
            raise ValueError(f"the weight gradient loss (Eq. 4) needs a mask of at least 2 x 2 elements, got "
                             f"kernel_size {self.encoder.kernel_size}; use a larger mask or loss.gradient = 0")

    def model_config(self, n_classes: int) -> ModelConfig:
        """The model this run trains, for ``n_classes`` identities."""
        return ModelConfig(self.encoder, self.backbone, self.channels, self.embedding_dim,
                           n_classes if self.loss.task > 0 else 0, JUDGE_DIM if self.loss.distill > 0 else 0)


def load_train_config(path: str | Path, **overrides) -> TrainConfig:
    """Read a :class:`TrainConfig` from a JSON file (nested sections as objects); ``overrides`` replace
    top-level settings (e.g. ``out_dir``). Raises ``ValueError`` naming an unknown or bad setting."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"training configuration not found: {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object of settings")
    data |= {k: v for k, v in overrides.items() if v is not None}
    return from_dict(TrainConfig, data, str(path))


@dataclass
class TrainResult:
    """The trained model (binary mask, eval mode, on the CPU), the per-epoch history and the output files."""

    model: OpticalFaceModel
    history: list[dict]
    checkpoint: Path
    model_file: Path


def _comparable(config: TrainConfig) -> dict:
    return {k: v for k, v in to_dict(config).items() if k not in RESUMABLE_CHANGES}


def _optimizer(model: OpticalFaceModel, config: TrainConfig) -> torch.optim.Optimizer:
    mask = list(model.encoder.parameters())
    mask_ids = {id(p) for p in mask}
    rest = [p for p in model.parameters() if id(p) not in mask_ids]
    return torch.optim.AdamW([{"params": rest, "lr": config.learning_rate, "weight_decay": config.weight_decay},
                              {"params": mask, "lr": config.mask_learning_rate, "weight_decay": 0.0}])


def _epoch(model, optimizer, data: ChipSet, config: TrainConfig, generator: torch.Generator, bar) -> dict:
    """One pass over ``data``; returns the mean of every loss term and the training accuracy."""
    model.train()
    device = torch.device(config.device)
    order = torch.randperm(len(data), generator=generator)
    batches = [b for b in order.split(config.batch_size) if len(b) > 1]  # batch norm needs two samples
    sums: dict[str, float] = {}
    correct = seen = 0
    for index in batches:
        scenes = data.scenes(index, config.channels)
        if config.flip:
            flipped = torch.rand(len(index), generator=generator) < 0.5
            scenes[flipped] = scenes[flipped].flip(-1)
        labels = data.labels[index].to(device)
        teacher = data.judge[index].to(device) if data.judge is not None else None
        output = model(scenes.to(device), generator)
        terms = total_loss(output, scenes.to(device), labels, model.encoder.mask.relaxed(), config.loss, teacher)
        optimizer.zero_grad(set_to_none=True)
        terms["total"].backward()
        optimizer.step()
        for key, value in terms.items():
            sums[key] = sums.get(key, 0.0) + float(value.detach()) * len(index)
        if output.logits is not None:
            correct += int((output.logits.argmax(1) == labels).sum())
        seen += len(index)
        bar.update(len(index))
        bar.set_postfix(loss=f"{float(terms['total'].detach()):.3f}")
    return {"loss": {k: v / seen for k, v in sums.items()}, "train_accuracy": correct / seen if seen else 0.0}


def train(config: TrainConfig, data: ChipSet | None = None, progress: bool = True,
          overwrite: bool = False) -> TrainResult:
    """Train (or resume, or finish) the run of ``config``.

    Args:
        config: the run.
        data: the aligned training faces; default: :func:`load_chips` of ``config.data`` (with the judge's
            embeddings when ``config.loss.distill`` > 0).
        progress: show progress bars.
        overwrite: start afresh even if ``out_dir`` holds a run.

    Raises:
        ValueError: ``out_dir`` holds a run of another configuration (the message names the differing
            settings), or holds outputs but no checkpoint, and ``overwrite`` is False.
    """
    out = Path(config.out_dir)
    checkpoint_file, model_file = out / "checkpoint.pt", out / "model.pt"
    resume = checkpoint_file.is_file() and not overwrite
    if resume:
        saved = read_checkpoint(checkpoint_file)
        changed = differences(saved["train_config"], _comparable(config))
        if changed:
            raise ValueError(f"{out} holds a run with other settings ({', '.join(changed)}); "
                             "choose another output folder, or pass overwrite=True (--overwrite) to restart")
        if len(saved["history"]) > config.epochs:
            raise ValueError(f"{out} holds a run of {len(saved['history'])} epochs, more than epochs = "
                             f"{config.epochs}; ask for at least as many, or pass overwrite=True (--overwrite)")
    elif not overwrite and (model_file.exists() or (out / "history.json").exists()):
        raise ValueError(f"{out} holds outputs of a run but no checkpoint.pt to resume from; "
                         "pass overwrite=True (--overwrite)")
    if data is None:
        data = load_chips(training_items(config.data), config.encoder.image_size, config.data.detector,
                          judge=config.loss.distill > 0, progress=progress, device=config.device)
    if config.loss.distill > 0 and data.judge is None:
        raise ValueError("loss.distill > 0 needs the judge's embeddings: load the chips with judge=True")
    if data.chips.shape[-1] != config.encoder.image_size:
        raise ValueError(f"the chips are {data.chips.shape[-1]} pixels wide, the encoder expects "
                         f"{config.encoder.image_size}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(to_dict(config), indent=1))

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = OpticalFaceModel(config.model_config(len(data.identities))).to(config.device)
        optimizer = _optimizer(model, config)
        generator = torch.Generator().manual_seed(config.seed)
        history: list[dict] = []
        if resume:
            model.load_state_dict(saved["state_dict"])
            optimizer.load_state_dict(saved["optimizer"])
            generator.set_state(saved["generator_state"])
            torch.set_rng_state(saved["torch_rng_state"])
            history = list(saved["history"])
        for epoch in range(len(history), config.epochs):
            model.encoder.binary = epoch >= config.epochs - config.binary_epochs
            start = time.perf_counter()
            with tqdm(total=len(data), desc=f"train {config.encoder.system} epoch {epoch + 1}/{config.epochs}",
                      unit="img", disable=not progress) as bar:
                stats = _epoch(model, optimizer, data, config, generator, bar)
            seconds = time.perf_counter() - start
            history.append({"epoch": epoch + 1, "binary_mask": model.encoder.binary, "seconds": seconds,
                            "images_per_second": len(data) / seconds, **stats})
            save_checkpoint(checkpoint_file, model, {
                "train_config": _comparable(config), "optimizer": optimizer.state_dict(),
                "generator_state": generator.get_state(), "torch_rng_state": torch.get_rng_state(),
                "history": history})
        model.encoder.binary = True
        save_checkpoint(model_file, model.eval(), {"history": history, "train_config": to_dict(config)})
    (out / "history.json").write_text(json.dumps(history, indent=1))
    export_mask(model.encoder, out, overwrite=True)
    deployed, _ = load_checkpoint(model_file)
    return TrainResult(deployed, history, checkpoint_file, model_file)

