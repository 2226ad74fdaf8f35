"""--backend ray on a local Ray (num_cpus=2): the smoke suite gives the same numbers as
--backend local, and a worker SIGKILLed mid-trial is retried and its trial recorded once."""

import json
import sqlite3

import pytest

from support.bench import SMOKE_ARGS, ravine

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
