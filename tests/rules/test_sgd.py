"""SGD, Momentum and NAG against the equations of ALGORITHMS.md, written out here.

Every expectation below is computed by a plain NumPy loop in the notation of the
slides (float64); nothing is taken from ``ravine.rules`` except the rule under test.
Comparisons run over STEPS ≥ 100 steps on a small random problem
(∇f for f = ½θᵀAθ − bᵀθ + Σ log cosh θ) or on a fixed seeded gradient sequence.

Tolerance: RTOL = 1e-12 relative to the scale (max |·|) of the expected array.
Where the rule and the reference evaluate the same equation with a different
order of floating-point operations (the equivalence tests) the difference is a
few ulps per step; on this convex problem with η < 2/L it does not grow.
"""

import numpy as np
import pytest
from rule_reference import DIM, RTOL, STEPS, assert_rel, grad_sequence, make_problem, run_rule

from ravine.rules import NAG, SGD, Momentum

# -------------------------------------------------------------- plain GD


@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_plain_gradient_descent(closed_loop):
    """θ ← θ − η g (lecture 002: batch GD, SGD and minibatch SGD are this one rule)."""
    theta0, grad = make_problem(1)
    grads = grad if closed_loop else grad_sequence(1)
    eta = 0.05
    traj = run_rule(SGD(lr=eta), theta0, grads)
    theta = theta0.copy()
    for t in range(STEPS):
        g = grads(theta) if closed_loop else grads[t]
        theta = theta - eta * g
        rule_theta, st, rec = traj[t]
        assert_rel(rule_theta, theta, what=f"step {t + 1}")
        assert_rel(rec.delta, -eta * g)
        assert st.state.b == 0.0  # no momentum buffer without momentum
        assert st.t == t + 1


def test_plain_gd_with_weight_decay():
    """torch's L2 weight decay: g ← g + λθ, then θ ← θ − η g."""
    theta0, grad = make_problem(2)
    eta, lam = 0.05, 0.1
    traj = run_rule(SGD(lr=eta, weight_decay=lam), theta0, grad)
    theta = theta0.copy()
    for t in range(STEPS):
        g = grad(theta) + lam * theta
        theta = theta - eta * g
        assert_rel(traj[t][0], theta, what=f"step {t + 1}")


def test_sgd_minibatch_mean_is_the_gradient():
    """Minibatch SGD is the same rule fed with g = 1/|B| Σ ∇L_i (lecture 002)."""
    r = np.random.default_rng(3)
    X = r.normal(size=(40, DIM))
    y = r.normal(size=40)
    theta0 = r.normal(size=DIM)
    eta = 0.05
    batches = [r.choice(40, size=8, replace=False) for _ in range(STEPS)]

    def batch_grad(theta, idx):  # mean over the minibatch of ∇ ½(xᵀθ − y)²
        total = np.zeros(DIM)
        for i in idx:
            total += (X[i] @ theta - y[i]) * X[i]
        return total / len(idx)

    rule = SGD(lr=eta)
    th_rule, st = theta0.copy(), rule.init(theta0)
    th_ref = theta0.copy()
    for idx in batches:
        th_rule, st, _ = rule.apply(th_rule, batch_grad(th_rule, idx), st)
        th_ref = th_ref - eta * batch_grad(th_ref, idx)
        assert_rel(th_rule, th_ref)


# ------------------------------------------------- SGD with momentum (torch)

SGD_CASES = []
for mu in (0.5, 0.9):
    for tau in (0.0, 0.3):
        for nesterov in (False, True):
            for lam in (0.0, 0.05):
                for first in ("g", "zero"):
                    if nesterov and tau != 0:
                        continue
                    SGD_CASES.append(
                        dict(momentum=mu, dampening=tau, nesterov=nesterov, weight_decay=lam, first_buffer=first)
                    )


