"""A sweep SIGKILLed at random moments and restarted finishes exactly the planned trials:
none lost, none repeated, every row complete, and the same numbers as an uninterrupted run."""

import json
import os
import random
import signal
import sqlite3
import time

from support.bench import SMOKE_ARGS, start

# a small plan, inline (one worker: no pool start-up), a few seconds in all
ARGS = [*SMOKE_ARGS, "--workers", "1"]
EXPECTED = 2 * 2 * 2 * 3 + 2 * 2 * 2 + 2 * 2 * 2 * 2  # tune + defaults arm + final


def _start(store):
    return start(store, ARGS)


def _rows(store):
    con = sqlite3.connect(str(store))
    rows = con.execute(
        "SELECT key, phase, status, hyper, metrics, curves, versions, hardware, wall_time FROM trials ORDER BY key"
    ).fetchall()
    con.close()
    return rows


def _numbers(metrics):
    m = json.loads(metrics)
    return {k: v for k, v in m.items() if "time" not in k}


def test_sigkill_at_random_points_then_restart(tmp_path, smoke_reference):
    ref_rows = {r[0]: r for r in _rows(smoke_reference)}
    assert len(ref_rows) == EXPECTED

    from support.bench import TIMING

    store = tmp_path / "killed.db"
    rnd = random.Random(7)
    kills = 0
    states = []
    total = TIMING.get("smoke", 10.0)
    for _attempt in range(8):
        if kills >= 3:
            break
        p = _start(store)
        # a random moment in the first 15–60 % of what a whole sweep takes on this machine
        time.sleep(rnd.uniform(0.15, 0.6) * total)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            kills += 1
        if store.exists():
            rows = _rows(store)
            states.append(sum(r[2] != "planned" for r in rows))
            for key, _phase, status, _hyper, metrics, curves, *_ in rows:  # no half-written row
                assert (status == "planned") == (metrics is None) == (curves is None), key
    assert kills >= 2, "the sweep finished before it could be killed twice; make the plan longer"
    p = _start(store)
    assert p.wait(timeout=240) == 0, p.stderr.read().decode()[-2000:]
    rows = _rows(store)
    keys = [r[0] for r in rows]
    assert len(keys) == len(set(keys)) == EXPECTED
    assert set(keys) == set(ref_rows)
    for key, _phase, status, hyper, metrics, curves, versions, hardware, wall in rows:
        assert status in ("ok", "diverged", "failed"), key
        assert metrics and curves and versions and hardware and wall is not None
        r = ref_rows[key]
        assert status == r[2] and hyper == r[3], key
        assert _numbers(metrics) == _numbers(r[4]), key
        c, rc = json.loads(curves), json.loads(r[5])
        assert c["val_loss"] == rc["val_loss"] and c["step"] == rc["step"], key
    assert states == sorted(states), "a restart lost recorded trials"


def test_restart_of_a_finished_sweep_runs_nothing(tmp_path, run_ravine):
    store = tmp_path / "s.db"
    args = [
        "bench",
        "run",
        store,
        "--suite",
        "smoke",
        "--problems",
        "nqm",
        "--optimizers",
        "sgd",
        "--trials",
        "2",
        "--seeds",
        "1",
        "--workers",
        "1",
        "--quiet",
    ]
    assert run_ravine(*args).returncode == 0
    before = _rows(store)
    r = run_ravine(*args)
    assert r.returncode == 0, r.stderr
    assert _rows(store) == before
