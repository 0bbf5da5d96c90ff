"""``faceveil train superres``: EDSR x4 with seed 003's identity-preserved loss, trained resumably.

Every step draws one down-sampling factor for the batch from ``factors`` (seed 003 Sec. 4.1: 4, 8 or 16),
down-samples the high-resolution chips (HR) to the low-resolution input (LR) by antialiased bicubic
interpolation, and asks EDSR x4 for the "medium-resolution" face MR at 4 x the LR size (for factor 4 the
HR itself). The loss is Eq. 4, L1(SR, MR) + lambda (1 - cos(F(up(SR)), F(HR))) with F frozen and ``up``
bilinear (training); the learning rate is halved at the fractions ``halve_at`` of the run (the seed: 1e-4,
halved at 25k of 50k iterations).

The chips are dlib's (padding 0.25), the geometry of both judges, at ``chip_size`` (112 by default: the
seed's 112-pixel height, square, so the factors give 28, 14 and 7 pixels a side). They come from one
alignment of every photo of the data root (one cache for every split and for ``faceveil bench superres``),
of which the training people of the protocol split are kept.

Outputs in ``out_dir``: ``checkpoint.pt`` (resume), ``model.pt`` (:func:`~.model.save_model`, float16
weights, the provenance with the people trained on), ``history.json``, ``train_config.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..._checks import check_choice, check_int, check_positive
from ...config import load_config
from ...data.chips import CHIP_PADDING, ChipSpec, FaceChips
from ...data.protocols import DataConfig, Split
from ...data.resample import bicubic_resize, low_resolution_size
from ...train import FaceTask, OptimizerConfig, OptimizerSpec
from ..training import RestorerTrainResult, train_restorer
from .losses import differentiable_judge, identity_features, identity_loss, image_loss
from .model import EDSR, SCALE, save_model

#: the configurations shipped with faceveil, by name (``--config smoke``)
CONFIGS = Path(__file__).parent / "configs"
#: settings that may change between a run and its resumption
RESUMABLE_CHANGES = ("epochs", "out_dir", "device")


@dataclass(frozen=True)
class EDSRConfig:
    """EDSR_{blocks, filters} (:class:`~.model.EDSR`): 16/64 (CPU) or 32/256 (the paper's large model)."""

    blocks: int = 16
    filters: int = 64
    res_scale: float = 0.1

    def build(self) -> EDSR:
        return EDSR(self.blocks, self.filters, self.res_scale, 3)


@dataclass(frozen=True)
class SuperResTrainConfig:
    """A training run (``faceveil train superres --config FILE`` reads it from JSON).

    Attributes:
        out_dir: where checkpoints and outputs go.
        model: the EDSR.
        data: the training faces (the training people of a protocol split; every photo of each, min_images 1).
        chip_size: side of the high-resolution dlib chips (padding 0.25), divisible by every factor's LR side.
        factors: down-sampling factors drawn per batch, each >= 4 (EDSR x4's output may not exceed the HR).
        identity_weight: lambda of Eq. 4 (0: the image loss alone, the seed's EDSR_{n,k,0}).
        identity_judge: F, a differentiable embedder on dlib's chip (``dlib-torch``; ``judge2`` also works).
        epochs, batch_size: the run (steps = epochs x ceil(faces / batch_size)).
        learning_rate: Adam's step; halve_at: fractions of the run's steps where it is halved.
        flip: random horizontal flips (probability 0.5).
        seed: initialisation, batch order, factors and flips.
        device: torch device.
    """

    out_dir: str
    model: EDSRConfig = field(default_factory=EDSRConfig)
    data: DataConfig = field(default_factory=lambda: DataConfig(min_images=1))
    chip_size: int = 112
    factors: tuple[int, ...] = (4, 8, 16)
    identity_weight: float = 0.5
    identity_judge: str = "dlib-torch"
    epochs: int = 6
    batch_size: int = 16
    learning_rate: float = 1e-4
    halve_at: tuple[float, ...] = (0.5,)
    flip: bool = True
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.out_dir:
            raise ValueError("out_dir must name the output folder of the run")
        check_int(self.chip_size, "chip_size", 16)
        object.__setattr__(self, "factors", tuple(self.factors))
        object.__setattr__(self, "halve_at", tuple(self.halve_at))
        if not self.factors:
            raise ValueError("factors must list at least one down-sampling factor")
        for factor in self.factors:
            check_int(factor, "each of factors", SCALE)
        if not float(self.identity_weight) >= 0:
            raise ValueError(f"identity_weight must be >= 0, got {self.identity_weight!r}")
        check_choice(self.identity_judge, "identity_judge", ("dlib-torch", "judge2", "faceres", "faceres-deep",
                                                             "mobileface", "mobilefacenet"))
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)
        check_positive(self.learning_rate, "learning_rate")
        if list(self.halve_at) != sorted(set(self.halve_at)) or not all(0 < f < 1 for f in self.halve_at):
            raise ValueError(f"halve_at must be increasing fractions in (0, 1), got {self.halve_at!r}")
        check_int(self.seed, "seed", 0)

    def chip(self) -> ChipSpec:
        """The high-resolution chips: dlib's, padding 0.25, RGB, ``chip_size`` square."""
        return ChipSpec("dlib-chip", self.chip_size, CHIP_PADDING, 3, detector=self.data.detector)


