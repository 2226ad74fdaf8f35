"""RMSprop, RMSprop with Nesterov momentum and the windowed RMSprop (lecture 45's
"AdaDelta") against their equations, written out here.

Tolerance: RTOL = 1e-12 relative to the scale of the expected array. The
look-ahead/parameter-form equivalence evaluates the same method in two
algebraically equal but differently rounded ways; on this convex problem with
a small step the difference stays at a few ulps.
"""

from collections import deque

import numpy as np
import pytest
from rule_reference import DIM, RTOL, STEPS, assert_rel, grad_sequence, make_problem, run_rule

from ravine.rules import ALIASES, RMSprop, RMSpropNesterov, WindowedRMSprop, get_rule

# --------------------------------------------------------------- RMSprop

CASES = []
for centered in (False, True):
    for mu in (0.0, 0.9):
        for eps_inside in (False, True):
            for lam in (0.0, 0.1):
                CASES.append(dict(centered=centered, momentum=mu, eps_inside=eps_inside, weight_decay=lam))


@pytest.mark.parametrize("kw", CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in CASES])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_rmsprop_reference(kw, closed_loop):
    """g ← g + λθ; r ← βr + (1−β)g²; m ← βm + (1−β)g (centered); r̄ = r − m² or r;
    D = √r̄ + ε or √(r̄ + ε); b ← μb + g/D, θ ← θ − ηb (μ > 0) else θ ← θ − ηg/D."""
    theta0, grad = make_problem(30)
    grads = grad if closed_loop else grad_sequence(30)
    eta, beta, eps = 1e-3, 0.9, 1e-6
    traj = run_rule(RMSprop(lr=eta, alpha=beta, eps=eps, **kw), theta0, grads)

    theta = theta0.copy()
    r, m, b = np.zeros(DIM), np.zeros(DIM), np.zeros(DIM)
    mu = kw["momentum"]
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        g = g + kw["weight_decay"] * theta
        r = beta * r + (1 - beta) * g * g
        if kw["centered"]:
            m = beta * m + (1 - beta) * g
            r_bar = r - m * m
        else:
            r_bar = r
        D = np.sqrt(r_bar + eps) if kw["eps_inside"] else np.sqrt(r_bar) + eps
        if mu > 0:
            b = mu * b + g / D
            theta = theta - eta * b
        else:
            theta = theta - eta * g / D
        rule_theta, st, rec = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ step {t}")
        assert_rel(st.state.r, r, what=f"r step {t}")
        if kw["centered"]:
            assert_rel(st.state.m, m, what=f"m step {t}")
        if mu > 0:
            assert_rel(st.state.b, b, what=f"b step {t}")


def test_rmsprop_slide_form_lecture000():
    """Lectures: r ← 0.9 r + 0.1 g²; θ ← θ − η g/√(ε + r) — convention 'lecture000'."""
    rule = RMSprop(convention="lecture000")
    assert (rule.h.alpha, rule.h.eps_inside) == (0.9, True)
    grads = grad_sequence(31)
    traj = run_rule(rule, np.zeros(DIM), grads)
    eta, eps = rule.h.lr, rule.h.eps
    theta, r = np.zeros(DIM), np.zeros(DIM)
    for t in range(STEPS):
        g = grads[t]
        r = 0.9 * r + 0.1 * g * g
        theta = theta - eta * g / np.sqrt(eps + r)
        assert_rel(traj[t][0], theta, what=f"step {t + 1}")


# ------------------------------------------------------ RMSprop Nesterov


@pytest.mark.parametrize("eps_inside", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9])
def test_rmsprop_nesterov_slide_form(eps_inside, alpha):
    """Lecture 000 / Goodfellow alg. 8.7: θ̃ = θ + αv; g = ∇L(θ̃); r ← βr + (1−β)g²;
    v ← αv − η g/√(ε + r); θ ← θ + v."""
    theta0, grad = make_problem(32)
    eta, beta, eps = 1e-3, 0.9, 1e-6
    rule = RMSpropNesterov(lr=eta, alpha=beta, momentum=alpha, eps=eps, eps_inside=eps_inside, lookahead=True)
    seen = []

    def oracle(p):
        seen.append(np.array(p, copy=True))
        return grad(p)

    th, st = theta0.copy(), rule.init(theta0)
    theta, r, v = theta0.copy(), np.zeros(DIM), np.zeros(DIM)
    for t in range(1, STEPS + 1):
        th, st, _ = rule.apply(th, None, st, grad_fn=oracle)
        look = theta + alpha * v
        g = grad(look)
        r = beta * r + (1 - beta) * g * g
        D = np.sqrt(eps + r) if eps_inside else np.sqrt(r) + eps
        v = alpha * v - eta * g / D
        theta = theta + v
        assert_rel(seen[-1], look, what=f"look-ahead point step {t}")
        assert_rel(th, theta, what=f"θ step {t}")
        assert_rel(st.state.r, r, what=f"r step {t}")
        assert_rel(st.state.v, v, what=f"v step {t}")


