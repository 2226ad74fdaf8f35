"""Adam (eps placements, AMSGrad, coupled/decoupled weight decay), AdamW, NAdam and
Yogi against their equations, written out here.

Tolerance: RTOL = 1e-12 relative to the scale of the expected array. Closed-loop
runs use η = 1e-3 so that 150 steps stay away from the minimum, where an
adaptive step ŝ/√r̂ divides round-off by round-off (see test_torch_parity.py).
"""

import math

import numpy as np
import pytest
from rule_reference import DIM, RTOL, STEPS, assert_rel, grad_sequence, make_problem, run_rule  # noqa: F401

from ravine.rules import Adam, AdamW, NAdam, OptState, Yogi


def source(closed_loop, seed):
    theta0, grad = make_problem(seed)
    if closed_loop:
        return theta0, grad, 1e-3
    return theta0, grad_sequence(seed), 1e-2


# ------------------------------------------------------------------ Adam

ADAM_CASES = []
for mode in ("outside", "inside", "hat"):
    for ams in (False, True):
        for lam, dec in ((0.0, False), (0.1, False), (0.1, True)):
            ADAM_CASES.append(dict(eps_mode=mode, amsgrad=ams, weight_decay=lam, decoupled_weight_decay=dec))


def adam_reference(theta0, grads, eta, b1, b2, eps, eps_mode, amsgrad, weight_decay, decoupled, steps=STEPS):
    """Kingma & Ba Algorithm 1 (+ torch's amsgrad and weight decay), one line per equation."""
    theta = theta0.copy()
    s, r, r_max = np.zeros_like(theta), np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t in range(1, steps + 1):
        g = grads(theta) if callable(grads) else grads[t - 1]
        if weight_decay and not decoupled:
            g = g + weight_decay * theta  # L2 (coupled)
        s = b1 * s + (1 - b1) * g  # first moment
        r = b2 * r + (1 - b2) * g * g  # second moment
        if amsgrad:
            r_max = np.maximum(r_max, r)  # torch: max over the uncorrected r
            r_use = r_max
        else:
            r_use = r
        s_hat = s / (1 - b1**t)
        r_hat = r_use / (1 - b2**t)
        if eps_mode == "outside":
            step = eta * s_hat / (np.sqrt(r_hat) + eps)
        elif eps_mode == "inside":
            step = eta * s_hat / np.sqrt(r_hat + eps)
        else:  # Keras / Kingma & Ba §2: lr_t = lr·√(1−β2^t)/(1−β1^t); θ ← θ − lr_t·s/(√r + ε)
            lr_t = eta * math.sqrt(1 - b2**t) / (1 - b1**t)
            step = lr_t * s / (np.sqrt(r_use) + eps)
        if weight_decay and decoupled:
            theta = theta - eta * weight_decay * theta  # AdamW: θ ← θ − ηλθ
        theta = theta - step
        out.append(dict(theta=theta, s=s, r=r, r_max=r_max))
    return out


@pytest.mark.parametrize("kw", ADAM_CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in ADAM_CASES])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_adam_reference(kw, closed_loop):
    theta0, grads, eta = source(closed_loop, 50)
    b1, b2, eps = 0.9, 0.99, 1e-6
    traj = run_rule(Adam(lr=eta, betas=(b1, b2), eps=eps, **kw), theta0, grads)
    ref = adam_reference(
        theta0, grads, eta, b1, b2, eps, kw["eps_mode"], kw["amsgrad"], kw["weight_decay"], kw["decoupled_weight_decay"]
    )
    for t, (got, exp) in enumerate(zip(traj, ref), 1):
        theta, st, _ = got
        assert_rel(theta, exp["theta"], what=f"θ step {t}")
        assert_rel(st.state.s, exp["s"], what=f"s step {t}")
        assert_rel(st.state.r, exp["r"], what=f"r step {t}")
        if kw["amsgrad"]:
            assert_rel(st.state.r_max, exp["r_max"], what=f"r_max step {t}")


