"""Adagrad against its equations, written out here in the slides' notation.

    g ← g + λθ                  (weight decay, torch)
    r ← r + g ⊙ g               (r₀ = initial_accumulator_value)
    η_t = η / (1 + (t − 1)·lr_decay)
    θ ← θ − η_t g / (√r + ε)    (torch)   or   θ ← θ − η_t g / √(ε + r)   (lectures)

Tolerance: RTOL = 1e-12 relative to the scale of the expected array.
"""

import numpy as np
import pytest
from rule_reference import DIM, RTOL, STEPS, assert_rel, grad_sequence, make_problem, run_rule  # noqa: F401

from ravine.rules import Adagrad

CASES = []
for eps_inside in (False, True):
    for lr_decay in (0.0, 0.05):
        for r0 in (0.0, 0.1):
            for lam in (0.0, 0.1):
                CASES.append(
                    dict(eps_inside=eps_inside, lr_decay=lr_decay, initial_accumulator_value=r0, weight_decay=lam)
                )


@pytest.mark.parametrize("kw", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in CASES])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_adagrad_reference(kw, closed_loop):
    theta0, grad = make_problem(20)
    grads = grad if closed_loop else grad_sequence(20)
    eta, eps = 0.1, 1e-8
    traj = run_rule(Adagrad(lr=eta, eps=eps, **kw), theta0, grads)

    theta = theta0.copy()
    r = np.full(DIM, kw["initial_accumulator_value"])
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        g = g + kw["weight_decay"] * theta
        r = r + g * g
        eta_t = eta / (1 + (t - 1) * kw["lr_decay"])
        if kw["eps_inside"]:
            theta = theta - eta_t * g / np.sqrt(eps + r)
        else:
            theta = theta - eta_t * g / (np.sqrt(r) + eps)
        rule_theta, st, rec = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ step {t}")
        assert_rel(st.state.r, r, what=f"r step {t}")
        assert rec.eta_t == pytest.approx(eta_t, rel=1e-15)


def test_adagrad_accumulator_is_a_sum():
    """Lecture 002 writes s_t = s_{t−1} g_t² (a dropped '+'); the rule sums: r_t = r₀ + Σ g_τ²."""
    grads = grad_sequence(21)
    r0 = 0.3
    traj = run_rule(Adagrad(lr=0.01, initial_accumulator_value=r0), np.zeros(DIM), grads)
    for t in range(STEPS):
        expected = r0 + sum(gi**2 for gi in grads[: t + 1])
        assert_rel(traj[t][1].state.r, expected, what=f"step {t + 1}")


def test_adagrad_first_step_is_sign_times_lr():
    """t = 1, r₀ = 0: Δθ = −η g/(|g| + ε) ≈ −η sign(g) (either ε placement)."""
    g = np.array([3.0, -0.25, 40.0])
    theta = np.zeros(3)
    for eps_inside in (False, True):
        rule = Adagrad(lr=0.5, eps=1e-10, eps_inside=eps_inside)
        th, _, _ = rule.apply(theta, g, rule.init(theta))
        expected = -0.5 * g / (np.sqrt(g * g + 1e-10) if eps_inside else np.abs(g) + 1e-10)
        assert_rel(th, expected)
        np.testing.assert_allclose(th, -0.5 * np.sign(g), rtol=1e-9)


def test_adagrad_conventions():
    h = Adagrad().h
    assert (h.lr, h.eps, h.initial_accumulator_value, h.eps_inside) == (1e-2, 1e-10, 0.0, False)
    h = Adagrad(convention="lecture000").h
    assert h.eps_inside is True
    h = Adagrad(convention="keras").h
    assert (h.eps, h.initial_accumulator_value, h.eps_inside) == (1e-7, 0.1, True)


def test_adagrad_lr_decay_terms():
    """η_t = η / (1 + (t − 1)·lr_decay), computed once per step in terms()."""
    rule = Adagrad(lr=0.2, lr_decay=0.5)
    for t in range(1, 20):
        assert Adagrad.terms(rule.h, t).eta_t == pytest.approx(0.2 / (1 + (t - 1) * 0.5), rel=1e-15)
