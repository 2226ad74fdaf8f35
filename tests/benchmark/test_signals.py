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
import time

import pytest

from support.bench import SMOKE_ARGS, bench_env, start

# long enough to be signalled mid-sweep (88 trials on 2 workers), short to resume
ARGS = [*SMOKE_ARGS, "--trials", "8", "--workers", "2", "--backend", "local"]
EXPECTED = 2 * 2 * 2 * 8 + 2 * 2 * 2 + 2 * 2 * 2 * 2  # tune + defaults arm + final


def _start(store):
    # SIGINT at its default disposition, as a terminal's Ctrl-C finds it (a runner started in
    # the background ignores SIGINT, and the child would inherit that); a session of its own,
    # so that the signal reaches the driver only, as `kill PID` sends it
    return start(store, ARGS, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _descendants(pid):
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
            out += [k, *_descendants(k)]
    return out


def _alive(pid):
    """Running (a zombie has ended: only its exit status waits to be collected)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _recorded(store):
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


def _running_with_workers(p, store, timeout=180):
    """Wait until the sweep has recorded a trial (its pool is up); return its descendants."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        assert p.poll() is None, f"the sweep ended before it could be signalled: {p.stderr.read()[-2000:]}"
        if _recorded(store) >= 1:
            kids = _descendants(p.pid)
            if len(kids) >= 4:  # resource tracker, forkserver, two workers
                return kids
        time.sleep(0.1)
    pytest.fail("the sweep recorded no trial in time")


def _gone_within(pids, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [q for q in pids if _alive(q)]
        if not left:
            return []
        time.sleep(0.1)
    return [(q, open(f"/proc/{q}/cmdline").read().replace("\0", " ")[:120]) for q in pids if _alive(q)]


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
    assert _gone_within(kids, 10) == []
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
        assert _gone_within(kids, 15) == []
    finally:
        for q in _descendants(p.pid):  # nothing, if the test passed
            os.kill(q, signal.SIGKILL)
        for q in kids if "kids" in locals() else []:
            if _alive(q):
                os.kill(q, signal.SIGKILL)