def test_adam_bias_correction_has_the_power_t():
    """Constant gradient: ŝ_t = g and r̂_t = g² exactly for every t (with 1 − β^t), so every
    step is −η g/(|g| + ε). Lecture 000's 1/(1 − β) would shrink the step after t = 1."""
    g = np.array([2.0, -0.5, 1e-3])
    eta, eps = 0.01, 1e-8
    traj = run_rule(Adam(lr=eta, eps=eps), np.zeros(3), [g] * STEPS)
    for t, (_, _, rec) in enumerate(traj, 1):
        assert_rel(rec.delta, -eta * g / (np.abs(g) + eps), what=f"step {t}")
        assert_rel(rec.s_hat, g)
        assert_rel(rec.r_hat, g * g)


def test_amsgrad_takes_the_max_of_the_uncorrected_r():
    """torch's AMSGrad: r_max = max(r_max, r) over the RAW second moment, then r̂ = r_max/(1−β2^t).
    One large gradient then small ones: r_max stays r₁, and step 2 uses r₁/(1−β2²), not
    max(r̂₁, r̂₂) = r̂₁ (a max over corrected moments would give a smaller step)."""
    b1, b2, eta, eps = 0.9, 0.999, 0.1, 1e-8
    grads = [np.array([10.0])] + [np.array([0.01])] * (STEPS - 1)
    traj = run_rule(Adam(lr=eta, betas=(b1, b2), eps=eps, amsgrad=True), np.zeros(1), grads)
    r_raw, r_max, s = 0.0, 0.0, 0.0
    for t in range(1, STEPS + 1):
        g = float(grads[t - 1][0])
        s = b1 * s + (1 - b1) * g
        r_raw = b2 * r_raw + (1 - b2) * g * g
        r_max = max(r_max, r_raw)
        assert traj[t - 1][1].state.r_max[0] == pytest.approx(r_max, rel=1e-14)
    r1 = (1 - b2) * 100.0
    assert traj[1][1].state.r_max[0] == pytest.approx(r1, rel=1e-15)
    s2 = b1 * (1 - b1) * 10.0 + (1 - b1) * 0.01
    expected2 = -eta * (s2 / (1 - b1**2)) / (math.sqrt(r1 / (1 - b2**2)) + eps)
    corrected_max = -eta * (s2 / (1 - b1**2)) / (math.sqrt(r1 / (1 - b2)) + eps)
    assert traj[1][2].delta[0] == pytest.approx(expected2, rel=1e-12)
    assert abs(expected2 - corrected_max) > 0.1 * abs(expected2)


def test_adam_hat_first_step():
    """eps_mode='hat' at t = 1: Δθ = −η·√(1−β2)/(1−β1)·(1−β1)g/(√((1−β2)g²) + ε)
    = −η g/(|g| + ε/√(1−β2)): ε is effectively scaled by 1/√(1−β2^t)."""
    g = np.array([1e-4, 1.0, -3.0])
    eta, b2, eps = 0.1, 0.999, 1e-7
    rule = Adam(lr=eta, eps=eps, convention="keras")
    assert rule.h.eps_mode == "hat" and rule.h.eps == 1e-7
    _, _, rec = rule.apply(np.zeros(3), g, rule.init(np.zeros(3)))
    assert_rel(rec.delta, -eta * g / (np.abs(g) + eps / math.sqrt(1 - b2)))


def test_adam_conventions_eps_mode():
    assert Adam().h.eps_mode == "outside" and Adam().h.eps == 1e-8
    assert Adam(convention="lecture000").h.eps_mode == "inside"
    h = Adam(convention="lecture002").h
    assert (h.eps_mode, h.eps) == ("inside", 1e-7)


# ----------------------------------------------------------------- AdamW


@pytest.mark.parametrize("ams", [False, True])
@pytest.mark.parametrize("mode", ["outside", "inside", "hat"])
def test_adamw_is_adam_with_decoupled_weight_decay(ams, mode):
    theta0, grad = make_problem(51)
    kw = dict(lr=1e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05, amsgrad=ams, eps_mode=mode)
    w = run_rule(AdamW(**kw), theta0, grad)
    a = run_rule(Adam(decoupled_weight_decay=True, **kw), theta0, grad)
    for t in range(STEPS):
        np.testing.assert_array_equal(w[t][0], a[t][0])
    assert AdamW(**kw).h == Adam(decoupled_weight_decay=True, **kw).h