def _sgd_id(kw):
    return ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("kw", SGD_CASES, ids=[_sgd_id(k) for k in SGD_CASES])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_sgd_momentum_reference(kw, closed_loop):
    """b₁ = g (torch) or μ·0 + (1−τ)g (zero start); b ← μb + (1−τ)g;
    d = g + μb (nesterov) or b; θ ← θ − η d."""
    theta0, grad = make_problem(4)
    grads = grad if closed_loop else grad_sequence(4)
    eta = 0.02
    mu, tau, lam = kw["momentum"], kw["dampening"], kw["weight_decay"]
    traj = run_rule(SGD(lr=eta, **kw), theta0, grads)

    theta = theta0.copy()
    b = np.zeros(DIM)
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        g = g + lam * theta
        if t == 1 and kw["first_buffer"] == "g":
            b = g.copy()
        else:
            b = mu * b + (1 - tau) * g
        d = g + mu * b if kw["nesterov"] else b
        theta = theta - eta * d
        rule_theta, st, rec = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ at step {t}")
        assert_rel(st.state.b, b, what=f"b at step {t}")


@pytest.mark.parametrize("tau", [0.0, 0.3])
def test_sgd_first_buffer_conventions_first_step(tau):
    """torch: b₁ = g; keras/optax/paper (zero start): b₁ = (1 − τ) g."""
    g = np.array([1.0, -2.0, 0.5])
    theta = np.array([0.3, 0.2, -0.1])
    mu, eta = 0.9, 0.1
    torch_rule = SGD(lr=eta, momentum=mu, dampening=tau)
    zero_rule = SGD(lr=eta, momentum=mu, dampening=tau, first_buffer="zero")
    th_t, st_t, _ = torch_rule.apply(theta, g, torch_rule.init(theta))
    th_z, st_z, _ = zero_rule.apply(theta, g, zero_rule.init(theta))
    np.testing.assert_array_equal(st_t.state.b, g)
    assert_rel(st_z.state.b, (1 - tau) * g)
    assert_rel(th_t, theta - eta * g)
    assert_rel(th_z, theta - eta * (1 - tau) * g)
    if tau == 0:  # without dampening the two starts agree
        assert_rel(th_z, th_t)


def test_sgd_conventions():
    assert SGD().h.first_buffer == "g" and SGD().h.lr == 1e-3
    k = SGD(convention="keras")
    assert k.h.first_buffer == "zero" and k.h.lr == 1e-2
    assert SGD(convention="optax").h.first_buffer == "zero"
    assert SGD(convention="paper").h.first_buffer == "zero"
    # an explicit keyword beats the convention
    assert SGD(first_buffer="g", convention="keras").h.first_buffer == "g"


def test_sgd_keras_convention_trajectory():
    """Keras SGD(momentum=μ, nesterov): v ← μv − ηg; θ ← θ + μv − ηg (v₀ = 0),
    the update Keras documents, written in its own variables."""
    theta0, grad = make_problem(5)
    eta, mu = 0.02, 0.8
    for nesterov in (False, True):
        traj = run_rule(SGD(lr=eta, momentum=mu, nesterov=nesterov, convention="keras"), theta0, grad)
        theta, v = theta0.copy(), np.zeros(DIM)
        for t in range(STEPS):
            g = grad(theta)
            v = mu * v - eta * g
            theta = theta + (mu * v - eta * g if nesterov else v)
            assert_rel(traj[t][0], theta, what=f"nesterov={nesterov} step {t + 1}")


# ------------------------------------------------------------ Momentum


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_heavy_ball_reference(alpha, closed_loop):
    """Lectures 003/004: v ← αv − ηg; θ ← θ + v, v₀ = 0."""
    theta0, grad = make_problem(6)
    grads = grad if closed_loop else grad_sequence(6)
    eta = 0.03
    traj = run_rule(Momentum(lr=eta, momentum=alpha, form="heavy_ball"), theta0, grads)
    theta, v = theta0.copy(), np.zeros(DIM)
    for t in range(STEPS):
        g = grads(theta) if closed_loop else grads[t]
        v = alpha * v - eta * g
        theta = theta + v
        rule_theta, st, rec = traj[t]
        assert_rel(rule_theta, theta, what=f"θ step {t + 1}")
        assert_rel(st.state.v, v, what=f"v step {t + 1}")
        assert_rel(rec.delta, v)


