"""Worker processes that never outlive the command that started them.

Process pools (the native dlib judge's) register here; the ``faceveil`` entry point terminates every
registered pool on any exit, an interrupt or ``kill -TERM`` included, and each worker asks the Linux
kernel to end it when its parent dies (``kill -KILL`` of the parent, where no cleanup can run).
"""

from __future__ import annotations

import ctypes
import signal
import sys
import weakref

_POOLS: "weakref.WeakSet" = weakref.WeakSet()
_PR_SET_PDEATHSIG = 1


def register_pool(pool) -> None:
    """Track a ``concurrent.futures.ProcessPoolExecutor`` so that :func:`terminate_all` can end it."""
    _POOLS.add(pool)


def terminate_pool(pool) -> None:
    """Kill the worker processes of ``pool`` at once (running tasks are abandoned) and shut it down."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.join(timeout=5)
    _POOLS.discard(pool)


def terminate_all() -> None:
    """End every registered pool's workers (called by the entry point on every exit)."""
    for pool in list(_POOLS):
        terminate_pool(pool)


def worker_init() -> None:
    """Run first in every worker: die with the parent (Linux), leave Ctrl-C to the parent, which stops the
    workers itself, and end quietly on SIGTERM (a forked worker inherits the parent's handlers, which
    would print a traceback in every worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        except OSError:  # no glibc (musl): the entry point's cleanup still runs on TERM and INT
            pass
