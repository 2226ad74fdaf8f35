"""Helpers shared by the rule tests: a small problem, gradient sequences, comparisons.

Nothing here computes an expectation: each test writes its equations out itself.
"""

import numpy as np

from support.problems import make_problem as _make_problem

STEPS = 150
DIM = 6
RTOL = 1e-12


def make_problem(seed=0, dim=DIM):
    """θ0 and ∇f for f(θ) = ½θᵀAθ − bᵀθ + Σ log cosh θ (A SPD, L ≲ 8)."""
    return _make_problem(seed, dim, ridge=0.5)


def grad_sequence(seed, steps=STEPS, dim=DIM):
    """A fixed gradient sequence, coordinates of different magnitudes."""
    r = np.random.default_rng(seed)
    scale = np.exp(r.normal(size=dim))
    return [scale * r.normal(size=dim) for _ in range(steps)]


def assert_rel(actual, expected, rtol=RTOL, what=""):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * max(scale, 1e-300), err_msg=what)


def run_rule(rule, theta0, grads, steps=STEPS, **kw):
    """The rule's trajectory: list of (θ_t, opt_state_t, record_t), t = 1..steps."""
    theta = np.array(theta0, dtype=float)
    st = rule.init(theta)
    out = []
    for t in range(steps):
        g = grads(theta) if callable(grads) else grads[t]
        theta, st, rec = rule.apply(theta, g, st, **kw)
        out.append((theta, st, rec))
    return out
