"""Data parallelism for :func:`faceveil.train.fit`: one process per device, started by ``torchrun``.

    torchrun --nproc_per_node N -m faceveil train ...

``torchrun`` sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``;
:func:`session` then joins the process group (``nccl`` on CUDA, each process on ``cuda:LOCAL_RANK``;
``gloo`` on the CPU). Every process draws the same seeded permutation of the samples and trains on its
:func:`shard` of it; :func:`wrap` makes the models ``DistributedDataParallel`` so every step averages the
gradients of all processes and the replicas stay equal. Without those variables (or with one process)
everything here is a no-op and training runs in the one process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Whether this process writes the files and shows the progress (rank 0)."""
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1


def _device(name: str) -> torch.device:
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"device must name a torch device ('cpu', 'cuda', 'cuda:1'), got {name!r}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asks for CUDA, which this machine does not have")
    return device


@contextmanager
def session(device: str = "cpu") -> Iterator[Context]:
    """The :class:`Context` of this process, inside the process group of a ``torchrun`` launch.

    Joins the group from the torchrun environment variables when ``WORLD_SIZE`` > 1 (and leaves it at
    the end), or uses a group the caller already started. On CUDA each process takes
    ``cuda:LOCAL_RANK``. Raises ``ValueError`` for a device name torch does not know or CUDA that is
    absent.
    """
    requested = _device(device)
    created = False
    if not dist.is_initialized() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if requested.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if requested.type == "cuda" else "gloo", init_method="env://")
        created = True
    try:
        if not dist.is_initialized():
            yield Context(device=requested)
            return
        if requested.type == "cuda":
            requested = torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))
            torch.cuda.set_device(requested)
        yield Context(dist.get_rank(), dist.get_world_size(), requested)
    finally:
        if created:
            dist.destroy_process_group()


def is_main() -> bool:
    """Whether this process has rank 0 (also before :func:`session` joins the group: from ``RANK``)."""
    return dist.get_rank() == 0 if dist.is_initialized() else int(os.environ.get("RANK", "0")) == 0


def shard(order: torch.Tensor, context: Context) -> torch.Tensor:
    """This process's part of a permutation ``order`` (N,), as ``DistributedSampler`` splits it: the order
    is extended by its own first entries to a multiple of ``world_size``, and rank r takes entries
    r, r + world_size, ... (so every process gets ceil(N / world_size) samples)."""
    if not context.parallel:
        return order
    size = -(-len(order) // context.world_size) * context.world_size
    padded = torch.cat([order, order[: size - len(order)]]) if size > len(order) else order
    return padded[context.rank :: context.world_size]


def wrap(model: nn.Module, context: Context) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` when several processes train and it has trainable
    parameters; else ``model`` itself."""
    if not context.parallel or not any(p.requires_grad for p in model.parameters()):
        return model
    devices = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=devices)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel`` wrapper (``model`` itself otherwise)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def gather(value, context: Context) -> list:
    """``value`` of every process, by rank (picklable objects)."""
    if not context.parallel:
        return [value]
    values = [None] * context.world_size
    dist.all_gather_object(values, value)
    return values


def broadcast(value, context: Context):
    """Rank 0's ``value``, on every process (picklable objects)."""
    if not context.parallel:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def all_sum(values: torch.Tensor, context: Context) -> torch.Tensor:
    """The element-wise sum of ``values`` over the processes (a new tensor)."""
    if not context.parallel:
        return values.clone()
    total = values.to(context.device, copy=True)  # nccl reduces CUDA tensors only
    dist.all_reduce(total)
    return total.to(values.device)


def barrier(context: Context) -> None:
    """Wait for every process."""
    if context.parallel:
        dist.barrier()
