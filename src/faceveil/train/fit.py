"""One training loop for every trainable system: :func:`fit` of a :class:`~faceveil.train.task.Task`.

``fit`` seeds every random choice from ``FitConfig.seed`` (initialisation from the global torch RNG;
the batch order from its own generator, the same in every process; augmentations and noise from a
per-process generator), steps the task's optimisers batch by batch (gradient clipping, learning-rate
schedules, mixed precision on CUDA), and writes ``checkpoint.pt`` atomically after every epoch (and
every ``checkpoint_every`` steps, and where ``max_steps`` stops it). Started again on the same folder,
it resumes from the checkpoint and ends with the same weights and history, bit for bit, as a run that
was never interrupted (on the same machine and number of processes). With a validation metric it keeps
``best.pt``, the checkpoint of the best epoch. Under ``torchrun`` it trains data-parallel
(:mod:`faceveil.train.distributed`).

Outputs in ``out_dir``: ``checkpoint.pt``, ``best.pt`` (with a validation metric), ``history.json``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from .. import __version__
from .._checks import check_int, check_positive
from ..config import differences, to_dict
from ..provenance import provenance
from ..report.io import write_json
from . import distributed
from .checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, read_checkpoint, save_atomic
from .distributed import Context
from .task import OptimizerConfig, OptimizerSpec, Task

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
HISTORY = "history.json"


@dataclass(frozen=True)
class FitConfig:
    """The loop around a task.

    Attributes:
        epochs: passes over the task's samples.
        batch_size: samples per step in each process (``torchrun`` with N processes: N x batch_size per step).
        seed: every random choice of the run.
        device: ``"cpu"`` or ``"cuda"`` (under ``torchrun``, each process takes ``cuda:LOCAL_RANK``), or
            one device (``"cuda:1"``).
        max_steps: stop after this many optimisation steps in all (a step: one batch, every optimiser
            stepped once) and checkpoint there; a later run with a larger budget (or None: none) resumes.
        checkpoint_every: also checkpoint every this many steps (0: at the end of each epoch only).
        mixed_precision: ``torch.autocast`` with a ``GradScaler`` on CUDA; the CPU always trains in float32.
    """

    epochs: int = 1
    batch_size: int = 32
    seed: int = 0
    device: str = "cpu"
    max_steps: int | None = None
    checkpoint_every: int = 0
    mixed_precision: bool = False

    def __post_init__(self) -> None:
        check_int(self.epochs, "epochs", 1)
        check_int(self.batch_size, "batch_size", 1)
        check_int(self.seed, "seed", 0)
        if not isinstance(self.device, str) or not self.device:
            raise ValueError(f"device must name a torch device ('cpu', 'cuda'), got {self.device!r}")
        if self.max_steps is not None:
            check_int(self.max_steps, "max_steps", 1)
        check_int(self.checkpoint_every, "checkpoint_every", 0)
        if not isinstance(self.mixed_precision, bool):
            raise ValueError(f"mixed_precision must be true or false, got {self.mixed_precision!r}")


#: FitConfig settings that may change when a run resumes
RESUMABLE = ("epochs", "max_steps", "checkpoint_every", "device")


@dataclass
class FitResult:
    """The trained models (unwrapped, on the training device), the per-epoch history, the optimisation
    steps done, whether every epoch ran (False: ``max_steps`` stopped the run), the checkpoint files
    (None without an output folder; ``best`` None without a validation metric) and whether this process
    is the one that writes the files."""

    models: dict[str, nn.Module]
    history: list[dict]
    steps: int
    finished: bool
    checkpoint: Path | None
    best: Path | None
    main: bool


def schedule_factor(config: OptimizerConfig, step: int, total_steps: int) -> float:
    """The factor of the base learning rate after ``step`` optimisation steps of ``total_steps``."""
    if config.schedule == "step":
        return config.gamma ** sum(step >= milestone for milestone in config.milestones)
    if config.schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    return 1.0


def make_optimizer(spec: OptimizerSpec, name: str = "optimizer") -> torch.optim.Optimizer:
    """The ``torch.optim`` optimiser of ``spec``; raises ``ValueError`` for a parameter group without
    parameters or with a learning rate <= 0 or a negative weight decay."""
    config = spec.config
    if not spec.groups:
        raise ValueError(f"{name} has no parameter groups")
    for i, group in enumerate(spec.groups):
        if not isinstance(group, dict) or not group.get("params"):
            raise ValueError(f"parameter group {i} of {name} must be a dict with a non-empty 'params' list")
        if "lr" in group:
            check_positive(group["lr"], f"lr of parameter group {i} of {name}")
        if not float(group.get("weight_decay", 0.0)) >= 0:
            raise ValueError(f"weight_decay of parameter group {i} of {name} must be >= 0, "
                             f"got {group['weight_decay']!r}")
    groups = [dict(group) for group in spec.groups]
    if config.name == "sgd":
        return torch.optim.SGD(groups, lr=config.learning_rate, momentum=config.momentum,
                               weight_decay=config.weight_decay)
    kind = torch.optim.AdamW if config.name == "adamw" else torch.optim.Adam
    return kind(groups, lr=config.learning_rate, betas=config.betas, weight_decay=config.weight_decay)


def _without(config: dict, keys: tuple[str, ...]) -> dict:
    """``config`` without ``keys``; a dotted key (``"attack.epochs"``) names a setting of a section."""
    top = {k for k in keys if "." not in k}
    nested: dict[str, tuple[str, ...]] = {}
    for key in keys:
        if "." in key:
            section, rest = key.split(".", 1)
            nested[section] = (*nested.get(section, ()), rest)
    return {k: _without(v, nested[k]) if k in nested and isinstance(v, dict) else v
            for k, v in config.items() if k not in top}


def resume_point(out_dir: str | Path, task_config, config: FitConfig, *, resumable: tuple[str, ...] = (),
                 overwrite: bool = False, outputs: tuple[str, ...] = ()) -> dict | None:
    """The checkpoint a :func:`fit` in ``out_dir`` resumes from, or None where it starts afresh.

    Args:
        out_dir: the run's folder.
        task_config: the task's configuration dataclass; config: the fit's.
        resumable: settings of ``task_config`` that may differ from the checkpoint's (the task's
            :attr:`~faceveil.train.task.Task.resumable`); the fit's :data:`RESUMABLE` may always differ.
        overwrite: start afresh whatever ``out_dir`` holds.
        outputs: further files the caller writes into ``out_dir`` (a fresh run would replace them).

    Raises:
        ValueError: without ``overwrite``, ``out_dir`` holds a run with other settings (the message names
            them), or a run longer than ``config.epochs``, or outputs of a run but no checkpoint.
    """
    out = Path(out_dir)
    if overwrite:
        return None
    if not (out / CHECKPOINT).is_file():
        present = [name for name in (HISTORY, BEST, *outputs) if (out / name).exists()]
        if present:
            raise ValueError(f"{out} holds outputs of a run ({', '.join(present)}) but no {CHECKPOINT} to resume "
                             "from; pass overwrite=True (--overwrite)")
        return None
    saved = read_checkpoint(out / CHECKPOINT)
    changed = differences(_without(saved["config"], resumable), _without(to_dict(task_config), resumable))
    changed += [f"fit.{key}" for key in differences(_without(saved["fit"], RESUMABLE),
                                                    _without(to_dict(config), RESUMABLE))]
    if changed:
        raise ValueError(f"{out} holds a run with other settings ({', '.join(changed)}); "
                         "choose another output folder, or pass overwrite=True (--overwrite) to restart")
    started = len(saved["history"]) + (saved["partial"] is not None)
    if started > config.epochs:
        raise ValueError(f"{out} holds a run of {started} epochs, more than epochs = {config.epochs}; "
                         "ask for at least as many, or pass overwrite=True (--overwrite)")
    return saved


def _stream_seed(seed: int, stream: str, rank: int) -> int:
    """A seed for one random stream of one process, unrelated to the other streams' seeds."""
    return int.from_bytes(hashlib.sha256(f"{seed}/{stream}/{rank}".encode()).digest()[:8], "little") >> 1


