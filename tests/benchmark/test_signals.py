"""Signals to a running ``ravine bench run`` (local process pool) end everything it started.

SIGTERM and SIGINT: exit 143 / 130, one line on stderr that says how many trials are recorded
and that the same command resumes, no process left behind, the store consistent, and the same
command finishes the plan. SIGKILL of the driver: its forkserver, resource tracker and workers
are all gone within 15 s (each worker watches the driver's pid)."""

import os
import signal
import sqlite3
import subprocess
import sys

import pytest

from support.bench import SMOKE_ARGS, alive, bench_env, descendants, gone_within, running, start

# long enough to be signalled mid-sweep (88 trials on 2 workers), short to resume
ARGS = [*SMOKE_ARGS, "--trials", "8", "--workers", "2", "--backend", "local"]
EXPECTED = 2 * 2 * 2 * 8 + 2 * 2 * 2 + 2 * 2 * 2 * 2  # tune + defaults arm + final


def _start(store):
    # SIGINT at its default disposition, as a terminal's Ctrl-C finds it (a runner started in
    # the background ignores SIGINT, and the child would inherit that); a session of its own,
    # so that the signal reaches the driver only, as `kill PID` sends it
    return start(store, ARGS, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _running_with_workers(p, store):
    """Wait until the sweep has recorded a trial and its pool is up (resource tracker,
    forkserver, two workers); return its descendants."""
    return running(p, store, lambda kids: len(kids) >= 4)


def _consistent(store):
    con = sqlite3.connect(str(store))
    rows = con.execute("SELECT key, status, metrics, curves FROM trials").fetchall()
    con.close()
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys))
    for key, status, metrics, curves in rows:  # no half-written row
        assert (status == "planned") == (metrics is None) == (curves is None), key
    return rows


@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_signal_ends_the_pool_and_the_sweep_resumes(tmp_path, sig, code, word):
    store = tmp_path / "s.db"
    p = _start(store)
    try:
        kids = _running_with_workers(p, store)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode == code, err[-2000:]
    lines = err.splitlines()
    assert len(lines) == 1, err[-2000:]
    n = sum(r[1] != "planned" for r in _consistent(store))
    assert 1 <= n < EXPECTED
    head = f"ravine: bench run {word}: {store}: {n} trials recorded ("
    assert lines[0].startswith(head) and lines[0].endswith("); run the same command again to resume"), lines[0]
    assert gone_within(kids, 10) == []
    # the same command finishes the plan: every trial once
    r = subprocess.run(
        [sys.executable, "-m", "ravine.cli", "bench", "run", str(store), *ARGS],
        env=bench_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    rows = _consistent(store)
    assert len(rows) == EXPECTED and all(r[1] != "planned" for r in rows)


def test_sigkill_of_the_driver_leaves_no_process(tmp_path):
    store = tmp_path / "s.db"
    p = _start(store)
    try:
        kids = _running_with_workers(p, store)
        p.kill()
        p.communicate(timeout=30)
        assert gone_within(kids, 15) == []
    finally:
        for q in descendants(p.pid):  # nothing, if the test passed
            os.kill(q, signal.SIGKILL)
        for q in kids if "kids" in locals() else []:
            if alive(q):
                os.kill(q, signal.SIGKILL)
