"""Helpers of the benchmark tests: run ``ravine`` in a subprocess on this checkout's sources.

(A module of its own: test files import it by name, and every test folder's conftest.py is
imported under the one name ``conftest``.)
"""

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

#: how long things took in this session (filled by the fixtures)
TIMING: dict = {}

#: the smoke suite, small enough for the tests (3 trials per protocol, 2 final seeds)
SMOKE_ARGS = ["--suite", "smoke", "--trials", "3", "--seeds", "2", "--quiet"]


def bench_env(**extra):
    env = dict(os.environ)
    # no empty entry: an empty PYTHONPATH entry means the working directory
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
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


def start(store, args, **popen):
    """Start ``ravine bench run STORE ARGS`` in a session of its own (signals and ``killpg``
    reach it and what it starts only); returns the Popen (stdout, stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "ravine.cli", "bench", "run", str(store), *args],
        env=bench_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        **popen,
    )