def _batches(order: torch.Tensor, context: Context, batch_size: int, min_batch: int) -> list[torch.Tensor]:
    """This process's batches of the epoch order ``order`` (too small ones dropped; the same number in
    every process)."""
    return [b for b in distributed.shard(order, context).split(batch_size) if len(b) >= min_batch]


def _validate(task: Task, models: dict[str, nn.Module], rng_devices: list) -> dict[str, float]:
    """The task's validation metrics (eval mode, no gradients, the random states left untouched)."""
    modes = {name: model.training for name, model in models.items()}
    for model in models.values():
        model.eval()
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=rng_devices):
            metrics = {key: float(value) for key, value in task.validate(models).items()}
    finally:
        for name, model in models.items():
            model.train(modes[name])
    if task.metric not in metrics:
        raise ValueError(f"{task.name}: validate() must return the metric {task.metric!r}, got {sorted(metrics)}")
    return metrics


class _Loop:
    """The state of one fit: models, optimisers, schedulers, scaler, random streams, counters, history."""

    def __init__(self, task: Task, config: FitConfig, context: Context) -> None:
        self.task, self.config, self.context = task, config, context
        self.rng_devices = [context.device] if context.device.type == "cuda" else []
        torch.manual_seed(config.seed)
        self.models = task.build()
        if not self.models or not all(isinstance(m, nn.Module) for m in self.models.values()):
            raise ValueError(f"{task.name}: build() must return a non-empty dict of torch modules")
        for model in self.models.values():
            model.to(context.device)
        self.specs = task.optimizers(self.models)
        if not self.specs:
            raise ValueError(f"{task.name}: optimizers() must return at least one optimizer")
        self.optimizers = {name: make_optimizer(spec, name) for name, spec in self.specs.items()}
        if len(task) < 1:
            raise ValueError(f"{task.name} has no training samples")
        self.steps_per_epoch = len(_batches(torch.arange(len(task)), context, config.batch_size, task.min_batch))
        if self.steps_per_epoch == 0:
            raise ValueError(f"{task.name}: {len(task)} samples in batches of batch_size = {config.batch_size} (in "
                             f"each of {context.world_size} process(es)) give no batch of at least {task.min_batch} "
                             "samples")
        total = config.epochs * self.steps_per_epoch
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(
            optimizer, partial(schedule_factor, self.specs[name].config, total_steps=total))
            for name, optimizer in self.optimizers.items()}
        self.amp = config.mixed_precision and context.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.order_generator = torch.Generator().manual_seed(config.seed)
        self.sample_generator = torch.Generator().manual_seed(_stream_seed(config.seed, "sample", context.rank))
        torch.manual_seed(_stream_seed(config.seed, "torch", context.rank))  # dropout & co., per process
        self.step, self.history, self.best, self.partial = 0, [], None, None
        self.sums: dict[str, float] = {}
        self.seen = 0

    def restore(self, saved: dict) -> None:
        """Continue from checkpoint ``saved`` (every process reads the same one)."""
        for name, model in self.models.items():
            model.load_state_dict(saved["models"][name])
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(saved["optimizers"][name])
            self.schedulers[name].load_state_dict(saved["schedulers"][name])
        if saved["scaler"]:
            self.scaler.load_state_dict(saved["scaler"])
        self.order_generator.set_state(saved["order_generator"])
        if self.context.rank < len(saved["ranks"]):  # with more processes than before, new ones keep fresh streams
            mine = saved["ranks"][self.context.rank]
            torch.set_rng_state(mine["torch"])
            self.sample_generator.set_state(mine["sample"])
            if self.rng_devices and mine["cuda"] is not None:
                torch.cuda.set_rng_state(mine["cuda"], self.context.device)
            self.sums, self.seen = dict(mine["sums"]), mine["seen"]
        self.step, self.history = saved["step"], list(saved["history"])
        self.best, self.partial = saved["best"], saved["partial"]

    def payload(self, task_config: dict, fit_config: dict, record: dict) -> dict:
        """The checkpoint of the present state (collective: every process must call it)."""
        mine = {"torch": torch.get_rng_state(), "sample": self.sample_generator.get_state(),
                "cuda": torch.cuda.get_rng_state(self.context.device) if self.rng_devices else None,
                "sums": dict(self.sums), "seen": self.seen}
        return {"format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "faceveil_version": __version__,
                "task": self.task.name, "config": task_config, "fit": fit_config, "provenance": provenance(**record),
                "world_size": self.context.world_size,
                "models": {name: model.state_dict() for name, model in self.models.items()},
                "optimizers": {name: o.state_dict() for name, o in self.optimizers.items()},
                "schedulers": {name: s.state_dict() for name, s in self.schedulers.items()},
                "scaler": self.scaler.state_dict(), "order_generator": self.order_generator.get_state(),
                "ranks": distributed.gather(mine, self.context), "step": self.step, "history": self.history,
                "best": self.best, "partial": self.partial}

    def train_step(self, models: dict[str, nn.Module], batch) -> dict[str, torch.Tensor]:
        """Step every optimiser once on ``batch``; the detached losses (prefixed ``name/`` with several)."""
        out = {}
        for name, optimizer in self.optimizers.items():
            with torch.autocast(self.context.device.type, enabled=self.amp):
                terms = self.task.losses(models, batch, name, self.sample_generator)
            if "total" not in terms:
                raise ValueError(f"{self.task.name}: losses() for {name!r} must include 'total', got {sorted(terms)}")
            optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(terms["total"]).backward()
            clip = self.specs[name].config.clip_grad_norm
            if clip > 0:
                self.scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_([p for group in optimizer.param_groups for p in group["params"]], clip)
            self.scaler.step(optimizer)
            self.schedulers[name].step()
            prefix = f"{name}/" if len(self.optimizers) > 1 else ""
            out |= {prefix + key: value.detach() for key, value in terms.items()}
        self.scaler.update()
        return out


