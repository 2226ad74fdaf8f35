"""Second-order rules (lecture 004) on batched inputs θ: (B, D), H: (B, D, D).

Newton:     Δθ = −η (H + λI)⁻¹ g   where H + λI ≻ 0,   else   Δθ = −η_fb g   (per batch entry)
ExactStep:  ε* = gᵀg / gᵀHg,  Δθ = −ε* g   where gᵀHg > 0,   else   Δθ = −lr·g

The references below solve with an explicit inverse (np.linalg.inv) and write the
inner products as Python sums, independently of the rule's ``solve``/``dot``.
Tolerance: RTOL = 1e-12 relative to the scale of the expected array; the
matrices are well conditioned (κ ≲ 20), so inv vs. LU solve differ by ~κ·1e-16.
"""

import numpy as np
import pytest

from ravine.rules import ExactStep, Newton

STEPS = 120
RTOL = 1e-12


def assert_rel(actual, expected, rtol=RTOL, what=""):
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * max(scale, 1e-300), err_msg=what)


def spd_batch(seed, B=5, D=4):
    r = np.random.default_rng(seed)
    Q = r.normal(size=(B, D, D))
    A = Q @ np.swapaxes(Q, -1, -2) / D + np.eye(D)
    b = r.normal(size=(B, D))
    theta0 = r.normal(size=(B, D))
    return A, b, theta0


def quad_grad(A, b, theta):
    """g_b = A_b θ_b − b_b, one batch entry at a time."""
    return np.stack([A[i] @ theta[i] - b[i] for i in range(len(theta))])


def dot(u, v):
    return sum(float(ui) * float(vi) for ui, vi in zip(u, v))


# ----------------------------------------------------------------- Newton


def test_newton_one_step_to_the_minimum_of_an_spd_quadratic():
    A, b, theta0 = spd_batch(60)
    rule = Newton(lr=1.0, damping=0.0)
    g = quad_grad(A, b, theta0)
    th, st, rec = rule.apply(theta0, g, rule.init(theta0), hessian=A)
    minimum = np.stack([np.linalg.inv(A[i]) @ b[i] for i in range(len(b))])
    assert_rel(th, minimum)
    assert np.all(rec.newton_ok)
    np.testing.assert_allclose(quad_grad(A, b, th), 0.0, atol=1e-12)
    assert st.t == 1


def test_newton_unbatched_input():
    A, b, theta0 = spd_batch(61, B=1)
    A, b, theta0 = A[0], b[0], theta0[0]
    rule = Newton()
    th, _, rec = rule.apply(theta0, A @ theta0 - b, rule.init(theta0), hessian=A)
    assert_rel(th, np.linalg.inv(A) @ b)
    assert bool(rec.newton_ok)


@pytest.mark.parametrize("eta", [1.0, 0.5])
@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_newton_damped_reference_on_a_nonquadratic(eta, lam):
    """f_b(θ) = ½θᵀA_bθ − b_bᵀθ + Σ log cosh θ: g = Aθ − b + tanh θ, H = A + diag(1 − tanh² θ);
    θ ← θ − η (H + λI)⁻¹ g for STEPS steps, batch entry by batch entry."""
    A, b, theta0 = spd_batch(62)
    D = theta0.shape[1]

    def grad(theta):
        return quad_grad(A, b, theta) + np.tanh(theta)

    def hess(theta):
        return np.stack([A[i] + np.diag(1 - np.tanh(theta[i]) ** 2) for i in range(len(theta))])

    rule = Newton(lr=eta, damping=lam, fallback_lr=123.0)  # fallback must never be used here
    th, st = theta0.copy(), rule.init(theta0)
    ref = theta0.copy()
    for t in range(1, STEPS + 1):
        th, st, rec = rule.apply(th, grad(th), st, hessian=hess(th))
        g, H = grad(ref), hess(ref)
        ref = np.stack([ref[i] - eta * np.linalg.inv(H[i] + lam * np.eye(D)) @ g[i] for i in range(len(ref))])
        assert np.all(rec.newton_ok)
        assert_rel(th, ref, what=f"θ step {t}")
    np.testing.assert_allclose(grad(th), 0.0, atol=1e-10)  # it did converge


