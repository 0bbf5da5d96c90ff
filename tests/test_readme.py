"""The README's "Use" section runs as written: every command, in order, in a fresh folder.

A command line that ends with ``# exits N`` must exit with N; every other one with 0. A line that ends with
``# needs npm`` (the second judge's weights come from the npm registry) is left out where npm is missing.
The last block of the section (the recognition core's benchmarks on the full LFW copy) is not run: it
measures for an hour.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
FULL_LFW_BLOCK = "The recognition core's benchmarks need the full LFW copy"


def use_commands() -> list[tuple[str, int]]:
    """(command line, expected exit status) of every ``bash`` block of "## Use" before the full-LFW block."""
    text = README.read_text()
    section = text.split("## Use", 1)[1].split("\n## ", 1)[0].split(FULL_LFW_BLOCK, 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.endswith("# needs npm") and shutil.which("npm") is None:
                continue
            expected = re.search(r"#\s*exits (\d+)\s*$", line)
            commands.append((line.split("  #")[0].split(" # ")[0].strip(), int(expected.group(1)) if expected else 0))
    return commands


def test_the_readme_has_the_two_setup_commands_ci_runs():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    install = re.search(r"## Install\n+```bash\n(.+?)\n```", text).group(1)
    test = re.search(r"## Test\n+```bash\n(.+?)\n```", text).group(1)
    assert install in ci and test in ci.splitlines()


def test_every_use_command_runs_as_written(tmp_path):
    commands = use_commands()
    assert len(commands) >= 12 and all(c.startswith("faceveil ") for c, _ in commands)
    executable = Path(sys.executable).parent / "faceveil"
    prefix = [str(executable)] if executable.is_file() else [sys.executable, "-m", "faceveil"]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for command, expected in commands:
        done = subprocess.run(prefix + shlex.split(command)[1:], cwd=tmp_path, capture_output=True, text=True,
                              env=env, timeout=900)
        assert done.returncode == expected, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        assert "Traceback" not in done.stderr, f"{command}\n{done.stderr}"
        if expected:
            assert done.stderr.startswith("faceveil: error:"), done.stderr
    assert (tmp_path / "runs" / "memfr" / "model.pt").is_file()
    assert (tmp_path / "runs" / "eval-memfr" / "result.json").is_file()
