"""--backend ray on a local Ray (num_cpus=2): the smoke suite gives the same numbers as
--backend local, a worker SIGKILLed mid-trial is retried and its trial recorded once, and
SIGKILL, SIGTERM or SIGINT of the driver leaves no process of its Ray behind."""

import json
import os
import signal
import sqlite3

import pytest

from support.bench import SMOKE_ARGS, cmdline, descendants, gone_within, in_session, ravine, running, start

pytest.importorskip("ray")

KILLED = "tune/all/nqm/adam/p1"


@pytest.fixture(scope="module")
def ray_store(tmp_path_factory):
    d = tmp_path_factory.mktemp("ray")
    markers = d / "markers"
    markers.mkdir()
    store = d / "ray.db"
    r = ravine(
        "bench",
        "run",
        store,
        *SMOKE_ARGS,
        "--backend",
        "ray",
        "--workers",
        "2",
        timeout=400,
        RAVINE_BENCH_FAULT=f"kill_once:{markers}:{KILLED}",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return store, markers


def _rows(store):
    con = sqlite3.connect(store)
    out = {
        k: (st, h, json.loads(m), json.loads(c), b)
        for k, st, h, m, c, b in con.execute("SELECT key, status, hyper, metrics, curves, backend FROM trials")
    }
    con.close()
    return out


def _numbers(m):
    return {k: v for k, v in m.items() if "time" not in k}


def test_ray_smoke_equals_local(ray_store, smoke_reference):
    ray_rows, local_rows = _rows(ray_store[0]), _rows(smoke_reference)
    assert set(ray_rows) == set(local_rows)
    for k, (st, h, m, c, backend) in ray_rows.items():
        lst, lh, lm, lc, lb = local_rows[k]
        assert backend == "ray" and lb == "local"
        assert (st, h) == (lst, lh), k
        assert _numbers(m) == _numbers(lm), k
        assert c["val_loss"] == lc["val_loss"], k


def test_killed_ray_worker_is_retried_and_recorded_once(ray_store):
    store, markers = ray_store
    killed = list(markers.iterdir())
    assert [p.name for p in killed] == [f"{KILLED}/s0".replace("/", "_")], "the fault was not injected"
    con = sqlite3.connect(store)
    rows = con.execute("SELECT key, status, metrics FROM trials WHERE key LIKE ?", (KILLED + "%",)).fetchall()
    n_all = con.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM trials").fetchone()
    con.close()
    assert len(rows) == 1 and rows[0][1] == "ok" and rows[0][2] is not None
    assert n_all[0] == n_all[1]


# -- signals: a local Ray started by the driver leaves no process behind ----------------------

# long enough to be signalled mid-sweep (2 workers), a trial recorded first
SIGNAL_ARGS = [*SMOKE_ARGS, "--trials", "16", "--backend", "ray", "--workers", "2"]


def _start_ray(store):
    # SIGINT at its default disposition (a runner in the background ignores it); a session of
    # its own: every process the driver starts, directly or not, is in it (the test's proof)
    return start(store, SIGNAL_ARGS, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _agents_up(kids):
    names = [cmdline(k) for k in kids]
    return all(any(n.startswith(a) for n in names) for a in ("ray::DashboardAgent", "ray::RuntimeEnvAgent"))


def _everything_gone(p, kids, seconds):
    """Every process of the driver's session (its Ray: GCS, raylet, agents, workers, the
    watcher) gone within ``seconds`` of the driver's end; returns what is left."""
    left = gone_within(sorted(set(kids) | set(in_session(p.pid))), seconds)
    return left + [(q, cmdline(q)) for q in in_session(p.pid) if q not in dict(left)]


def _kill_session(p):
    for q in in_session(p.pid):  # nothing, if the test passed
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigkill_of_a_ray_driver_leaves_no_process(tmp_path):
    """Ray's agents outlived a SIGKILLed driver by 60 s (they wait on the dead GCS); the
    driver's watcher ends them."""
    store = tmp_path / "s.db"
    p = _start_ray(store)
    try:
        kids = running(p, store, _agents_up)
        kids = sorted(set(kids) | set(descendants(p.pid)))
        p.kill()
        p.communicate(timeout=30)
        assert _everything_gone(p, kids, 15) == []
    finally:
        _kill_session(p)


@pytest.mark.parametrize(
    ("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")]
)
def test_signal_ends_a_ray_run(tmp_path, sig, code, word):
    """SIGTERM (which Ray's own handlers turned into a stack trace and an abort) and SIGINT: the
    command's line, its status, and nothing left of the Ray it started."""
    store = tmp_path / "s.db"
    p = _start_ray(store)
    try:
        kids = running(p, store, _agents_up)
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
        assert p.returncode == code, err[-3000:]
        ours = [line for line in err.splitlines() if line.startswith("ravine:")]
        assert len(ours) == 1 and err.splitlines()[-1] == ours[0], err[-3000:]
        assert ours[0].startswith(f"ravine: bench run {word}: {store}: "), ours[0]
        assert "Traceback" not in err and "SIGTERM received" not in err, err[-3000:]
        assert _everything_gone(p, kids, 15) == []
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        _kill_session(p)
