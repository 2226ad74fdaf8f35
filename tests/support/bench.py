"""Helpers of the benchmark tests: run ``ravine`` in a subprocess on this checkout's sources.

(A module of its own: test files import it by name, and every test folder's conftest.py is
imported under the one name ``conftest``.)
"""

import os
import sqlite3
import subprocess
import sys
import time
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


# -- the processes a run started (Linux /proc) ------------------------------------------------


def descendants(pid):
    """The pids of ``pid``'s children, theirs, and so on (those alive now)."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return out
    for t in tasks:
        try:
            with open(f"/proc/{pid}/task/{t}/children") as fh:
                kids = [int(c) for c in fh.read().split()]
        except FileNotFoundError:
            continue
        for k in kids:
            out += [k, *descendants(k)]
    return out


def _stat(pid):
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()


def alive(pid):
    """Running (a zombie has ended: only its exit status waits to be collected)."""
    try:
        return _stat(pid)[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def in_session(sid):
    """The running processes of session ``sid`` (what a process started with
    ``start_new_session`` started, directly or not, even once its parent has died)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = _stat(int(d))
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(st[3]) == sid and st[0] != "Z":
                out.append(int(d))
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as fh:
            return fh.read().replace("\0", " ")[:120]
    except (FileNotFoundError, ProcessLookupError):
        return "(gone)"


def gone_within(pids, seconds):
    """Wait up to ``seconds`` for ``pids`` to end; returns (pid, command line) of those left."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [q for q in pids if alive(q)]
        if not left:
            return []
        time.sleep(0.1)
    return [(q, cmdline(q)) for q in pids if alive(q)]


def recorded(store):
    """How many trials ``store`` has recorded (0 while it is not made yet)."""
    if not store.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM trials WHERE status != 'planned'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:  # not made yet
        return 0


def running(p, store, ready, timeout=180):
    """Wait until the run ``p`` has recorded a trial and ``ready(its descendants)``; returns
    the descendants."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert p.poll() is None, f"the sweep ended before it could be signalled: {p.stderr.read()[-2000:]}"
        if recorded(store) >= 1:
            kids = descendants(p.pid)
            if ready(kids):
                return kids
        time.sleep(0.1)
    raise AssertionError("the sweep recorded no trial in time")