def test_adamw_defaults_and_difference_from_l2():
    h = AdamW().h
    assert h.decoupled_weight_decay is True and h.weight_decay == 1e-2
    assert Adam().h.weight_decay == 0.0 and Adam().h.decoupled_weight_decay is False
    theta0, grad = make_problem(52)
    w = run_rule(AdamW(lr=1e-2, weight_decay=0.1), theta0, grad, steps=20)
    l2 = run_rule(Adam(lr=1e-2, weight_decay=0.1), theta0, grad, steps=20)
    assert not np.allclose(w[-1][0], l2[-1][0], rtol=1e-6)


# ----------------------------------------------------------------- NAdam

NADAM_CASES = [
    dict(weight_decay=0.0, decoupled_weight_decay=False, momentum_decay=4e-3),
    dict(weight_decay=0.0, decoupled_weight_decay=False, momentum_decay=0.1),
    dict(weight_decay=0.1, decoupled_weight_decay=False, momentum_decay=4e-3),
    dict(weight_decay=0.1, decoupled_weight_decay=True, momentum_decay=4e-3),
]


@pytest.mark.parametrize("kw", NADAM_CASES, ids=[",".join(f"{k}={v}" for k, v in c.items()) for c in NADAM_CASES])
@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_nadam_reference(kw, closed_loop):
    """Dozat 2016 as in torch.optim.NAdam:
    μ_t = β1 (1 − ½·0.96^{tψ}),  Π_t = ∏_{i≤t} μ_i,
    θ ← θ − η(1−μ_t)/(1−Π_t)·g/(√r̂+ε) − η μ_{t+1}/(1−Π_t μ_{t+1})·s/(√r̂+ε)."""
    theta0, grads, eta = source(closed_loop, 53)
    b1, b2, eps = 0.9, 0.99, 1e-8
    psi, lam, dec = kw["momentum_decay"], kw["weight_decay"], kw["decoupled_weight_decay"]
    traj = run_rule(NAdam(lr=eta, betas=(b1, b2), eps=eps, **kw), theta0, grads)

    theta = theta0.copy()
    s, r = np.zeros(DIM), np.zeros(DIM)
    prod = 1.0
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        if lam and not dec:
            g = g + lam * theta
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod = prod * mu_t
        prod_next = prod * mu_next
        s = b1 * s + (1 - b1) * g
        r = b2 * r + (1 - b2) * g * g
        denom = np.sqrt(r / (1 - b2**t)) + eps
        if lam and dec:
            theta = theta - eta * lam * theta
        theta = theta - eta * (1 - mu_t) / (1 - prod) * g / denom - eta * mu_next / (1 - prod_next) * s / denom
        rule_theta, st, _ = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ step {t}")
        assert_rel(st.state.s, s, what=f"s step {t}")
        assert_rel(st.state.r, r, what=f"r step {t}")
        assert_rel(st.state.mu_product, np.full(DIM, prod), what=f"Πμ step {t}")


def test_nadam_momentum_schedule_terms():
    h = NAdam(betas=(0.9, 0.999), momentum_decay=4e-3).h
    for t in (1, 2, 10, 250, 1000):
        k = NAdam.terms(h, t)
        assert k.mu == pytest.approx(0.9 * (1 - 0.5 * 0.96 ** (t * 0.004)), rel=1e-15)
        assert k.mu_next == pytest.approx(0.9 * (1 - 0.5 * 0.96 ** ((t + 1) * 0.004)), rel=1e-15)
        assert k.bc2 == pytest.approx(1 - 0.999**t, rel=1e-15)


# ------------------------------------------------------------------ Yogi


