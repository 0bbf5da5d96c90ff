"""Shared fixtures: the full LFW copy (skipped when absent), a private embedding cache, --runslow."""

from __future__ import annotations

from pathlib import Path

import pytest

LFW_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "lfw"


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests (full LFW View 2)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lfw_root() -> Path:
    """The full LFW copy at ../shared/data/lfw; the test is skipped when it is absent."""
    if not (LFW_ROOT / "pairs.txt").is_file():
        pytest.skip(f"full LFW not found at {LFW_ROOT.resolve()}")
    return LFW_ROOT.resolve()


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch thread for a module of small tensor operations: on a busy 2-core machine, intra-op
    threads cost more in waiting than they save. Use with ``pytest.mark.usefixtures``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep tests away from the user's cache unless FACEVEIL_CACHE is set (CI sets a fresh one)."""
    import os

    if "FACEVEIL_CACHE" not in os.environ:
        os.environ["FACEVEIL_CACHE"] = str(tmp_path_factory.mktemp("faceveil-cache"))
    yield
