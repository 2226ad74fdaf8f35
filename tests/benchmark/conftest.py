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
    return subprocess.run(
        [sys.executable, "-m", "ravine.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=bench_env(**env),
        timeout=timeout,
    )


@pytest.fixture
def run_ravine():
    return ravine


TIMING: dict = {}

#: the smoke suite, small enough for the tests (3 trials per protocol, 2 final seeds)
SMOKE_ARGS = ["--suite", "smoke", "--trials", "3", "--seeds", "2", "--quiet"]


@pytest.fixture(scope="session")
def smoke_reference(tmp_path_factory):
    """The smoke suite run inline with --backend local (one worker): the reference store."""
    import time

    store = tmp_path_factory.mktemp("ref") / "ref.db"
    t = time.perf_counter()
    r = ravine("bench", "run", store, *SMOKE_ARGS, "--workers", "1", "--backend", "local")
    assert r.returncode == 0, r.stderr[-2000:]
    TIMING["smoke"] = time.perf_counter() - t  # how long the whole sweep takes here
    return store
