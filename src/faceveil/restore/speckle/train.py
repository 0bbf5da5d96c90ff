"""Training a speckle reconstructor (``faceveil train speckle``): one network per grit, as in seed 001's
Cases 1-4, on the ``train`` split of a speckle dataset (seen faces at 0 and 20 mm), in the shared loop.

Paper: Adam at 1e-4 for the first 100 of 200 epochs, 1e-5 for the next 50 and 1e-6 for the last 50
(milestones at 1/2 and 3/4 of the run here, whatever its length), an L2 regulariser (weight decay), batch
2, the cross-entropy or the negative Pearson correlation as the loss. Validation each epoch on ``test``
(held-out faces, 0 and 20 mm) picks ``best.pt`` by PCC.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..._checks import check_choice, check_int, check_positive
from ...config import load_config
from ...data.protocols import Split
from ...eval.quality import jaccard, pcc
from ...train import FaceTask, OptimizerConfig, OptimizerSpec
from ..training import RestorerTrainResult, fit_and_save, prepare_run
from .dataset import SpeckleDataConfig, SpeckleDataset, generate
from .diffuser import GRITS
from .model import (ARCHITECTURES, DenseFCNSettings, SpTSettings, UNetSettings, build_network, npcc_loss,
                    save_model)

CONFIGS = Path(__file__).parent / "configs"
RESUMABLE_CHANGES = ("epochs", "out_dir", "device")
LOSSES = ("npcc", "ce")


@dataclass(frozen=True)
class SpeckleModelConfig:
    """The network: ``architecture`` "spt" (SpT UNet of ``spt``; ``heads``, ``expansion``, ``bottleneck``
    give SpT UNet-B), "unet" (the U-Net baseline of ``unet``) or "densenet" (the IDiffNet-style DenseNet-FCN
    baseline of ``densenet``); the other sections are ignored."""

    architecture: str = "spt"
    spt: SpTSettings = field(default_factory=SpTSettings)
    unet: UNetSettings = field(default_factory=UNetSettings)
    densenet: DenseFCNSettings = field(default_factory=DenseFCNSettings)

    def __post_init__(self) -> None:
        check_choice(self.architecture, "architecture", ARCHITECTURES)

    def settings(self) -> dict:
        """The settings :func:`~faceveil.restore.speckle.model.build_network` builds the network from."""
        return {"architecture": self.architecture, **asdict(getattr(self, self.architecture))}


@dataclass(frozen=True)
class SpeckleTrainConfig:
    """A training run (``faceveil train speckle --config FILE`` reads it from JSON).

    Attributes:
        out_dir: where checkpoints and outputs go.
        model: the network; dataset: the speckle dataset (generated on first use, cached); grit: the
            diffuser whose speckle it learns to invert.
        loss: ``"npcc"`` or ``"ce"`` (binary cross-entropy); learning_rate, weight_decay: Adam's.
        epochs, batch_size, seed, device: the run.
    """

    out_dir: str
    model: SpeckleModelConfig = field(default_factory=SpeckleModelConfig)
    dataset: SpeckleDataConfig = field(default_factory=SpeckleDataConfig)
    dataset_dir: str | None = None
    grit: str = "600"
    loss: str = "npcc"
    learning_rate: float = 1e-4
    weight_decay: float = 1e-5
    epochs: int = 200
    batch_size: int = 2
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must name the output folder of the run")
        object.__setattr__(self, "grit", str(self.grit))
        check_choice(self.grit, "grit", tuple(GRITS))
        if self.grit not in self.dataset.grits:
            raise ValueError(f"grit {self.grit} is not among the dataset's grits {self.dataset.grits}")
        check_choice(self.loss, "loss", LOSSES)
        check_positive(self.learning_rate, "learning_rate")
        if not float(self.weight_decay) >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)
        build_network(self.model.settings())  # bad widths fail here, not mid-training


def load_train_config(path: str | Path, data: dict | None = None, **overrides) -> SpeckleTrainConfig:
    """A :class:`SpeckleTrainConfig` from a JSON file or a shipped one by name (``smoke``, ``cpu-spt``,
    ``cpu-spt-b``, ``cpu-unet``, ``cpu-densenet``, ``paper``): :func:`faceveil.config.load_config`; ``data``
    updates the dataset's ``data`` section."""
    config = load_config(SpeckleTrainConfig, path, CONFIGS, None, **overrides)
    changes = {k: v for k, v in (data or {}).items() if v is not None}
    if not changes:
        return config
    faces = replace(config.dataset, data=replace(config.dataset.data, **changes))
    return replace(config, dataset=faces)