@pytest.mark.parametrize("eps_inside", [False, True])
@pytest.mark.parametrize("alpha", [0.5, 0.9])
def test_rmsprop_nesterov_parameter_form_equals_lookahead(eps_inside, alpha):
    """lookahead=False keeps φ = θ + αv as the parameters and takes g at φ:
    φ_t = θ_t + α v_t for every t, with identical r and v."""
    theta0, grad = make_problem(33)
    # small η (effective η/(1−α) ≤ 2e-3): 150 steps stay away from the minimum, where a
    # sign-like step divides round-off by round-off (see test_torch_parity.py)
    kw = dict(lr=2e-4, alpha=0.9, momentum=alpha, eps=1e-6, eps_inside=eps_inside)
    slide = RMSpropNesterov(lookahead=True, **kw)
    param = RMSpropNesterov(lookahead=False, **kw)
    assert slide.needs == ("lookahead",) and param.needs == ()
    th, st_a = theta0.copy(), slide.init(theta0)
    phi, st_b = theta0.copy(), param.init(theta0)
    for t in range(STEPS):
        th, st_a, _ = slide.apply(th, None, st_a, grad_fn=grad)
        phi, st_b, _ = param.apply(phi, grad(phi), st_b)
        assert_rel(phi, th + alpha * st_a.state.v, what=f"φ step {t + 1}")
        assert_rel(st_b.state.r, st_a.state.r, what=f"r step {t + 1}")
        # v is a difference of iterates: its round-off is measured against |θ|
        np.testing.assert_allclose(
            st_b.state.v, st_a.state.v, rtol=RTOL, atol=RTOL * np.max(np.abs(th)), err_msg=f"v step {t + 1}"
        )


def test_rmsprop_nesterov_lookahead_needs_oracle():
    rule = RMSpropNesterov(lookahead=True)
    theta = np.zeros(3)
    with pytest.raises(ValueError, match="RMSpropNesterov.*grad_fn"):
        rule.apply(theta, np.ones(3), rule.init(theta))


# RULE BUG: fails until src/ravine/rules/rmsprop.py derives `needs` from h (see docstring)
def test_rmsprop_nesterov_with_hyper_updates_needs():
    """RULE BUG (reported): ``with_hyper(lookahead=...)`` copies the instance's
    ``needs`` from the original, so a copy switched to the slide form does not ask
    for a gradient oracle: it silently takes g at θ (not θ̃) and moves θ by v.
    Expected: the copy behaves exactly like ``RMSpropNesterov(lookahead=True)``."""
    fresh = RMSpropNesterov(lookahead=True)
    copied = RMSpropNesterov(lookahead=False).with_hyper(lookahead=True)
    assert copied.h == fresh.h
    assert copied.needs == fresh.needs == ("lookahead",)
    back = RMSpropNesterov(lookahead=True).with_hyper(lookahead=False)
    assert back.needs == ()


# ------------------------------------------------------ windowed RMSprop


@pytest.mark.parametrize("eps_inside", [False, True])
@pytest.mark.parametrize("W", [1, 3, 10, STEPS + 50])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_windowed_rmsprop_reference(W, eps_inside, closed_loop):
    """r_t = mean of the last min(t, W) squared gradients; θ ← θ − η g/√(ε + r) or g/(√r + ε)."""
    theta0, grad = make_problem(34)
    grads = grad if closed_loop else grad_sequence(34)
    # η small enough that 150 steps stay away from the minimum: there a sign-like step
    # g/√r divides round-off by round-off and trajectories part chaotically.
    eta, eps = 1e-3, 1e-6
    traj = run_rule(WindowedRMSprop(lr=eta, window=W, eps=eps, eps_inside=eps_inside), theta0, grads)

    theta = theta0.copy()
    window = deque(maxlen=W)
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        window.append(g * g)
        r = sum(window) / len(window)
        assert len(window) == min(t, W)
        D = np.sqrt(eps + r) if eps_inside else np.sqrt(r) + eps
        theta = theta - eta * g / D
        rule_theta, st, rec = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ step {t}")
        assert_rel(rec.r, r, what=f"r step {t}")
        # the state is a ring of the last W squared gradients: g_τ² in row (τ − 1) mod W,
        # zeros where unseen
        stored = np.zeros((W, DIM))
        for tau, sq in zip(range(t - len(window) + 1, t + 1), window):
            stored[(tau - 1) % W] = sq
        assert_rel(st.state.w, stored, what=f"window step {t}")


def test_windowed_rmsprop_window_one_is_sign_descent():
    """W = 1: r_t = g_t², so Δθ = −η g/(|g| + ε) ≈ −η sign(g) at every step."""
    grads = grad_sequence(35)
    traj = run_rule(WindowedRMSprop(lr=0.01, window=1, eps=1e-12), np.zeros(DIM), grads)
    theta = np.zeros(DIM)
    for t in range(STEPS):
        theta = theta - 0.01 * grads[t] / (np.abs(grads[t]) + 1e-12)
        assert_rel(traj[t][0], theta, what=f"step {t + 1}")
        np.testing.assert_allclose(traj[t][2].delta, -0.01 * np.sign(grads[t]), rtol=1e-6)


def test_windowed_rmsprop_is_lecture45_adadelta():
    """The lecture calls this method AdaDelta; ravine names it and keeps the alias."""
    assert ALIASES["adadelta_lecture45"] == "windowed_rmsprop"
    assert type(get_rule("adadelta_lecture45")) is WindowedRMSprop
    assert "AdaDelta" in WindowedRMSprop.__doc__
    assert WindowedRMSprop(convention="lecture000").h.eps_inside is True