def test_newton_fallback_at_a_saddle_per_batch_entry():
    """f = x² − y² (lecture 002's saddle with its minus sign): H = diag(2, −2) is not PD, so
    those entries take −η_fb g; the PD entries in the same batch take the Newton step."""
    fb = 0.05
    rule = Newton(lr=1.0, damping=0.0, fallback_lr=fb)
    H = np.stack([np.diag([2.0, -2.0]), np.diag([2.0, 2.0]), np.diag([-1.0, -3.0]), np.array([[2.0, 0.5], [0.5, 1.0]])])
    theta = np.array([[1.0, 0.5], [1.0, 0.5], [0.3, -0.2], [-1.0, 2.0]])
    g = np.stack([H[i] @ theta[i] for i in range(4)])  # gradients of ½θᵀHθ
    th, _, rec = rule.apply(theta, g, rule.init(theta), hessian=H)
    np.testing.assert_array_equal(rec.newton_ok, [False, True, False, True])
    expected = np.stack(
        [
            theta[0] - fb * g[0],
            theta[1] - np.linalg.inv(H[1]) @ g[1],
            theta[2] - fb * g[2],
            theta[3] - np.linalg.inv(H[3]) @ g[3],
        ]
    )
    assert_rel(th, expected)
    assert_rel(th[1], [0.0, 0.0])
    np.testing.assert_allclose(th[3], 0.0, atol=1e-15)


@pytest.mark.parametrize("lam,ok", [(3.0, True), (2.0, False), (1.0, False)])
def test_newton_damping_at_the_saddle(lam, ok):
    """H + λI = diag(2 + λ, λ − 2): PD only for λ > 2 (λ = 2 is singular: fall back)."""
    fb = 0.1
    rule = Newton(lr=1.0, damping=lam, fallback_lr=fb)
    theta = np.array([[1.0, 0.5]])
    g = np.array([[2.0, -1.0]])  # ∇(x² − y²) at (1, 0.5)
    H = np.diag([2.0, -2.0])[None]
    th, _, rec = rule.apply(theta, g, rule.init(theta), hessian=H)
    assert bool(rec.newton_ok[0]) is ok
    if ok:
        expected = theta[0] - np.array([g[0, 0] / (2 + lam), g[0, 1] / (lam - 2)])
    else:
        expected = theta[0] - fb * g[0]
    assert_rel(th[0], expected)


def test_newton_fallback_trajectory_on_the_saddle():
    """At x² − y² every step falls back: x_t = (1 − 2η_fb)^t x₀, y_t = (1 + 2η_fb)^t y₀
    (the gradient step escapes along y), mixed in a batch with a bowl that Newton solves."""
    fb = 0.01
    rule = Newton(lr=1.0, damping=0.0, fallback_lr=fb)
    H = np.stack([np.diag([2.0, -2.0]), np.diag([2.0, 2.0])])
    x0 = np.array([[1.0, 1e-3], [1.0, 1e-3]])
    th, st = x0.copy(), rule.init(x0)
    for t in range(1, STEPS + 1):
        g = np.stack([H[i] @ th[i] for i in range(2)])
        th, st, rec = rule.apply(th, g, st, hessian=H)
        np.testing.assert_array_equal(rec.newton_ok, [False, True])
        assert_rel(th[0], [(1 - 2 * fb) ** t * 1.0, (1 + 2 * fb) ** t * 1e-3], what=f"saddle step {t}")
        np.testing.assert_array_equal(th[1], [0.0, 0.0])


# -------------------------------------------------------------- ExactStep