def reconstruction_loss(prediction: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    """The training loss: NPCC or binary cross-entropy of probabilities (N, 1, H, W) against {0, 1} labels."""
    if loss == "npcc":
        return npcc_loss(prediction, target)
    return F.binary_cross_entropy(prediction.clamp(1e-6, 1 - 1e-6), target)


class SpeckleTask(FaceTask):
    """The network (``"net"``) on speckle/label pairs ``data`` = (speckle (M, 1, S, S), labels (M, 1, S, S))
    for :func:`~faceveil.train.fit`, validated on ``validation`` pairs (PCC picks ``best.pt``)."""

    resumable = RESUMABLE_CHANGES
    min_batch = 2  # batch norm
    metric = "pcc"

    def __init__(self, config: SpeckleTrainConfig, data, validation=None) -> None:
        super().__init__(config, data[0])
        self.speckle, self.labels = data
        self.validation = validation
        self.name = f"train speckle {config.model.architecture} grit {config.grit}"

    def build(self) -> dict[str, nn.Module]:
        return {"net": build_network(self._config.model.settings())}

    def optimizers(self, models) -> dict[str, OptimizerSpec]:
        c = self._config
        steps = c.epochs * math.ceil(len(self) / c.batch_size)
        milestones = tuple(sorted({max(1, steps // 2), max(2, (3 * steps) // 4)}))
        adam = OptimizerConfig("adam", c.learning_rate, c.weight_decay, schedule="step", milestones=milestones,
                               gamma=0.1)
        return {"net": OptimizerSpec(adam, [{"params": list(models["net"].parameters())}])}

    def batch(self, index, generator, device):
        return self.speckle[index].to(device), self.labels[index].to(device)

    def losses(self, models, batch, optimizer, generator) -> dict[str, torch.Tensor]:
        speckle, labels = batch
        prediction = models["net"](speckle)
        total = reconstruction_loss(prediction, labels, self._config.loss)
        return {"total": total, "pcc": pcc(prediction.detach(), labels).mean()}

    def validate(self, models) -> dict[str, float]:
        if self.validation is None:
            return {}
        speckle, labels = self.validation
        net = models["net"]
        device = next(net.parameters()).device
        outputs = torch.cat([net(s.to(device)).cpu() for s in speckle.split(16)])
        return {"pcc": float(pcc(outputs, labels).mean()), "jaccard": float(jaccard(outputs, labels).mean())}


def train(config: SpeckleTrainConfig, progress: bool = True, overwrite: bool = False,
          max_steps: int | None = None) -> RestorerTrainResult:
    """Train (or resume, or finish) the run of ``config``; the dataset is generated first if it is not.

    Raises:
        ValueError: ``out_dir`` holds a run of other settings.
    """
    settings = prepare_run(config, SpeckleTask, overwrite, max_steps)
    dataset: SpeckleDataset = generate(config.dataset, config.dataset_dir, progress=progress, device=config.device)
    speckle, labels, rows = dataset.pairs("train", config.grit)
    validation = dataset.pairs("test", config.grit)[:2]
    people = sorted({dataset.faces[r]["person"] for r in rows})
    split: Split = config.dataset.data.protocol_split()
    d = config.dataset
    chip = {"method": "dlib-chip", "size": [d.chip_size, d.chip_size], "padding": d.padding}
    extra = {"grit": config.grit, "setting": d.setting, "loss": config.loss, "dataset": str(dataset.folder)}
    return fit_and_save(SpeckleTask(config, (speckle, labels), validation), settings, split, people, "net",
                        save_model, chip, extra, progress, overwrite)