def fit(task: Task, config: FitConfig, out_dir: str | Path | None, *, protocol: dict | None = None,
        data: dict | None = None, overwrite: bool = False, progress: bool = True,
        outputs: tuple[str, ...] = ()) -> FitResult:
    """Train ``task`` (or resume, or finish its run) in ``out_dir``.

    Args:
        task: what to train.
        config: the loop's settings.
        out_dir: the run's folder: ``checkpoint.pt``, ``best.pt``, ``history.json``; None: write nothing
            (a short training kept in memory, which cannot resume).
        protocol: the training protocol for the checkpoints' provenance, with the identities trained on
            (``Split.record()``, or ``{"train_identities": identity_record(names)}``).
        data: what the task read, for the provenance.
        overwrite: start afresh even if ``out_dir`` holds a run.
        progress: show a progress bar (the process of rank 0 only) with the running mean losses.
        outputs: further files the caller writes into ``out_dir`` (see :func:`resume_point`).

    Each history record: ``epoch`` (1-based), ``steps`` (done so far), the task's
    :meth:`~faceveil.train.task.Task.start_epoch` entries, ``seconds``, ``samples_per_second`` (all
    processes), ``loss`` (the per-sample means of every term :meth:`~faceveil.train.task.Task.losses`
    returned, over all processes) and, with a metric, ``validation``.

    Raises:
        ValueError: bad arguments, or an ``out_dir`` that :func:`resume_point` refuses.
    """
    if not isinstance(task, Task):
        raise ValueError(f"task must be a faceveil.train.Task, got {type(task).__name__}")
    if not isinstance(config, FitConfig):
        raise ValueError(f"config must be a FitConfig, got {type(config).__name__}")
    out = None if out_dir is None else Path(out_dir)
    saved = None if out is None else resume_point(out, task.config, config, resumable=task.resumable,
                                                  overwrite=overwrite, outputs=outputs)
    task_config, fit_config = to_dict(task.config), to_dict(config)
    record = {"protocol": protocol, "data": data, "seed": config.seed}
    with distributed.session(config.device) as context:
        rng_devices = [context.device] if context.device.type == "cuda" else []
        with torch.random.fork_rng(devices=rng_devices):
            loop = _Loop(task, config, context)
            if saved is not None:
                loop.restore(saved)
            elif context.main and out is not None:
                out.mkdir(parents=True, exist_ok=True)
                for name in (CHECKPOINT, BEST, HISTORY):  # of a run that overwrite replaces
                    (out / name).unlink(missing_ok=True)
            _run(loop, out, task_config, fit_config, record, progress)
        distributed.barrier(context)
    best = out / BEST if out is not None and task.metric is not None and loop.best is not None else None
    return FitResult(loop.models, loop.history, loop.step, len(loop.history) == config.epochs,
                     None if out is None else out / CHECKPOINT, best, context.main)


