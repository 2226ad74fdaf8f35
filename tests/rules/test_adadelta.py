"""AdaDelta (Zeiler 2012, Algorithm 1) written out in the paper's notation.

    Accumulate gradient:   E[g²]_t  = ρ E[g²]_{t−1} + (1−ρ) g_t²
    Compute update:        Δx_t     = −RMS[Δx]_{t−1} / RMS[g]_t · g_t,   RMS[y]_t = √(E[y²]_t + ε)
    Accumulate updates:    E[Δx²]_t = ρ E[Δx²]_{t−1} + (1−ρ) Δx_t²
    Apply update:          x_{t+1}  = x_t + lr·Δx_t     (lr = 1 in the paper; torch's plain multiplier)

Tolerance: RTOL = 1e-12 relative to the scale of the expected array.
"""

import math

import numpy as np
import pytest
from rule_reference import DIM, RTOL, STEPS, assert_rel, grad_sequence, make_problem, run_rule

from ravine.rules import Adadelta

CASES = [
    dict(lr=lr, rho=rho, eps=eps, weight_decay=lam)
    for lr in (1.0, 0.5)
    for rho in (0.9, 0.95)
    for eps in (1e-6, 1e-5)
    for lam in (0.0, 0.1)
]


@pytest.mark.parametrize("kw", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in CASES])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_adadelta_zeiler_algorithm_1(kw, closed_loop):
    # ε ≤ 1e-5 keeps the steps (~√ε·t) small enough that 150 steps stay away from the
    # minimum, where g/√E[g²] divides round-off by round-off (chaotic, tests nothing).
    theta0, grad = make_problem(40)
    grads = grad if closed_loop else grad_sequence(40)
    lr, rho, eps, lam = kw["lr"], kw["rho"], kw["eps"], kw["weight_decay"]
    traj = run_rule(Adadelta(**kw), theta0, grads)

    x = theta0.copy()
    Eg2 = np.zeros(DIM)  # E[g²]
    Edx2 = np.zeros(DIM)  # E[Δx²]
    for t in range(1, STEPS + 1):
        g = grads(x) if closed_loop else grads[t - 1]
        g = g + lam * x  # torch's L2 weight decay (not in the paper)
        Eg2 = rho * Eg2 + (1 - rho) * g**2
        dx = -np.sqrt(Edx2 + eps) / np.sqrt(Eg2 + eps) * g
        Edx2 = rho * Edx2 + (1 - rho) * dx**2
        x = x + lr * dx
        rule_x, st, rec = traj[t - 1]
        assert_rel(rule_x, x, what=f"x step {t}")
        assert_rel(st.state.s, Eg2, what=f"E[g²] step {t}")
        assert_rel(st.state.u, Edx2, what=f"E[Δx²] step {t}")
        # Δ = (x_{t+1} − x_t)/lr: its round-off is that of x, so compare it on the scale of x
        np.testing.assert_allclose(rec.step, -dx, rtol=RTOL, atol=RTOL * np.max(np.abs(x)), err_msg=f"Δ step {t}")


@pytest.mark.parametrize("rho,eps", [(0.9, 1e-6), (0.95, 1e-6), (0.9, 1e-4)])
def test_adadelta_first_step_epsilon_is_the_learning_rate(rho, eps):
    """Lecture 001: at t = 1, Δ = √ε/√((1−ρ)g² + ε)·g ≈ √(ε/(1−ρ))·sign(g) once (1−ρ)g² ≫ ε,
    whatever the scale of g: ε sets the first step sizes."""
    g = np.array([3.0, -0.5, 250.0, -7e3, 1e-2])
    theta = np.array([1.0, 2.0, -1.0, 0.5, 0.0])
    rule = Adadelta(lr=1.0, rho=rho, eps=eps)
    th, st, rec = rule.apply(theta, g, rule.init(theta))
    expected = np.array([math.sqrt(eps) / math.sqrt((1 - rho) * gi * gi + eps) * gi for gi in g])
    assert_rel(rec.step, expected)
    assert_rel(th, theta - expected)
    big = (1 - rho) * g * g > 1e4 * eps
    approx = math.sqrt(eps / (1 - rho)) * np.sign(g)
    np.testing.assert_allclose(rec.step[big], approx[big], rtol=1e-4)
    # the step does not scale with g: 1000·g gives (nearly) the same first step
    _, _, rec_big = rule.apply(theta, 1000 * g, rule.init(theta))
    np.testing.assert_allclose(rec_big.step[big], rec.step[big], rtol=1e-4)


def test_adadelta_unit_correction_grows_the_step():
    """With a constant gradient the step grows from ~√(ε/(1−ρ)) (E[Δx²] builds up):
    the numerator √(E[Δx²] + ε) is what the windowed 'AdaDelta' of lecture 45 lacks."""
    rule = Adadelta(lr=1.0, rho=0.9, eps=1e-6)
    g = np.ones(3)
    traj = run_rule(rule, np.zeros(3), [g] * STEPS)
    steps = [float(rec.step[0]) for _, _, rec in traj]
    assert all(b > a for a, b in zip(steps, steps[1:]))
    assert steps[-1] > 1.5 * steps[0]


def test_adadelta_conventions():
    h = Adadelta().h
    assert (h.lr, h.rho, h.eps) == (1.0, 0.9, 1e-6)
    h = Adadelta(convention="keras").h
    assert (h.lr, h.rho, h.eps) == (1e-3, 0.95, 1e-7)
    h = Adadelta(convention="paper").h
    assert (h.lr, h.rho) == (1.0, 0.95)