def load_train_config(path: str | Path, data: dict | None = None, **overrides) -> SuperResTrainConfig:
    """A :class:`SuperResTrainConfig` from a JSON file or a shipped configuration by name (``smoke``, ``cpu``,
    ``paper``): :func:`faceveil.config.load_config`."""
    return load_config(SuperResTrainConfig, path, CONFIGS, data, **overrides)


class SuperResTask(FaceTask):
    """EDSR (``"srnet"``) on the faces ``data`` for :func:`~faceveil.train.fit`: Adam with the halving
    schedule, Eq. 4 (``"l1"``, ``"identity"`` with its weight > 0, ``"total"``)."""

    resumable = RESUMABLE_CHANGES

    def __init__(self, config: SuperResTrainConfig, data: FaceChips, judge=None) -> None:
        super().__init__(config, data)
        self.name = f"train EDSR_{config.model.blocks},{config.model.filters},{config.identity_weight:g}"
        if judge is None and config.identity_weight > 0:
            judge = differentiable_judge(config.identity_judge, config.device)
        self.judge = judge

    def total_steps(self) -> int:
        return self._config.epochs * math.ceil(len(self.data) / self._config.batch_size)

    def build(self) -> dict[str, EDSR]:
        return {"srnet": self._config.model.build()}

    def optimizers(self, models) -> dict[str, OptimizerSpec]:
        total = self.total_steps()
        milestones = tuple(sorted({max(1, round(f * total)) for f in self._config.halve_at}))
        adam = OptimizerConfig("adam", self._config.learning_rate, schedule="step" if milestones else "constant",
                               milestones=milestones, gamma=0.5)
        return {"srnet": OptimizerSpec(adam, [{"params": list(models["srnet"].parameters())}])}

    def batch(self, index, generator, device):
        """(LR (n, 3, h, w), MR (n, 3, 4h, 4w), HR (n, 3, S, S)), all in [0, 1], for one factor drawn for the
        batch; flipped at random."""
        hr = self.data.images(index)
        if self._config.flip:
            flipped = torch.rand(len(index), generator=generator) < 0.5
            hr[flipped] = hr[flipped].flip(-1)
        factors = self._config.factors
        factor = factors[int(torch.randint(len(factors), (1,), generator=generator))]
        low = low_resolution_size(*hr.shape[-2:], factor)
        hr = hr.to(device)
        return bicubic_resize(hr, low), bicubic_resize(hr, (SCALE * low[0], SCALE * low[1])), hr

    def losses(self, models, batch, optimizer, generator) -> dict[str, torch.Tensor]:
        lr, mr, hr = batch
        sr = models["srnet"](lr)
        terms = {"l1": image_loss(sr, mr)}
        terms["total"] = terms["l1"]
        if self._config.identity_weight > 0:
            with torch.no_grad():
                target = identity_features(self.judge, hr)
            terms["identity"] = identity_loss(self.judge, sr, target)
            terms["total"] = terms["l1"] + self._config.identity_weight * terms["identity"]
        return terms


def train(config: SuperResTrainConfig, data: FaceChips | None = None, progress: bool = True, overwrite: bool = False,
          max_steps: int | None = None, split: Split | None = None) -> RestorerTrainResult:
    """Train (or resume, or finish) the run of ``config``: :func:`~faceveil.restore.training.train_restorer`
    (its arguments and errors)."""
    extra = {"factors": list(config.factors), "identity_weight": config.identity_weight,
             "identity_judge": config.identity_judge}
    return train_restorer(config, SuperResTask, "srnet", save_model, extra, data, progress, overwrite, max_steps,
                          split)
