"""The generic training loop (faceveil.train): bit-for-bit resumption, several optimisers, the best
checkpoint, atomic checkpoints, configuration checks and data parallelism over two gloo processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from faceveil.train import (FitConfig, OptimizerConfig, OptimizerSpec, Task, fit, make_optimizer, read_checkpoint,
                            schedule_factor)
from faceveil.train.distributed import Context, shard

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TIMING = ("seconds", "samples_per_second")


@dataclass(frozen=True)
class ToyConfig:
    samples: int = 48
    hidden: int = 8
    optimizer: OptimizerConfig = OptimizerConfig("adam", learning_rate=0.02)
    epochs: int = 4


class Regression(Task):
    """y = x . w with noisy inputs (augmentation from the task's generator) and dropout (global RNG);
    validation metric: the mean squared error on fixed samples (minimised)."""

    name = "regression"
    resumable = ("epochs",)
    min_batch = 2
    metric = "mse"
    maximize = False

    def __init__(self, config: ToyConfig = ToyConfig()) -> None:
        g = torch.Generator().manual_seed(123)
        self._config = config
        self.x = torch.randn(config.samples, 4, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])
        self.epoch = -1

    @property
    def config(self):
        return self._config

    def __len__(self) -> int:
        return len(self.x)

    def build(self):
        return {"model": nn.Sequential(nn.Linear(4, self.config.hidden), nn.ReLU(), nn.Dropout(0.1),
                                       nn.Linear(self.config.hidden, 1))}

    def optimizers(self, models):
        body, head = models["model"][0], models["model"][3]
        return {"model": OptimizerSpec(self.config.optimizer, [{"params": list(body.parameters())},
                                                               {"params": list(head.parameters()), "lr": 0.01}])}

    def batch(self, index, generator, device):
        x = self.x[index] + 0.01 * torch.randn(len(index), 4, generator=generator)
        return x.to(device), self.y[index].to(device)

    def losses(self, models, batch, optimizer, generator):
        x, y = batch
        mse = F.mse_loss(models["model"](x).squeeze(1), y)
        return {"total": mse, "rmse": mse.sqrt()}

    def start_epoch(self, models, epoch, epochs):
        self.epoch = epoch
        return {"late": epoch >= 2}

    def validate(self, models):
        return {"mse": float(F.mse_loss(models["model"](self.x[:16]).squeeze(1), self.y[:16]))}


class ScriptedScore(Regression):
    """Validation scores set per epoch (maximised): the best epoch is known in advance."""

    metric, maximize = "score", True
    SCORES = (0.3, 0.9, 0.5, 0.7)

    def validate(self, models):
        return {"score": self.SCORES[self.epoch]}


class ToyGAN(Task):
    """A generator of 2-D points against a critic, stepped in turn (critic first), on a shared fake batch."""

    name = "gan"
    resumable = ("epochs",)

    def __init__(self, config: ToyConfig = ToyConfig()) -> None:
        self._config = config
        self.real = torch.randn(config.samples, 2, generator=torch.Generator().manual_seed(7)) * 0.3 + 2.0

    @property
    def config(self):
        return self._config

    def __len__(self) -> int:
        return len(self.real)

    def build(self):
        return {"generator": nn.Linear(2, 2), "critic": nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))}

    def optimizers(self, models):
        critic = OptimizerConfig("sgd", learning_rate=0.05, momentum=0.5, clip_grad_norm=1.0)
        return {"critic": OptimizerSpec(critic, [{"params": list(models["critic"].parameters())}]),
                "generator": OptimizerSpec(self.config.optimizer, [{"params": list(models["generator"].parameters())}])}

    def batch(self, index, generator, device):
        noise = torch.randn(len(index), 2, generator=generator)
        return {"real": self.real[index].to(device), "noise": noise.to(device)}

    def losses(self, models, batch, optimizer, generator):
        if optimizer == "critic":
            batch["fake"] = models["generator"](batch["noise"])
            real, fake = models["critic"](batch["real"]), models["critic"](batch["fake"].detach())
            return {"total": F.softplus(-real).mean() + F.softplus(fake).mean()}
        return {"total": F.softplus(-models["critic"](batch["fake"])).mean()}


def fit_config(**changes) -> FitConfig:
    return replace(FitConfig(epochs=4, batch_size=10, seed=3), **changes)


def assert_same_run(a, b) -> None:
    for name in a.models:
        for (key, x), y in zip(a.models[name].state_dict().items(), b.models[name].state_dict().values()):
            assert torch.equal(x, y), f"{name}.{key}"
    strip = lambda history: [{k: v for k, v in h.items() if k not in TIMING} for h in history]  # noqa: E731
    assert strip(a.history) == strip(b.history)
    assert a.steps == b.steps


@pytest.mark.parametrize("make_task", [Regression, ToyGAN], ids=["one-optimizer", "two-optimizers"])
def test_an_interrupted_run_resumes_bit_for_bit(tmp_path, make_task):
    straight = fit(make_task(), fit_config(), tmp_path / "straight", progress=False)
    assert straight.finished and straight.steps == 4 * 5  # 48 samples in batches of 10: 5 steps an epoch

    fit(make_task(), fit_config(epochs=2), tmp_path / "epochs", progress=False)
    assert_same_run(fit(make_task(), fit_config(), tmp_path / "epochs", progress=False), straight)

    smoke = fit(make_task(), fit_config(max_steps=7), tmp_path / "steps", progress=False)  # stops inside epoch 2
    assert not smoke.finished and smoke.steps == 7 and len(smoke.history) == 1
    assert read_checkpoint(tmp_path / "steps" / "checkpoint.pt")["partial"]["batch"] == 2
    fit(make_task(), fit_config(max_steps=13), tmp_path / "steps", progress=False)
    assert_same_run(fit(make_task(), fit_config(), tmp_path / "steps", progress=False), straight)

    assert_same_run(fit(make_task(), fit_config(checkpoint_every=3), tmp_path / "every", progress=False), straight)
    history = json.loads((tmp_path / "straight" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3, 4] and history[-1]["steps"] == 20
    if make_task is ToyGAN:
        assert set(history[0]["loss"]) == {"critic/total", "generator/total"}
    else:
        assert [h["late"] for h in history] == [False, False, True, True]
        assert history[-1]["loss"]["total"] < history[0]["loss"]["total"]


def test_a_resumed_run_must_keep_its_settings(tmp_path):
    fit(Regression(), fit_config(epochs=2), tmp_path, progress=False)
    other = ToyConfig(optimizer=OptimizerConfig("adam", learning_rate=0.05))
    with pytest.raises(ValueError, match=r"other settings \(optimizer.learning_rate\)"):
        fit(Regression(other), fit_config(), tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"fit.batch_size"):
        fit(Regression(), fit_config(batch_size=8), tmp_path, progress=False)
    with pytest.raises(ValueError, match="2 epochs, more than epochs = 1"):
        fit(Regression(), fit_config(epochs=1), tmp_path, progress=False)
    assert len(fit(Regression(other), fit_config(epochs=1), tmp_path, progress=False, overwrite=True).history) == 1
    (tmp_path / "checkpoint.pt").unlink()
    with pytest.raises(ValueError, match="no checkpoint.pt"):
        fit(Regression(), fit_config(), tmp_path, progress=False)


def test_the_best_checkpoint_is_the_best_validated_epoch(tmp_path):
    result = fit(ScriptedScore(), fit_config(), tmp_path / "run", progress=False)
    assert [h["validation"]["score"] for h in result.history] == list(ScriptedScore.SCORES)
    best = read_checkpoint(result.best)
    assert best["best"] == {"epoch": 2, "metric": "score", "value": 0.9} and len(best["history"]) == 2
    two = fit(ScriptedScore(), fit_config(epochs=2), tmp_path / "two", progress=False)
    for key, value in two.models["model"].state_dict().items():
        assert torch.equal(best["models"]["model"][key], value.cpu()), key
    minimised = fit(Regression(), fit_config(), tmp_path / "mse", progress=False)
    values = [h["validation"]["mse"] for h in minimised.history]
    assert read_checkpoint(minimised.best)["best"]["value"] == min(values)


def test_checkpoints_carry_configs_provenance_and_every_state(tmp_path):
    protocol = {"protocol": "toy", "train_identities": {"count": 0, "digest": "", "names": []}}
    fit(Regression(), fit_config(epochs=1), tmp_path, progress=False, protocol=protocol)
    saved = read_checkpoint(tmp_path / "checkpoint.pt")
    assert saved["config"]["optimizer"]["name"] == "adam" and saved["fit"]["batch_size"] == 10
    assert saved["provenance"]["protocol"] == protocol and saved["provenance"]["seed"] == 3
    assert saved["faceveil_version"] == saved["provenance"]["version"]
    assert {"models", "optimizers", "schedulers", "scaler", "order_generator", "ranks"} <= set(saved)
    groups = saved["optimizers"]["model"]["param_groups"]
    assert [g["lr"] for g in groups] == [0.02, 0.01]  # per-group learning rates


def test_a_failing_write_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    fit(Regression(), fit_config(epochs=1), tmp_path, progress=False)

    def crash(payload, file):
        Path(file).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        fit(Regression(), fit_config(epochs=2), tmp_path, progress=False)
    monkeypatch.undo()
    assert len(read_checkpoint(tmp_path / "checkpoint.pt")["history"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "checkpoint.pt", "history.json"]  # no temporary


def test_learning_rate_schedules():
    edsr = OptimizerConfig("adam", learning_rate=1e-4, schedule="step", milestones=[25_000])  # JSON gives lists
    assert edsr.milestones == (25_000,)
    assert [schedule_factor(edsr, s, 50_000) for s in (0, 24_999, 25_000, 50_000)] == [1, 1, 0.5, 0.5]
    cosine = OptimizerConfig(schedule="cosine")
    assert [schedule_factor(cosine, s, 10) for s in (0, 5, 10, 12)] == pytest.approx([1, 0.5, 0, 0])
    assert schedule_factor(OptimizerConfig(), 99, 100) == 1


def test_a_step_schedule_halves_the_learning_rate_in_training(tmp_path):
    config = ToyConfig(optimizer=OptimizerConfig("adamw", learning_rate=0.02, schedule="step", milestones=(3, 8)))
    fit(Regression(config), fit_config(epochs=2), tmp_path, progress=False)  # 10 steps
    groups = read_checkpoint(tmp_path / "checkpoint.pt")["optimizers"]["model"]["param_groups"]
    assert [g["lr"] for g in groups] == [0.005, 0.0025]


def test_bad_settings_are_refused():
    for bad, match in [(dict(learning_rate=0), "learning_rate"), (dict(learning_rate=-1e-3), "learning_rate"),
                       (dict(name="lbfgs"), "optimizer name"), (dict(schedule="linear"), "schedule"),
                       (dict(schedule="step", milestones=(5, 2)), "increasing"), (dict(gamma=0), "gamma"),
                       (dict(clip_grad_norm=-1), "clip_grad_norm"), (dict(betas=(0.9, 1.0)), "betas")]:
        with pytest.raises(ValueError, match=match):
            OptimizerConfig(**bad)
    for bad, match in [(dict(max_steps=0), "max_steps"), (dict(epochs=0), "epochs"),
                       (dict(batch_size=0), "batch_size"), (dict(checkpoint_every=-1), "checkpoint_every")]:
        with pytest.raises(ValueError, match=match):
            FitConfig(**bad)
    weight = nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="lr of parameter group 1"):
        make_optimizer(OptimizerSpec(OptimizerConfig(), [{"params": [weight]}, {"params": [weight], "lr": 0}]))
    with pytest.raises(ValueError, match="task must be"):
        fit(object(), FitConfig(), "unused")
    with pytest.raises(ValueError, match="device"):
        fit(Regression(), FitConfig(device="gpu"), "unused")
    with pytest.raises(ValueError, match="no batch of at least 2"):
        fit(Regression(ToyConfig(samples=1)), FitConfig(), "unused")


def test_shards_split_the_order_like_a_distributed_sampler():
    order = torch.randperm(7, generator=torch.Generator().manual_seed(0))
    parts = [shard(order, Context(rank, 3)) for rank in range(3)]
    assert [len(p) for p in parts] == [3, 3, 3]
    assert set(torch.cat(parts).tolist()) == set(range(7))
    assert torch.equal(shard(order, Context()), order)


WORKER = """
import sys, torch
sys.path.insert(0, {tests!r})
from test_train import Regression, ToyConfig, fit_config
from faceveil.train import fit, OptimizerConfig
torch.set_num_threads(1)
result = fit(Regression(ToyConfig(samples=64, optimizer=OptimizerConfig("adam", learning_rate=0.05))),
             fit_config(epochs=6, batch_size=8), sys.argv[1], progress=False)
rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else int(__import__("os").environ["RANK"])
torch.save(result.models["model"].state_dict(), f"{{sys.argv[1]}}/rank{{rank}}.pt")
"""


def test_two_gloo_processes_train_one_model(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(tests=str(Path(__file__).parent)))
    out = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env |= {"OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(script), str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    history = json.loads((out / "history.json").read_text())
    assert len(history) == 6 and history[-1]["steps"] == 6 * 4  # 64 samples, 32 a process, batches of 8
    assert history[-1]["loss"]["total"] < 0.5 * history[0]["loss"]["total"]
    replicas = [torch.load(out / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    for key, value in replicas[0].items():
        assert torch.equal(value, replicas[1][key]), key
    saved = read_checkpoint(out / "checkpoint.pt")
    assert saved["world_size"] == 2 and len(saved["ranks"]) == 2