def test_exact_step_reference_on_quadratics():
    """Steepest descent with ε* = gᵀg/gᵀHg on SPD quadratics, STEPS steps per batch entry."""
    r = np.random.default_rng(63)
    B, D = 4, 5
    Q = r.normal(size=(B, D, D))
    A = Q @ np.swapaxes(Q, -1, -2) / D + 0.2 * np.eye(D)
    b = 10 * r.normal(size=(B, D))  # far minimum: ε*·g stays well above round-off for many steps
    theta0 = r.normal(size=(B, D))
    rule = ExactStep(lr=123.0)  # fallback must never be used on SPD quadratics
    th, st = theta0.copy(), rule.init(theta0)
    ref = theta0.copy()
    for t in range(1, STEPS + 1):
        g_rule = quad_grad(A, b, th)
        th, st, rec = rule.apply(th, g_rule, st, hessian=A)
        g = quad_grad(A, b, ref)
        new = np.empty_like(ref)
        for i in range(B):
            Hg = [sum(A[i][j][k] * g[i][k] for k in range(D)) for j in range(D)]
            eps_star = dot(g[i], g[i]) / dot(g[i], Hg)
            new[i] = ref[i] - eps_star * g[i]
        ref = new
        # the iterates are compared on the scale of θ: near the minimum g (and ε*'s
        # inputs) are differences of O(|b|) terms, and their round-off is that of θ
        assert_rel(th, ref, what=f"θ step {t}")
    assert np.all(rec.gHg > 0)


def test_exact_step_is_the_exact_line_search():
    """On a quadratic the new gradient is orthogonal to the old one: ∇f(θ − ε*g)ᵀg = 0,
    and ε* equals gᵀg/gᵀHg per batch entry."""
    A, b, theta0 = spd_batch(64)
    rule = ExactStep()
    g = quad_grad(A, b, theta0)
    th, _, rec = rule.apply(theta0, g, rule.init(theta0), hessian=A)
    g_new = quad_grad(A, b, th)
    for i in range(len(g)):
        expected = dot(g[i], g[i]) / dot(g[i], A[i] @ g[i])
        assert float(rec.eps_star[i]) == pytest.approx(expected, rel=1e-13)
        assert abs(dot(g_new[i], g[i])) <= 1e-12 * dot(g[i], g[i])
    assert_rel(th, theta0 - rec.eps_star[:, None] * g)


def test_exact_step_falls_back_where_the_curvature_is_not_positive():
    """gᵀHg < 0 (along the saddle's negative direction) and gᵀHg = 0 fall back to lr."""
    lr = 0.07
    rule = ExactStep(lr=lr)
    H = np.stack([np.diag([1.0, -1.0])] * 3 + [np.diag([2.0, 4.0])])
    g = np.array([[0.0, 1.0], [1.0, 1.0], [3.0, 1.0], [1.0, 1.0]])
    theta = np.zeros((4, 2))
    th, _, rec = rule.apply(theta, g, rule.init(theta), hessian=H)
    gHg = [dot(g[i], H[i] @ g[i]) for i in range(4)]
    assert gHg == [-1.0, 0.0, 8.0, 6.0]
    assert_rel(rec.gHg, gHg)
    expected_eps = [lr, lr, 10.0 / 8.0, 2.0 / 6.0]
    assert_rel(rec.eps_star, expected_eps)
    assert_rel(th, -np.array(expected_eps)[:, None] * g)


def test_exact_step_on_the_saddle_trajectory():
    """x² − y² for STEPS steps: each entry takes ε* = gᵀg/gᵀHg while gᵀHg > 0 and lr after."""
    lr = 0.01
    rule = ExactStep(lr=lr)
    H = np.diag([2.0, -2.0])
    starts = np.array([[1.0, 0.1], [1.0, 0.9], [0.2, 1.0], [1.0, 1.0]])
    Hb = np.stack([H] * len(starts))
    th, st = starts.copy(), rule.init(starts)
    ref = starts.copy()
    for t in range(1, STEPS + 1):
        th, st, rec = rule.apply(th, np.stack([H @ p for p in th]), st, hessian=Hb)
        new = np.empty_like(ref)
        for i, (x, y) in enumerate(ref):
            g = [2 * x, -2 * y]
            gHg = 2 * g[0] ** 2 - 2 * g[1] ** 2
            eps = (g[0] ** 2 + g[1] ** 2) / gHg if gHg > 0 else lr
            new[i] = [x - eps * g[0], y - eps * g[1]]
        ref = new
        assert_rel(th, ref, what=f"step {t}")


def test_second_order_rules_need_the_hessian():
    theta = np.zeros((2, 3))
    for rule in (Newton(), ExactStep()):
        with pytest.raises(ValueError, match="Hessian"):
            rule.apply(theta, np.ones((2, 3)), rule.init(theta))
