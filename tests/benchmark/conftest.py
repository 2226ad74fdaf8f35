import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def bench_env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def ravine(*args, timeout=300, **env):
    """Run ``ravine ARGS`` in a subprocess; returns CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-m", "ravine.cli", *map(str, args)], capture_output=True, text=True,
                          env=bench_env(**env), timeout=timeout)


@pytest.fixture
def run_ravine():
    return ravine