@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
@pytest.mark.parametrize("eps", [1e-3, 1e-6])
def test_yogi_paper_algorithm_2(closed_loop, eps):
    """Zaheer et al. 2018 Algorithm 2 (no bias correction, m₀ = v₀ = 0):
    m ← β1 m + (1−β1) g;  v ← v − (1−β2) sign(v − g²) g²;  θ ← θ − η m/(√v + ε)."""
    theta0, grads, eta = source(closed_loop, 54)
    b1, b2 = 0.9, 0.999
    rule = Yogi(lr=eta, betas=(b1, b2), eps=eps, convention="paper")
    assert rule.h.bias_correction is False
    traj = run_rule(rule, theta0, grads)
    theta, m, v = theta0.copy(), np.zeros(DIM), np.zeros(DIM)
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        m = b1 * m + (1 - b1) * g
        v = v - (1 - b2) * np.sign(v - g * g) * g * g
        theta = theta - eta * m / (np.sqrt(v) + eps)
        rule_theta, st, _ = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ step {t}")
        assert_rel(st.state.s, m, what=f"m step {t}")
        assert_rel(st.state.r, v, what=f"v step {t}")


@pytest.mark.parametrize("closed_loop", [True, False], ids=["problem", "sequence"])
def test_yogi_optax_convention(closed_loop):
    """optax.scale_by_yogi: mu = nu = initial_accumulator_value (1e-6) at init;
    mu ← (1−b1)g + b1 mu; nu ← nu − (1−b2) sign(nu − g²) g²; bias-corrected
    mu_hat = mu/(1−b1^t), nu_hat = nu/(1−b2^t); update = mu_hat/(√nu_hat + eps)."""
    theta0, grads, eta = source(closed_loop, 55)
    rule = Yogi(lr=eta, convention="optax")
    h = rule.h
    assert (h.initial_accumulator_value, h.initial_first_moment, h.bias_correction) == (1e-6, 1e-6, True)
    assert (h.beta1, h.beta2, h.eps) == (0.9, 0.999, 1e-3)
    traj = run_rule(rule, theta0, grads)
    theta = theta0.copy()
    mu, nu = np.full(DIM, 1e-6), np.full(DIM, 1e-6)
    for t in range(1, STEPS + 1):
        g = grads(theta) if closed_loop else grads[t - 1]
        mu = (1 - 0.9) * g + 0.9 * mu
        nu = nu - (1 - 0.999) * np.sign(nu - g**2) * g**2
        mu_hat = mu / (1 - 0.9**t)
        nu_hat = nu / (1 - 0.999**t)
        theta = theta - eta * (mu_hat / (np.sqrt(nu_hat) + 1e-3))
        rule_theta, st, _ = traj[t - 1]
        assert_rel(rule_theta, theta, what=f"θ step {t}")
        assert_rel(st.state.s, mu, what=f"mu step {t}")
        assert_rel(st.state.r, nu, what=f"nu step {t}")


def test_yogi_sign_term_is_additive():
    """r < g²: r grows by (1−β2)g² (Adam would move it only part of the way);
    r > g²: r shrinks by (1−β2)g² (additively, not by a factor β2); r = g²: unchanged."""
    b2 = 0.999
    rule = Yogi(betas=(0.9, b2))
    r0 = np.array([0.5, 4.0, 1.0, 0.0])
    g = np.array([1.0, -1.0, 1.0, 2.0])
    st = OptState(0, rule.State(s=np.zeros(4), r=r0.copy()), 0)
    _, _, rec = rule.apply(np.zeros(4), g, st)
    expected = np.array([0.5 + (1 - b2) * 1.0, 4.0 - (1 - b2) * 1.0, 1.0, 0.0 + (1 - b2) * 4.0])
    assert_rel(rec.r, expected)
    adam_r = b2 * r0 + (1 - b2) * g * g
    assert rec.r[1] > adam_r[1]  # Yogi forgets a large r more slowly than Adam


def test_yogi_defaults_follow_the_paper():
    for conv in ("torch", "paper"):
        h = Yogi(convention=conv).h
        assert (h.lr, h.beta1, h.beta2, h.eps) == (1e-2, 0.9, 0.999, 1e-3)
        assert (h.initial_accumulator_value, h.initial_first_moment, h.bias_correction) == (0.0, 0.0, False)
