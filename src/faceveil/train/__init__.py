"""The one training loop of faceveil (docs/design.md, "Training").

* :mod:`.task`: :class:`Task`, what a trainable system gives the loop (data, models, optimisers, losses,
  per-epoch hooks, a validation metric), :class:`FaceTask` (a task on faces under one configuration) and
  :class:`OptimizerConfig`;
* :mod:`.fit`: :func:`fit`, the seeded, resumable, checkpointing loop, and :class:`FitConfig`;
* :mod:`.checkpoint`: the atomic checkpoint files; :mod:`.distributed`: data parallelism under ``torchrun``.
"""

from .checkpoint import read_checkpoint, save_atomic
from .distributed import unwrap
from .fit import FitConfig, FitResult, fit, fit_on_split, make_optimizer, resume_point, schedule_factor
from .task import OPTIMIZERS, SCHEDULES, FaceTask, OptimizerConfig, OptimizerSpec, Task

__all__ = ["OPTIMIZERS", "SCHEDULES", "FaceTask", "FitConfig", "FitResult", "OptimizerConfig", "OptimizerSpec", "Task",
           "fit", "fit_on_split", "make_optimizer", "read_checkpoint", "resume_point", "save_atomic",
           "schedule_factor", "unwrap"]
