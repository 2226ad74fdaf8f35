"""The explorer's resource bounds: counts, recorded state, work per request, time limits,
busy slots, the compile queue, the Host allow-list, security headers and strict types."""

from __future__ import annotations

import threading
import time
import warnings

import pytest

pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from ravine.explorer import limits as limits_module
from ravine.explorer.app import create_app
from ravine.explorer.engine import Explorer
from ravine.explorer.limits import Overloaded
from ravine.explorer.schemas import LIMITS, RunSetup

GOOD = {
    "problem": "rosenbrock",
    "start": [-1.2, 1.0],
    "steps": 50,
    "optimizers": [{"name": "adam", "hyper": {"lr": 0.05}}],
}


def detail(r):
    d = r.json()["detail"]
    assert isinstance(d, str) and "\n" not in d
    return d


def test_counts_that_size_memory_are_bounded(client):
    t0 = time.monotonic()
    body = dict(GOOD, optimizers=[{"name": "windowed_rmsprop", "hyper": {"window": 10**9}}])
    r = client.post("/api/run", json=body)
    assert time.monotonic() - t0 < 2.0
    assert r.status_code == 422 and "window: must be <= 100" in detail(r)
    body = dict(GOOD, optimizers=[{"name": "windowed_rmsprop", "hyper": {"window": LIMITS["max_count"]}}])
    assert client.post("/api/run", json=body).status_code == 200


def test_recorded_state_is_bounded(client):
    body = dict(GOOD, steps=10_000, optimizers=[{"name": "windowed_rmsprop", "hyper": {"window": 100}}] * 4)
    r = client.post("/api/run", json=body)
    assert r.status_code == 422 and "recorded state" in detail(r)


def test_work_per_request_counts_expression_nodes(client):
    # accepted by the parser, but its gradient is large: a long run on it costs too much
    formula = "*".join(f"(x+{i}*y)" for i in range(1, 13))
    body = dict(GOOD, formula=formula, steps=10_000, optimizers=[{"name": "adam"}] * 4)
    r = client.post("/api/run", json=body)
    assert r.status_code == 422, r.text[:300]
    assert "work:" in detail(r) and str(LIMITS["max_cost"]) in detail(r)
    assert client.post("/api/run", json=dict(body, steps=20, optimizers=[{"name": "adam"}])).status_code == 200


@pytest.mark.parametrize(
    "change",
    [
        {"steps": True},
        {"steps": 5.0},
        {"steps": "5"},
        {"seed": True},
        {"start": [True, 1.0]},
        {"grad_noise": True},
        {"tol": False},
    ],
)
def test_strict_types(client, change):
    r = client.post("/api/run", json=dict(GOOD, **change))
    assert r.status_code == 422, (change, r.text[:200])


def test_explain_index_and_step_are_strict(client):
    r = client.post("/api/explain", json={"setup": GOOD, "index": True, "step": 1})
    assert r.status_code == 422
    r = client.post("/api/explain", json={"setup": GOOD, "index": 0, "step": "1"})
    assert r.status_code == 422


def test_host_allow_list_and_security_headers():
    app = create_app(numba=False, allowed_hosts=["explorer.lan"])
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        r = c.get("/api/health")
        assert r.status_code == 200
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "content-security-policy" in c.get("/").headers
        for host, ok in [
            ("localhost:8000", True),
            ("[::1]:8000", True),
            ("explorer.lan", True),
            ("attacker.example", False),
            ("127.0.0.1.attacker.example", False),
            ("", False),
        ]:
            r = c.get("/api/health", headers={"host": host})
            assert (r.status_code == 200) is ok, (host, r.status_code)
            if not ok:
                assert r.status_code == 400 and "Host" in r.json()["detail"]
                assert r.headers["x-content-type-options"] == "nosniff"


def test_a_long_computation_is_stopped_at_its_deadline():
    e = Explorer(numba=False)
    setup = RunSetup(problem="rosenbrock", start=[-1.2, 1.0], steps=10_000, optimizers=[{"name": "adam"}] * 4)
    e.call(e.run, setup.model_copy(update={"steps": 1}))  # the problem built first: only the run is timed
    t0 = time.monotonic()
    with pytest.raises(Overloaded) as err:
        e.call(e.run, setup, seconds=0.3)
    assert err.value.status == 504 and "time limit" in str(err.value)
    assert time.monotonic() - t0 < 2.0
    e.close()
    with pytest.raises(Overloaded) as err:  # a closed explorer computes nothing more
        e.call(e.run, setup)
    assert err.value.status == 503


def test_requests_past_the_time_limit_get_504(monkeypatch, client):
    monkeypatch.setitem(LIMITS, "request_seconds", 0.2)
    body = dict(GOOD, steps=10_000, optimizers=[{"name": "adam"}] * 4)
    t0 = time.monotonic()
    r = client.post("/api/run", json=body)
    assert r.status_code == 504 and "time limit" in detail(r)
    assert time.monotonic() - t0 < 3.0
    monkeypatch.setitem(LIMITS, "request_seconds", 10.0)
    assert client.post("/api/run", json=GOOD).status_code == 200


def test_busy_slots_answer_503_and_health_keeps_answering(monkeypatch):
    monkeypatch.setitem(LIMITS, "queue_seconds", 0.3)
    app = create_app(numba=False)
    release = threading.Event()
    engine = app.state.engine
    real = engine.run

    def slow_run(setup):
        release.wait(10)
        return real(setup)

    monkeypatch.setattr(engine, "run", slow_run)
    with TestClient(app, base_url="http://127.0.0.1") as c:
        results = []
        workers = [
            threading.Thread(target=lambda: results.append(c.post("/api/run", json=GOOD).status_code))
            for _ in range(LIMITS["compute_slots"])
        ]
        for w in workers:
            w.start()
        time.sleep(0.3)
        t0 = time.monotonic()
        assert c.get("/api/health").status_code == 200
        assert time.monotonic() - t0 < 1.0
        r = c.post("/api/run", json=GOOD)
        assert r.status_code == 503 and "busy" in detail(r) and r.headers["retry-after"]
        release.set()
        for w in workers:
            w.join(10)
        assert results == [200] * LIMITS["compute_slots"]


def test_compile_queue_is_bounded_and_formulas_compiled_are_capped(monkeypatch):
    pytest.importorskip("numba")
    e = Explorer(numba=True, background=True)
    try:
        assert e.kernels.queue.maxsize == LIMITS["compile_queue"]
        seen = []
        monkeypatch.setattr(e.kernels, "compile", lambda *job: seen.append(job))
        monkeypatch.setitem(LIMITS, "compiled_formulas", 2)
        allowed = []
        for i in range(4):
            entry = e.entry(RunSetup(formula=f"x^2 + {i + 2}*y^2", start=[1, 1], optimizers=[{"name": "sgd"}]))
            allowed.append(e.kernels.may_compile(entry, ("kernel",)))
        assert allowed == [True, True, False, False]
        catalog = e.entry(RunSetup(problem="rosenbrock", start=[1, 1], optimizers=[{"name": "sgd"}]))
        assert e.kernels.may_compile(catalog, ("kernel",))
    finally:
        e.close()


def test_deadline_is_per_thread():
    assert limits_module.time_left(5.0) == 5.0
    limits_module.check_deadline()  # no deadline outside Explorer.call