def test_heavy_ball_three_term_recurrence():
    """θ_{t+1} = θ_t − η g_t + α (θ_t − θ_{t−1}), with θ_{−1} = θ_0 (v₀ = 0)."""
    theta0, grad = make_problem(7)
    eta, alpha = 0.03, 0.85
    traj = run_rule(Momentum(lr=eta, momentum=alpha), theta0, grad)
    prev, cur = theta0.copy(), theta0.copy()
    for t in range(STEPS):
        nxt = cur - eta * grad(cur) + alpha * (cur - prev)
        prev, cur = cur, nxt
        assert_rel(traj[t][0], cur, what=f"step {t + 1}")


@pytest.mark.parametrize("alpha", [0.5, 0.9])
def test_heavy_ball_equals_sgd_momentum(alpha):
    """Constant η: heavy ball ≡ torch SGD(momentum=α, dampening=0), with v = −η·buf."""
    theta0, grad = make_problem(8)
    eta = 0.03
    hb = run_rule(Momentum(lr=eta, momentum=alpha, form="heavy_ball"), theta0, grad)
    sgd = run_rule(SGD(lr=eta, momentum=alpha), theta0, grad)
    for t in range(STEPS):
        assert_rel(hb[t][0], sgd[t][0], what=f"θ step {t + 1}")
        assert_rel(hb[t][1].state.v, -eta * sgd[t][1].state.b, what=f"v step {t + 1}")


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_average_momentum_reference(beta, closed_loop):
    """Lectures 001/002 algorithm 4: v ← βv + (1−β)g; θ ← θ − ηv, v₀ = 0."""
    theta0, grad = make_problem(9)
    grads = grad if closed_loop else grad_sequence(9)
    eta = 0.05
    traj = run_rule(Momentum(lr=eta, momentum=beta, form="average"), theta0, grads)
    theta, v = theta0.copy(), np.zeros(DIM)
    for t in range(STEPS):
        g = grads(theta) if closed_loop else grads[t]
        v = beta * v + (1 - beta) * g
        theta = theta - eta * v
        assert_rel(traj[t][0], theta, what=f"θ step {t + 1}")
        assert_rel(traj[t][1].state.v, v, what=f"v step {t + 1}")


def test_average_momentum_vs_torch_dampened_sgd():
    """v ← βv + (1−β)g is SGD(momentum=β, dampening=β) with a zero start; torch's
    first step (buf = g instead of (1−β)g) differs, and so does the trajectory."""
    theta0, grad = make_problem(10)
    eta, beta = 0.05, 0.9
    avg = run_rule(Momentum(lr=eta, momentum=beta, form="average"), theta0, grad)
    zero = run_rule(SGD(lr=eta, momentum=beta, dampening=beta, first_buffer="zero"), theta0, grad)
    torch_like = run_rule(SGD(lr=eta, momentum=beta, dampening=beta), theta0, grad, steps=1)
    for t in range(STEPS):
        assert_rel(avg[t][0], zero[t][0], what=f"step {t + 1}")
    g1 = grad(theta0)
    assert_rel(torch_like[0][0], theta0 - eta * g1)  # buf₁ = g
    assert_rel(avg[0][0], theta0 - eta * (1 - beta) * g1)  # v₁ = (1−β)g
    assert not np.allclose(torch_like[0][0], avg[0][0])


def test_momentum_conventions_pick_the_form():
    assert Momentum().h.form == "heavy_ball"
    assert Momentum(convention="lecture003").h.form == "heavy_ball"
    assert Momentum(convention="lecture004").h.form == "heavy_ball"
    assert Momentum(convention="lecture001").h.form == "average"
    assert Momentum(convention="lecture002").h.form == "average"


def test_momentum_schedule_through_with_hyper():
    """Lecture 004's annealing (0.5 → 0.9) is a schedule on α: changing α between steps
    continues v with the new α: v ← α_t v − ηg."""
    theta0, grad = make_problem(11)
    eta = 0.03
    alphas = np.linspace(0.5, 0.9, STEPS)
    rule = Momentum(lr=eta, momentum=0.5)
    th, st = theta0.copy(), rule.init(theta0)
    ref, v = theta0.copy(), np.zeros(DIM)
    for t in range(STEPS):
        r = rule.with_hyper(momentum=float(alphas[t]))
        th, st, _ = r.apply(th, grad(th), st)
        v = alphas[t] * v - eta * grad(ref)
        ref = ref + v
        assert_rel(th, ref, what=f"step {t + 1}")


