"""What :func:`faceveil.train.fit` trains: a :class:`Task` and the optimisers it asks for.

A task owns its data, its models and its losses; ``fit`` owns everything around them (seeding, batch
order, optimiser steps, learning-rate schedules, mixed precision, checkpoints, data parallelism).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from .._checks import check_choice, check_int, check_positive

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "step", "cosine")


@dataclass(frozen=True)
class OptimizerConfig:
    """One optimiser and its learning-rate schedule.

    Attributes:
        name: ``"adam"``, ``"adamw"`` (decoupled weight decay) or ``"sgd"``.
        learning_rate: the base step (> 0); a parameter group may set its own (``"lr"``).
        weight_decay: L2 penalty (adam, sgd) or decoupled decay (adamw), >= 0; a group may set its own.
        betas: Adam's moment decays, each in [0, 1).
        momentum: SGD's momentum, in [0, 1).
        schedule: ``"constant"``; ``"step"``: multiply by ``gamma`` at each of ``milestones`` (optimisation
            steps; EDSR: 1e-4 halved at step 25 000 of 50 000); ``"cosine"``: cosine decay to 0 over the run.
        milestones: increasing step counts (>= 1) of the step schedule.
        gamma: factor of the step schedule, in (0, 1].
        clip_grad_norm: clip the gradients' global L2 norm to this value before each step (0: no clipping).
    """

    name: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.0
    schedule: str = "constant"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.5
    clip_grad_norm: float = 0.0

    def __post_init__(self) -> None:
        check_choice(self.name, "optimizer name", OPTIMIZERS)
        check_positive(self.learning_rate, "learning_rate")
        if not float(self.weight_decay) >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if len(self.betas) != 2 or not all(0 <= float(b) < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not 0 <= float(self.momentum) < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {self.momentum!r}")
        check_choice(self.schedule, "schedule", SCHEDULES)
        for step in self.milestones:
            check_int(step, "each of milestones", 1)
        if list(self.milestones) != sorted(set(self.milestones)):
            raise ValueError(f"milestones must be strictly increasing, got {self.milestones!r}")
        if not 0 < float(self.gamma) <= 1:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma!r}")
        if not float(self.clip_grad_norm) >= 0:
            raise ValueError(f"clip_grad_norm must be >= 0 (0: no clipping), got {self.clip_grad_norm!r}")
        # JSON gives lists: store tuples, so that a saved and a re-read configuration compare equal
        object.__setattr__(self, "betas", tuple(self.betas))
        object.__setattr__(self, "milestones", tuple(self.milestones))


class OptimizerSpec(NamedTuple):
    """An optimiser a task asks for: its settings and its parameter groups (``torch.optim`` style dicts
    ``{"params": [...], "lr": ..., "weight_decay": ...}``; a group without ``"lr"`` or ``"weight_decay"``
    takes the config's)."""

    config: OptimizerConfig
    groups: list[dict]


class Task(abc.ABC):
    """A trainable system as :func:`~faceveil.train.fit` sees it.

    Every batch, ``fit`` steps the task's optimisers in the order :meth:`optimizers` lists them (a GAN:
    ``{"discriminator": ..., "generator": ...}``), each on the ``"total"`` of :meth:`losses` for it.

    Class attributes:
        name: shown by the progress bar.
        resumable: fields of :attr:`config` that may change when a run resumes (e.g. ``epochs``, ``device``).
        min_batch: batches of fewer samples are skipped (2 where batch norm trains).
        metric: the :meth:`validate` metric that chooses ``best.pt`` (None: no validation);
            maximize: whether larger values of it are better.
    """

    name: str = "task"
    resumable: tuple[str, ...] = ()
    min_batch: int = 1
    metric: str | None = None
    maximize: bool = True

    @property
    @abc.abstractmethod
    def config(self):
        """The configuration dataclass of the run (stored in every checkpoint)."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """The number of training samples; ``fit`` draws batches of indices into them."""

    @abc.abstractmethod
    def build(self) -> dict[str, nn.Module]:
        """The models by name, initialised from the global torch RNG (which ``fit`` seeds), on the CPU."""

    @abc.abstractmethod
    def optimizers(self, models: dict[str, nn.Module]) -> dict[str, OptimizerSpec]:
        """The optimisers by name, in stepping order, over parameters of ``models`` (built by :meth:`build`)."""

    @abc.abstractmethod
    def batch(self, index: torch.Tensor, generator: torch.Generator, device: torch.device) -> Any:
        """The training batch of sample indices ``index`` (n,) on ``device``; random augmentations draw
        from ``generator`` (this process's seeded stream, checkpointed)."""

    @abc.abstractmethod
    def losses(self, models: dict[str, nn.Module], batch: Any, optimizer: str,
               generator: torch.Generator) -> dict[str, torch.Tensor]:
        """The named losses (0-d tensors) of ``batch`` for the step of ``optimizer``; ``"total"`` is the one
        minimised, the others (and any training metric, e.g. ``"accuracy"``) are averaged into the history.

        ``models`` may be wrapped for data parallelism (call them; reach their attributes through
        :func:`faceveil.train.distributed.unwrap`); ``batch`` is what :meth:`batch` returned, and a task
        may keep results in it between its optimisers' steps (a generator's output). Random draws (sensor
        noise) come from ``generator``.
        """

    def start_epoch(self, models: dict[str, nn.Module], epoch: int, epochs: int) -> dict:
        """Called before epoch ``epoch`` (0-based) of ``epochs``, also when a run resumes inside it; returns
        JSON entries for the epoch's history record (e.g. ``{"binary_mask": True}``)."""
        return {}

    def validate(self, models: dict[str, nn.Module]) -> dict[str, float]:
        """Validation metrics of the (unwrapped, eval-mode) models after an epoch; must include
        :attr:`metric` when it is set. Runs without gradients on the process of rank 0."""
        return {}


class FaceTask(Task):
    """A task that trains on faces (:class:`~faceveil.data.chips.FaceChips`, or anything with a length)
    under one configuration dataclass: :attr:`config` and ``len(task)`` come from them. Subclasses set
    :attr:`name` and the rest of :class:`Task`."""

    def __init__(self, config, data) -> None:
        self._config, self.data = config, data

    @property
    def config(self):
        return self._config

    def __len__(self) -> int:
        return len(self.data)
