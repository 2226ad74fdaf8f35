"""The explorer's analysis endpoints: POST /api/eigen and POST /api/hypermap — their numbers
(against direct runs of the runner and eigen-decompositions computed here) and their limits."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")
pytest.importorskip("httpx", reason="fastapi's TestClient needs httpx")

import ravine
from ravine.explorer.engine import Explorer
from ravine.explorer.schemas import LIMITS, MapRequest
from ravine.problems import get_problem
from ravine.rules import get_rule

MATYAS = {  # 0.26(x² + y²) − 0.48xy: a rotated quadratic, H = [[0.52, −0.48], [−0.48, 0.52]]
    "problem": "matyas",
    "start": [8.0, 2.0],
    "steps": 300,
    "optimizers": [
        {"name": "momentum", "hyper": {"lr": 0.5, "momentum": 0.6}},
        {"name": "nag", "hyper": {"lr": 0.5, "momentum": 0.6}},
        {"name": "sgd", "hyper": {"lr": 1.2}},
        {"name": "adam", "hyper": {"lr": 0.1}},
    ],
}


def detail(r):
    d = r.json()["detail"]
    assert isinstance(d, str) and "\n" not in d
    return d


def _hessian(name):
    p = get_problem(name)
    return np.asarray(p.hessian(np.zeros(2)), float)


def _direct(spec, setup, **kw):
    rule = get_rule(spec["name"]).with_hyper(**spec["hyper"])
    return ravine.run([rule], setup["problem"], starts=[setup["start"]], steps=setup["steps"], **kw)


# --------------------------------------------------------------------------- /api/eigen


def test_eigen_components_and_rates_on_a_quadratic(client):
    H = _hessian("matyas")
    lam, Q = np.linalg.eigh(H)
    for index, matrix in [
        (0, lambda z: [[1 + 0.6 - 0.5 * z, -0.6], [1, 0]]),  # heavy ball
        (1, lambda z: [[1 - 0.5 * z, 0.6 * (1 - 0.5 * z)], [-0.5 * z, 0.6 * (1 - 0.5 * z)]]),  # Nesterov
        (2, lambda z: [[1 - 1.2 * z, 0], [0, 0]]),  # GD
    ]:
        r = client.post("/api/eigen", json={"setup": MATYAS, "index": index})
        assert r.status_code == 200, r.text
        d = r.json()
        assert d["kind"] == "quadratic" and d["no_theory"] is None
        np.testing.assert_allclose(d["theta_star"], [0, 0], atol=1e-12)
        np.testing.assert_allclose(d["eigenvalues"], lam, rtol=1e-12)
        theta = _direct(MATYAS["optimizers"][index], MATYAS).theta[:, 0]
        want = np.abs(theta @ Q)
        got = np.array(d["components"], dtype=float).T
        assert got.shape == (MATYAS["steps"] + 1, 2)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-300)
        rho = [max(abs(np.linalg.eigvals(np.array(matrix(z), float)))) for z in lam]
        np.testing.assert_allclose(d["theory"]["rates"], rho, rtol=1e-9)
        np.testing.assert_allclose(d["theory"]["start"], want[0])


def test_eigen_without_a_linear_theory_and_off_quadratics(client):
    d = client.post("/api/eigen", json={"setup": MATYAS, "index": 3}).json()
    assert d["theory"] is None and "not linear" in d["no_theory"]
    assert len(d["components"]) == 2
    ros = dict(MATYAS, problem="rosenbrock", start=[-1.2, 1.0], optimizers=[{"name": "adam", "hyper": {"lr": 0.05}}])
    d = client.post("/api/eigen", json={"setup": ros}).json()
    assert d["kind"] == "local" and "local quadratic model" in d["message"]
    np.testing.assert_allclose(d["theta_star"], [1, 1])
    np.testing.assert_allclose(d["hessian"], get_problem("rosenbrock").hessian(np.ones(2)), rtol=1e-12)
    sig = dict(MATYAS, problem="sigmoid_neuron", start=[-2.0, -2.0], optimizers=[{"name": "sgd", "hyper": {}}])
    d = client.post("/api/eigen", json={"setup": sig}).json()
    assert d["kind"] is None and "no minimum" in d["message"]


def test_eigen_refuses_bad_requests(client):
    r = client.post("/api/eigen", json={"setup": MATYAS, "index": 7})
    assert r.status_code == 422 and "index: there are 4 optimizers" in detail(r)
    r = client.post("/api/eigen", json={"setup": MATYAS, "index": "1"})
    assert r.status_code == 422 and detail(r).startswith("index")
    r = client.post("/api/eigen", json={"setup": MATYAS, "extra": 1})
    assert r.status_code == 422 and "extra" in detail(r)
    bad = dict(MATYAS, optimizers=[{"name": "momentum", "hyper": {"momentum": 1.5}}])
    r = client.post("/api/eigen", json={"setup": bad})
    assert r.status_code == 422 and detail(r).startswith("optimizers[0]: ") and "momentum" in detail(r)


# --------------------------------------------------------------------------- /api/hypermap

ELLIPSE = {
    "problem": "ellipse",
    "start": [-5.0, -2.0],
    "steps": 200,
    "optimizers": [{"name": "momentum", "hyper": {"lr": 0.1, "momentum": 0.5}}],
}


@pytest.fixture(scope="module")
def compiled():
    return Explorer(numba=True, background=False)


def test_hypermap_cells_equal_direct_runs_and_bounds_are_the_analysis_values(compiled):
    pytest.importorskip("numba")
    d = compiled.call(compiled.hypermap, MapRequest(setup=ELLIPSE, n=12))
    assert d["backend"] == "numba" and d["n"] == 12 and not d["coarse"] and not d["compiling"]
    xs, ys = np.asarray(d["x"]["values"]), np.asarray(d["y"]["values"])
    assert d["x"]["name"] == "lr" and d["y"]["name"] == "momentum" and d["y"]["scale"] == "log1m"
    np.testing.assert_allclose(np.diff(np.log10(xs)), np.log10(xs[1] / xs[0]))  # log spaced
    np.testing.assert_allclose(np.diff(np.log10(1 - ys)), np.log10((1 - ys[1]) / (1 - ys[0])))
    vals = np.asarray(d["values"], dtype=float)  # rows: momentum, columns: lr
    assert vals.shape == (12, 12)
    p = get_problem("ellipse")
    checked = 0
    for j, i in [(0, 0), (3, 5), (11, 2), (6, 11), (9, 7)]:
        rule = get_rule("momentum").with_hyper(lr=float(xs[i]), momentum=float(ys[j]))
        res = ravine.run([rule], p, starts=[ELLIPSE["start"]], steps=200, divergence=d["divergence"], record="final")
        if res.status[0] == ravine.runner.DIVERGED:
            assert np.isnan(vals[j, i]) and d["status"][j][i] == 2
        else:
            assert vals[j, i] == pytest.approx(float(res.final_loss[0]) - p.f_min, rel=1e-9, abs=1e-300)
            checked += 1
    assert checked >= 2
    # the heavy ball's edge η < 2(1 + β)/λmax, with λmax from H computed here
    L = np.linalg.eigvalsh(_hessian("ellipse"))[-1]
    (bound,) = d["bounds"]
    by = np.asarray(bound["y"])
    np.testing.assert_allclose(bound["x"], 2 * (1 + by) / L, rtol=1e-12)
    assert by.min() == pytest.approx(ys[0]) and by.max() == pytest.approx(ys[-1])
    # the cells just left of the edge converge, the ones right of it diverge
    for j, b in enumerate(ys):
        edge = 2 * (1 + b) / L
        left = [i for i in range(12) if xs[i] < 0.8 * edge]
        right = [i for i in range(12) if xs[i] > 1.25 * edge]
        assert all(d["status"][j][i] != 2 for i in left)
        assert all(d["status"][j][i] == 2 for i in right)


def test_hypermap_axes_for_other_rules(client):
    nes = dict(ELLIPSE, optimizers=[{"name": "nag", "hyper": {"lr": 0.1}}])
    d = client.post("/api/hypermap", json={"setup": nes, "n": 4}).json()
    L = 4.0
    by = np.asarray(d["bounds"][0]["y"])
    np.testing.assert_allclose(d["bounds"][0]["x"], 2 * (1 + by) / ((1 + 2 * by) * L), rtol=1e-12)
    avg = dict(ELLIPSE, optimizers=[{"name": "momentum", "hyper": {"lr": 0.1, "form": "average"}}])
    d = client.post("/api/hypermap", json={"setup": avg, "n": 4}).json()
    by = np.asarray(d["bounds"][0]["y"])
    np.testing.assert_allclose(d["bounds"][0]["x"], 2 * (1 + by) / ((1 - by) * L), rtol=1e-12)
    rms = dict(ELLIPSE, optimizers=[{"name": "rmsprop", "hyper": {"lr": 0.01}}])
    d = client.post("/api/hypermap", json={"setup": rms, "n": 4, "y": "eps"}).json()
    assert d["y"]["name"] == "eps" and d["y"]["scale"] == "log" and d["bounds"] == [] and d["note"]
    gd = dict(ELLIPSE, optimizers=[{"name": "sgd", "hyper": {"lr": 0.1}}])
    d = client.post("/api/hypermap", json={"setup": gd, "n": 6, "y": ""}).json()
    assert d["y"] is None and np.asarray(d["values"]).shape == (6,)
    assert d["bounds"][0]["x"] == [pytest.approx(2 / L)] and d["bounds"][0]["y"] is None
    d = client.post("/api/hypermap", json={"setup": dict(gd, problem="exact_step"), "n": 3})
    assert d.status_code == 422  # not a catalog problem: the catalog's message
    steps = client.post("/api/hypermap", json={"setup": dict(ELLIPSE, tol=1e-4), "n": 4, "metric": "steps"}).json()
    v = np.asarray(steps["values"], dtype=float)
    assert steps["tol"] == 1e-4 and np.nanmax(v) <= 200 and np.isfinite(v).any()


def test_hypermap_numpy_path_is_coarse_and_says_so(client):
    t0 = time.monotonic()
    big = dict(ELLIPSE, steps=488)
    r = client.post("/api/hypermap", json={"setup": big, "n": LIMITS["map_side"]})
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["backend"] == "numpy" and d["coarse"] and d["requested_n"] == 64
    assert d["n"] ** 2 * 488 <= LIMITS["max_map_work_numpy"] and d["n"] >= 2
    assert time.monotonic() - t0 < 8.0


def test_hypermap_limits_and_hostile_fields(client):
    def bad(body, *needles):
        r = client.post("/api/hypermap", json=body)
        assert r.status_code == 422, r.text
        msg = detail(r)
        for n in needles:
            assert n in msg, msg
        return msg

    bad({"setup": ELLIPSE, "n": LIMITS["map_side"] + 1}, "n:")
    bad({"setup": ELLIPSE, "n": 1}, "n:")
    bad({"setup": ELLIPSE, "n": 4.0}, "n:")
    bad({"setup": dict(ELLIPSE, steps=1000), "n": 64}, "cells × steps must be <= 2000000", "64 × 64 cells")
    bad({"setup": ELLIPSE, "metric": "time"}, "metric")
    bad({"setup": ELLIPSE, "y": "form"}, "y: momentum has no hyperparameter 'form' to map")
    bad({"setup": ELLIPSE, "y": "x" * 41}, "y")
    bad({"setup": ELLIPSE, "x_range": [-1, 1]}, "x_range")
    bad({"setup": ELLIPSE, "x_range": [1, 0.1]}, "x_range", "low < high")
    bad({"setup": ELLIPSE, "x_range": [1e-3]}, "x_range")
    bad({"setup": ELLIPSE, "y_range": [0.5, 1.5]}, "y_range", "momentum")
    bad({"setup": ELLIPSE, "index": 3}, "index: there are 1 optimizers")
    bad({"setup": ELLIPSE, "index": True}, "index")
    bad({"setup": ELLIPSE, "cells": 10}, "cells")
    r = client.post(
        "/api/hypermap", content=b'{"setup": {}, "x_range": [NaN, 1]}', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert client.get("/api/health").json() == {"ok": True}
