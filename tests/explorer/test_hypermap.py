"""The hyperparameter map's bound lines say which quadratic they belong to (POST /api/hypermap)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi", reason="the explorer needs ravine[serve]")

ROSENBROCK = {
    "problem": "rosenbrock",
    "start": [-1.2, 1.0],
    "steps": 100,
    "optimizers": [{"name": "sgd", "hyper": {"lr": 0.001}}],
}


def _rosenbrock_hessian(x, y):
    """f = (1 − x)² + 100(y − x²)², differentiated by hand (independent of the problem's sympy)."""
    return np.array([[2 - 400 * (y - x**2) + 800 * x**2, -400 * x], [-400 * x, 200.0]])


def test_a_bound_on_a_non_quadratic_is_labelled_as_the_local_quadratics_at_the_minimum(client):
    r = client.post("/api/hypermap", json={"setup": ROSENBROCK, "n": 6, "y": ""})
    assert r.status_code == 200, r.text
    d = r.json()
    L = np.linalg.eigvalsh(_rosenbrock_hessian(1.0, 1.0))[-1]  # 1001.6
    L0 = np.linalg.eigvalsh(_rosenbrock_hessian(-1.2, 1.0))[-1]  # at the start: 1506
    (bound,) = d["bounds"]
    assert bound["model"] == "local" and bound["at"] == [1.0, 1.0]
    assert bound["x"] == [pytest.approx(2 / L, rel=1e-12)]
    assert bound["label"] == f"local quadratic at θ* = (1, 1): GD stability: η < 2/L, L = {L:.4g}"
    assert d["model"]["kind"] == "local"
    assert d["note"] == (
        f"the dashed line is the bound of the local quadratic model at the minimum θ* = (1, 1) "
        f"(L = λmax of the Hessian there = {L:.4g}), not of f: elsewhere f's curvature differs "
        f"(λmax = {L0:.4g} at the start θ₀ = (-1.2, 1)), so the edge of the diverged cells need not follow the line"
    )
    # with momentum: the heavy ball's edge over β, labelled the same way
    hb = dict(ROSENBROCK, optimizers=[{"name": "momentum", "hyper": {"lr": 0.001, "momentum": 0.5}}])
    d = client.post("/api/hypermap", json={"setup": hb, "n": 4}).json()
    (bound,) = d["bounds"]
    assert bound["model"] == "local" and bound["label"].startswith("local quadratic at θ* = (1, 1): heavy-ball")
    np.testing.assert_allclose(bound["x"], 2 * (1 + np.asarray(bound["y"])) / L, rtol=1e-12)


def test_a_bound_on_a_quadratic_is_exact_and_says_nothing_local(client):
    ellipse = dict(ROSENBROCK, problem="ellipse", start=[-5.0, -2.0])
    d = client.post("/api/hypermap", json={"setup": ellipse, "n": 4, "y": ""}).json()
    (bound,) = d["bounds"]
    assert bound["model"] == "quadratic" and bound["at"] == [0.0, 0.0]
    assert bound["label"] == "GD stability: η < 2/L, L = 4" and d["note"] is None