def _save(loop: _Loop, out: Path | None, task_config: dict, fit_config: dict, record: dict,
          best: bool = False) -> None:
    if out is None:
        return
    payload = loop.payload(task_config, fit_config, record)  # collective
    if loop.context.main:
        save_atomic(payload, out / CHECKPOINT)
        if best:
            save_atomic(payload, out / BEST)
        write_json(out / HISTORY, loop.history)


def _run(loop: _Loop, out: Path | None, task_config: dict, fit_config: dict, record: dict, progress: bool) -> None:
    task, config, context = loop.task, loop.config, loop.context
    models = {name: distributed.wrap(model, context) for name, model in loop.models.items()}
    budget = config.max_steps if config.max_steps is not None else math.inf
    while len(loop.history) < config.epochs and loop.step < budget:
        epoch = len(loop.history)
        if loop.partial is None:
            order, done, elapsed = torch.randperm(len(task), generator=loop.order_generator), 0, 0.0
            loop.sums, loop.seen = {}, 0
        else:
            order, done, elapsed = loop.partial["order"], loop.partial["batch"], loop.partial["seconds"]
        batches = _batches(order, context, config.batch_size, task.min_batch)
        entries = task.start_epoch(loop.models, epoch, config.epochs)
        for model in loop.models.values():
            model.train()
        start = time.perf_counter()
        with tqdm(total=len(batches), initial=done, desc=f"{task.name} epoch {epoch + 1}/{config.epochs}",
                  unit="step", disable=not (progress and context.main)) as bar:
            for i in range(done, len(batches)):
                if loop.step >= budget or (config.checkpoint_every and i > done
                                           and loop.step % config.checkpoint_every == 0):
                    loop.partial = {"order": order, "batch": i, "seconds": elapsed + time.perf_counter() - start}
                    _save(loop, out, task_config, fit_config, record)
                    if loop.step >= budget:
                        return
                index = batches[i]
                terms = loop.train_step(models, task.batch(index, loop.sample_generator, context.device))
                loop.step += 1
                for key, value in terms.items():
                    loop.sums[key] = loop.sums.get(key, 0.0) + float(value) * len(index)
                loop.seen += len(index)
                bar.update()
                bar.set_postfix({key: f"{value / loop.seen:.4g}" for key, value in loop.sums.items()})
        seconds = elapsed + time.perf_counter() - start
        keys = sorted(loop.sums)
        totals = distributed.all_sum(torch.tensor([loop.seen] + [loop.sums[k] for k in keys], dtype=torch.float64),
                                     context).tolist()
        entry = {"epoch": epoch + 1, "steps": loop.step, **entries, "seconds": seconds,
                 "samples_per_second": totals[0] / seconds,
                 "loss": {k: v / totals[0] for k, v in zip(keys, totals[1:])}}
        improved = False
        if task.metric is not None:
            metrics = distributed.broadcast(_validate(task, loop.models, loop.rng_devices) if context.main else None,
                                            context)
            entry["validation"] = metrics
            value = metrics[task.metric]
            improved = loop.best is None or (value > loop.best["value"] if task.maximize
                                             else value < loop.best["value"])
            if improved:
                loop.best = {"epoch": epoch + 1, "metric": task.metric, "value": value}
        loop.history.append(entry)
        loop.partial, loop.sums, loop.seen = None, {}, 0
        _save(loop, out, task_config, fit_config, record, best=improved)


def fit_on_split(task: Task, config: FitConfig, out_dir: str | Path, split, people, *, overwrite: bool = False,
                 progress: bool = True, outputs: tuple[str, ...] = ()) -> tuple[FitResult, dict]:
    """:func:`fit` of a task that trains on ``people`` of the protocol split ``split``
    (:class:`~faceveil.data.protocols.Split`): the process of rank 0 writes the task's configuration to
    ``out_dir/train_config.json``, and every checkpoint records the split with the identity record of
    ``people``. Returns the result and that protocol record (for the provenance of the deployable file)."""
    from ..data.identities import identity_record

    out = Path(out_dir)
    if distributed.is_main():
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "train_config.json", to_dict(task.config))
    protocol = {**split.record(), "train_identities": identity_record(people)}
    return fit(task, config, out, protocol=protocol, overwrite=overwrite, progress=progress, outputs=outputs), protocol