def test_lr_override_per_step():
    """apply(lr=η_t) (schedules) uses η_t for that step: θ ← θ − η_t g."""
    theta0, grad = make_problem(12)
    etas = 0.05 / (1 + 0.1 * np.arange(STEPS))
    rule = SGD(lr=123.0)  # must be ignored
    th, st = theta0.copy(), rule.init(theta0)
    ref = theta0.copy()
    for t in range(STEPS):
        th, st, _ = rule.apply(th, grad(th), st, lr=float(etas[t]))
        ref = ref - etas[t] * grad(ref)
        assert_rel(th, ref, what=f"step {t + 1}")
    assert rule.h.lr == 123.0


# ------------------------------------------------------------------- NAG


@pytest.mark.parametrize("alpha", [0.0, 0.5, 0.9])
def test_nag_lookahead_reference(alpha):
    """θ̃ = θ + αv; g = ∇L(θ̃); v ← αv − ηg; θ ← θ + v (lectures 000, 003)."""
    theta0, grad = make_problem(13)
    eta = 0.03
    rule = NAG(lr=eta, momentum=alpha)
    seen = []

    def oracle(p):
        seen.append(np.array(p, copy=True))
        return grad(p)

    th, st = theta0.copy(), rule.init(theta0)
    theta, v = theta0.copy(), np.zeros(DIM)
    for t in range(STEPS):
        th, st, rec = rule.apply(th, None, st, grad_fn=oracle)
        look = theta + alpha * v
        g = grad(look)
        v = alpha * v - eta * g
        theta = theta + v
        assert_rel(seen[-1], look, what=f"look-ahead point step {t + 1}")
        assert_rel(th, theta, what=f"θ step {t + 1}")
        assert_rel(st.state.v, v, what=f"v step {t + 1}")
        assert_rel(rec.g, g)
    assert len(seen) == STEPS  # one oracle call per step


@pytest.mark.parametrize("alpha", [0.5, 0.9])
def test_nag_equals_sgd_nesterov_in_lookahead_variable(alpha):
    """torch's SGD(nesterov=True) is NAG written in φ = θ + αv (same gradient oracle):
    φ_t = θ_t + α v_t and −η·buf_t = v_t at every step."""
    theta0, grad = make_problem(14)
    eta = 0.03
    nag = NAG(lr=eta, momentum=alpha)
    sgd = SGD(lr=eta, momentum=alpha, nesterov=True)
    th, st_n = theta0.copy(), nag.init(theta0)
    phi, st_s = theta0.copy(), sgd.init(theta0)  # v₀ = 0 so φ₀ = θ₀
    for t in range(STEPS):
        th, st_n, _ = nag.apply(th, None, st_n, grad_fn=grad)
        phi, st_s, _ = sgd.apply(phi, grad(phi), st_s)
        v = st_n.state.v
        assert_rel(phi, th + alpha * v, what=f"φ step {t + 1}")
        # v = θ_t − θ_{t−1} is a difference of iterates, so its round-off is that of θ
        # (a few ulps of |θ| ≈ 1); near the minimum v itself is ~1e-5 and a relative
        # test on v alone would measure ulps of θ. Tolerance: 1e-12 of the scale of θ.
        np.testing.assert_allclose(
            -eta * st_s.state.b, v, rtol=RTOL, atol=RTOL * np.max(np.abs(th)), err_msg=f"v step {t + 1}"
        )


def test_nag_needs_a_gradient_oracle():
    rule = NAG()
    theta = np.zeros(3)
    with pytest.raises(ValueError, match="NAG.*grad_fn"):
        rule.apply(theta, np.ones(3), rule.init(theta))


def test_nag_ignores_the_passed_gradient():
    """With grad_fn the gradient comes from the oracle at θ̃, never from the g argument."""
    theta0, grad = make_problem(15)
    rule = NAG(lr=0.03, momentum=0.9)
    st = rule.init(theta0)
    a, st_a, _ = rule.apply(theta0, np.full(DIM, 1e6), st, grad_fn=grad)
    b, st_b, _ = rule.apply(theta0, None, st, grad_fn=grad)
    np.testing.assert_array_equal(a, b)
