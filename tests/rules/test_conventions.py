"""Every ``convention=`` preset against the framework's (or paper's, or lecture's) own equations.

For each rule and each convention the reference below is the update WRITTEN OUT as
that source has it, with the source's default numbers typed in by hand (so the test
also checks the convention table). Where the framework is torch, the reference is
``torch.optim`` itself, called with its own defaults.

Sources and line numbers are those of /tmp/ravine-notes/conventions.md (read from the
released packages torch 2.14.1, Keras 3.15.1, optax 0.2.8; the Keras and optax
equations there were checked numerically against the real packages):
  torch  pytorch/pytorch           torch/optim/<name>.py, ``_single_tensor_<name>``
  Keras  keras-team/keras          keras/src/optimizers/<name>.py, base_optimizer.py
  optax  google-deepmind/optax     optax/_src/transform.py, optax/_src/alias.py,
                                   optax/transforms/_accumulation.py
  lectures  /work/shared/seeds/00N_*.txt

The comparison is on the displacement θ_T − θ_0 (float64), relative 1e-12, so that a
wrong ε, β or initial state shows even when η is small.
"""

import numpy as np
import pytest

from ravine.rules import (
    ASGD,
    NAG,
    RULES,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Momentum,
    NAdam,
    RAdam,
    RMSprop,
    RMSpropNesterov,
    Rprop,
    WindowedRMSprop,
    Yogi,
)

torch = pytest.importorskip("torch")

RTOL = 1e-12
STEPS = 6
# f(θ) = ½ Σ a_i θ_i² − b·θ + Σ log cosh θ: coordinates whose gradients span four decades,
# so ε (1e-10 … 1e-3) and its placement matter somewhere
A = np.array([3.0, 1.0, 0.3, 1e-2, 1e-3])
B = np.array([0.5, -1.0, 0.2, 1e-3, -2e-4])
THETA0 = np.array([1.3, -0.7, 2.1, 0.05, -0.03])


def grad(theta):
    return A * theta - B + np.tanh(theta)


Z = np.zeros_like(THETA0)


# ------------------------------------------------------------------ drivers


def run_rule(rule, steps=STEPS):
    theta = THETA0.copy()
    st = rule.init(theta)
    for _ in range(steps):
        if "lookahead" in rule.needs:
            theta, st, _ = rule.apply(theta, None, st, grad_fn=grad)
        else:
            theta, st, _ = rule.apply(theta, grad(theta), st)
    return theta


def run_ref(step, state, steps=STEPS):
    """``step(θ, t, state) -> (θ, state)``; the reference takes its gradients itself."""
    theta = THETA0.copy()
    for t in range(1, steps + 1):
        theta, state = step(theta, t, state)
    return theta


def run_torch(cls, steps=STEPS, **kw):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (NAdam's mu_product) in this dtype
    try:
        p = torch.tensor(THETA0.copy(), dtype=torch.float64, requires_grad=True)
        opt = cls([p], **kw)
        for _ in range(steps):
            p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
            opt.step()
    finally:
        torch.set_default_dtype(old)
    return p.detach().numpy().copy()


def same(rule_theta, ref_theta):
    np.testing.assert_allclose(rule_theta - THETA0, ref_theta - THETA0, rtol=RTOL, atol=0)


#: filled by the tests of this file as they run; the last test reads it. Under pytest-xdist the
#: whole file therefore runs in one worker, in order.
COVERED = set()
pytestmark = pytest.mark.xdist_group("tests/rules/test_conventions.py")


def covers(cls, conv):
    COVERED.add((cls.__name__, conv))


# ===================================================================== SGD


@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(momentum=0.9),
        dict(momentum=0.9, dampening=0.5),
        dict(momentum=0.9, nesterov=True),
        dict(momentum=0.5, weight_decay=0.1),
    ],
)
def test_sgd_torch(kw):
    # torch sgd.py L322-379: buffer = g at t=1, then μb + (1−τ)g; lr default 1e-3 (L32)
    covers(SGD, "torch")
    same(run_rule(SGD(convention="torch", **kw)), run_torch(torch.optim.SGD, **kw))


def keras_sgd(lr, mu, nesterov):
    # keras sgd.py update_step L95-123: b = μb − ηg (b₀ = 0); θ ← θ + b, or with
    # nesterov θ ← θ + μb − ηg using the new b (L112-119)
    def step(theta, t, b):
        g = grad(theta)
        b = mu * b - lr * g
        return (theta + mu * b - lr * g if nesterov else theta + b), b

    return step


@pytest.mark.parametrize("mu,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_keras(mu, nesterov):
    covers(SGD, "keras")
    rule = SGD(convention="keras", momentum=mu, nesterov=nesterov)
    same(run_rule(rule), run_ref(keras_sgd(0.01, mu, nesterov), Z))  # learning_rate 0.01 (L45)


def optax_sgd(lr, mu, nesterov):
    # optax transforms/_accumulation.py trace L36-75: s = g + μs (s₀ = 0);
    # d = g + μs if nesterov else s; then scale_by_learning_rate: θ ← θ − η d
    def step(theta, t, s):
        g = grad(theta)
        s = g + mu * s
        d = g + mu * s if nesterov else s
        return theta - lr * d, s

    return step


@pytest.mark.parametrize("mu,nesterov", [(0.9, False), (0.9, True)])
def test_sgd_optax(mu, nesterov):
    covers(SGD, "optax")
    rule = SGD(convention="optax", momentum=mu, nesterov=nesterov)
    same(run_rule(rule), run_ref(optax_sgd(1e-3, mu, nesterov), Z))  # lr required: ravine 1e-3


def test_sgd_paper():
    # Sutskever et al. 2013, classical momentum with the gradient at θ: v ← μv − η g; θ ← θ + v; v₀ = 0
    covers(SGD, "paper")

    def step(theta, t, v):
        v = 0.9 * v - 1e-3 * grad(theta)
        return theta + v, v

    same(run_rule(SGD(convention="paper", momentum=0.9)), run_ref(step, Z))


def test_sgd_first_buffer_shows_only_with_dampening():
    # torch's b₁ = g against the zero start b₁ = (1−τ)g: equal for τ = 0, different for τ > 0
    kw = dict(lr=0.1, momentum=0.9)
    same(run_rule(SGD(convention="torch", **kw)), run_rule(SGD(convention="optax", **kw)))
    a = run_rule(SGD(convention="torch", dampening=0.5, **kw))
    b = run_rule(SGD(convention="optax", dampening=0.5, **kw))
    assert np.max(np.abs(a - b)) > 1e-3


# ------------------------------------------------------------------ Momentum, NAG


@pytest.mark.parametrize("conv", ["torch", "lecture003", "lecture004"])
def test_momentum_heavy_ball(conv):
    # lectures 003/004: v ← αv − ηg; θ ← θ + v (v₀ = 0); η = 1e-2, α = 0.9.
    # "torch": torch.optim.SGD(momentum=α) is the same heavy ball (v = −η·buf)
    covers(Momentum, conv)

    def step(theta, t, v):
        v = 0.9 * v - 1e-2 * grad(theta)
        return theta + v, v

    same(run_rule(Momentum(convention=conv)), run_ref(step, Z))
    if conv == "torch":
        same(run_rule(Momentum(convention=conv)), run_torch(torch.optim.SGD, lr=1e-2, momentum=0.9))


@pytest.mark.parametrize("conv", ["lecture001", "lecture002"])
def test_momentum_average(conv):
    # lecture 001, lecture 002 algorithm 4: v ← βv + (1−β)g; θ ← θ − ηv (v₀ = 0)
    covers(Momentum, conv)

    def step(theta, t, v):
        v = 0.9 * v + 0.1 * grad(theta)
        return theta - 1e-2 * v, v

    same(run_rule(Momentum(convention=conv)), run_ref(step, Z))


@pytest.mark.parametrize("conv", ["torch", "paper"])
def test_nag(conv):
    # lectures 000/003 (Nesterov 1983, Sutskever 2013): θ̃ = θ + αv; v ← αv − η∇L(θ̃); θ ← θ + v
    covers(NAG, conv)

    def step(theta, t, v):
        v = 0.9 * v - 1e-2 * grad(theta + 0.9 * v)
        return theta + v, v

    same(run_rule(NAG(convention=conv)), run_ref(step, Z))


# ===================================================================== Adagrad


@pytest.mark.parametrize(
    "kw", [dict(), dict(lr_decay=0.01), dict(weight_decay=0.1), dict(initial_accumulator_value=0.1)]
)
def test_adagrad_torch(kw):
    # torch adagrad.py L364-427: r = r + g²; θ ← θ − η/(1+(t−1)d) · g/(√r + ε); ε 1e-10, r₀ 0
    covers(Adagrad, "torch")
    same(run_rule(Adagrad(convention="torch", **kw)), run_torch(torch.optim.Adagrad, **kw))


def adagrad_in_root(lr, eps):
    def step(theta, t, r):
        g = grad(theta)
        r = r + g * g
        return theta - lr * g / np.sqrt(r + eps), r

    return step


def test_adagrad_keras():
    # keras adagrad.py L78-92: r = r + g²; θ ← θ − η g/√(r + ε); lr 0.001, r₀ 0.1, ε 1e-7 (L37-39)
    covers(Adagrad, "keras")
    same(run_rule(Adagrad(convention="keras")), run_ref(adagrad_in_root(1e-3, 1e-7), np.full(5, 0.1)))


def test_adagrad_optax():
    # optax scale_by_rss L45-75: r = r + g²; upd = g·rsqrt(r + ε) where r > 0 (always, r₀ = 0.1);
    # alias.adagrad L329-333: initial_accumulator_value 0.1, eps 1e-7; lr required (ravine 1e-2)
    covers(Adagrad, "optax")
    same(run_rule(Adagrad(convention="optax")), run_ref(adagrad_in_root(1e-2, 1e-7), np.full(5, 0.1)))


def test_adagrad_paper():
    # Duchi, Hazan & Singer 2011 (diagonal): θ ← θ − η g/(δ + √Σg²), G₀ = 0; δ = ravine's 1e-10
    covers(Adagrad, "paper")

    def step(theta, t, r):
        g = grad(theta)
        r = r + g * g
        return theta - 1e-2 * g / (1e-10 + np.sqrt(r)), r

    same(run_rule(Adagrad(convention="paper")), run_ref(step, Z))


def test_adagrad_lecture000():
    # lecture 000 L38: W ← W − η/√(ε + r_t) ∘ g_t, r_t = Σ g²
    covers(Adagrad, "lecture000")
    same(run_rule(Adagrad(convention="lecture000")), run_ref(adagrad_in_root(1e-2, 1e-8), Z))


# ===================================================================== RMSprop

GRID = [dict(centered=c, momentum=m) for c in (False, True) for m in (0.0, 0.5)]


@pytest.mark.parametrize("kw", GRID + [dict(weight_decay=0.1)])
def test_rmsprop_torch(kw):
    # torch rmsprop.py L316-339: ε outside √ after centering; b = μb + g/den; θ ← θ − ηb
    covers(RMSprop, "torch")
    same(run_rule(RMSprop(convention="torch", **kw)), run_torch(torch.optim.RMSprop, **kw))


def rms_lr_in_buffer(lr, rho, eps, centered, mu):
    # keras rmsprop.py update_step L109-154 and optax rmsprop (scale_by_rms L95-150 /
    # scale_by_stddev L170-234, then ×(−η), then trace): the same equations:
    # r = ρr + (1−ρ)g²; m = ρm + (1−ρ)g; den = √(r − m² + ε) or √(r + ε);
    # inc = η g/den; b = μb + inc, θ ← θ − b (η inside the buffer); μ = 0: θ ← θ − inc
    def step(theta, t, state):
        r, m, b = state
        g = grad(theta)
        r = rho * r + (1 - rho) * g * g
        if centered:
            m = rho * m + (1 - rho) * g
            den = np.sqrt(r - m * m + eps)
        else:
            den = np.sqrt(r + eps)
        inc = lr * g / den
        if mu:
            b = mu * b + inc
            return theta - b, (r, m, b)
        return theta - inc, (r, m, b)

    return step


@pytest.mark.parametrize("kw", GRID)
def test_rmsprop_keras(kw):
    # defaults: learning_rate 1e-3, rho 0.9, epsilon 1e-7 (keras rmsprop.py L55-59)
    covers(RMSprop, "keras")
    same(
        run_rule(RMSprop(convention="keras", **kw)),
        run_ref(rms_lr_in_buffer(1e-3, 0.9, 1e-7, kw["centered"], kw["momentum"]), (Z, Z, Z)),
    )


@pytest.mark.parametrize("kw", GRID)
def test_rmsprop_optax(kw):
    # defaults: decay 0.9, eps 1e-8, eps_in_sqrt True, initial_scale 0 (alias.py L1935-1945); lr required
    covers(RMSprop, "optax")
    same(
        run_rule(RMSprop(convention="optax", **kw)),
        run_ref(rms_lr_in_buffer(1e-2, 0.9, 1e-8, kw["centered"], kw["momentum"]), (Z, Z, Z)),
    )


@pytest.mark.parametrize("conv,lr,eps", [("paper", 1e-3, 1e-8), ("lecture000", 1e-2, 1e-6), ("lecture002", 1e-2, 1e-6)])
def test_rmsprop_paper_and_lectures(conv, lr, eps):
    # Tieleman & Hinton 2012: MS = 0.9 MS + 0.1 g²; θ ← θ − η g/√MS (ravine adds ε inside the root);
    # lecture 000 L139 / lecture 002 L809 and its code L842-846: θ ← θ − η/√(s + ε) ⊙ g, β = 0.9
    covers(RMSprop, conv)
    same(run_rule(RMSprop(convention=conv)), run_ref(rms_lr_in_buffer(lr, 0.9, eps, False, 0.0), (Z, Z, Z)))


def rms_nesterov_lookahead(lr, beta, mu, eps, inside):
    # lecture 000 L170 (Goodfellow et al. alg. 8.7): θ̃ = θ + αv; r = βr + (1−β)g(θ̃)²;
    # v ← αv − η/√(ε + r) ∘ g; θ ← θ + v
    def step(theta, t, state):
        r, v = state
        g = grad(theta + mu * v)
        r = beta * r + (1 - beta) * g * g
        den = np.sqrt(eps + r) if inside else np.sqrt(r) + eps
        v = mu * v - lr * g / den
        return theta + v, (r, v)

    return step


@pytest.mark.parametrize(
    "conv,lr,beta,eps,inside",
    [("torch", 1e-2, 0.99, 1e-8, False), ("lecture000", 1e-2, 0.9, 1e-6, True), ("paper", 1e-3, 0.9, 1e-6, True)],
)
def test_rmsprop_nesterov(conv, lr, beta, eps, inside):
    covers(RMSpropNesterov, conv)
    same(
        run_rule(RMSpropNesterov(convention=conv, lookahead=True)),
        run_ref(rms_nesterov_lookahead(lr, beta, 0.9, eps, inside), (Z, Z)),
    )


@pytest.mark.parametrize("conv,eps,inside", [("torch", 1e-8, False), ("lecture000", 1e-6, True)])
def test_windowed_rmsprop(conv, eps, inside):
    # lecture 000 "AdaDelta" slide: r_t = mean of the last min(t, W) squared gradients, W = 10;
    # θ ← θ − η/√(ε + r_t) ∘ g ("torch": ε outside the root)
    covers(WindowedRMSprop, conv)
    hist = []

    def step(theta, t, _):
        g = grad(theta)
        hist.append(g * g)
        r = np.mean(hist[-10:], axis=0)
        den = np.sqrt(eps + r) if inside else np.sqrt(r) + eps
        return theta - 1e-2 * g / den, None

    same(run_rule(WindowedRMSprop(convention=conv), steps=12), run_ref(step, None, steps=12))


# ===================================================================== Adadelta


@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.1)])
def test_adadelta_torch(kw):
    # torch adadelta.py L278-302; lr 1.0, rho 0.9, eps 1e-6
    covers(Adadelta, "torch")
    same(run_rule(Adadelta(convention="torch", **kw)), run_torch(torch.optim.Adadelta, **kw))


def adadelta_ref(lr, rho, eps, wd=0.0):
    # r = ρr + (1−ρ)g²; Δ = √(u + ε)/√(r + ε)·g; u = ρu + (1−ρ)Δ² (Δ before η); θ ← θ − ηΔ
    def step(theta, t, state):
        r, u = state
        g = grad(theta) + wd * theta
        r = rho * r + (1 - rho) * g * g
        d = np.sqrt(u + eps) / np.sqrt(r + eps) * g
        u = rho * u + (1 - rho) * d * d
        return theta - lr * d, (r, u)

    return step


def test_adadelta_keras():
    # keras adadelta.py L84-119, defaults learning_rate 0.001, rho 0.95, epsilon 1e-7 (L42-44)
    covers(Adadelta, "keras")
    same(run_rule(Adadelta(convention="keras")), run_ref(adadelta_ref(1e-3, 0.95, 1e-7), (Z, Z)))


def test_adadelta_optax():
    # optax scale_by_adadelta L574-607, alias L143-222 (rho 0.9, eps 1e-6; add_decayed_weights
    # before: coupled); learning_rate must be passed as 1.0 (None climbs: transform.py L1000-1001)
    covers(Adadelta, "optax")
    with pytest.raises(ValueError, match=r"lr must be given .*learning_rate=None applies \+Δ without the sign flip"):
        Adadelta(convention="optax")  # optax.adadelta()'s default climbs: refused, not guessed
    same(run_rule(Adadelta(convention="optax", lr=1.0)), run_ref(adadelta_ref(1.0, 0.9, 1e-6), (Z, Z)))
    same(
        run_rule(Adadelta(convention="optax", lr=1.0, weight_decay=0.1)),
        run_ref(adadelta_ref(1.0, 0.9, 1e-6, wd=0.1), (Z, Z)),
    )


@pytest.mark.parametrize("conv,rho", [("paper", 0.95), ("lecture001", 0.9)])
def test_adadelta_paper_and_lecture(conv, rho):
    # Zeiler 2012 Alg. 1: x += −RMS[Δx]_{t−1}/RMS[g]_t · g, no η; lecture 001 L132 (ρ 0.9, ε 1e-6)
    covers(Adadelta, conv)

    def step(theta, t, state):
        r, u = state
        g = grad(theta)
        r = rho * r + (1 - rho) * g * g
        dx = -np.sqrt(u + 1e-6) / np.sqrt(r + 1e-6) * g
        u = rho * u + (1 - rho) * dx * dx
        return theta + dx, (r, u)

    same(run_rule(Adadelta(convention=conv)), run_ref(step, (Z, Z)))


# ===================================================================== Adam


@pytest.mark.parametrize(
    "kw", [dict(), dict(amsgrad=True), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True)]
)
def test_adam_torch(kw):
    # torch adam.py L396-546: θ ← θ − (η/bc1)·s/(√r/√bc2 + ε); amsgrad max over raw r (L539)
    covers(Adam, "torch")
    same(run_rule(Adam(convention="torch", **kw)), run_torch(torch.optim.Adam, **kw))


def adam_alg1(lr, b1, b2, eps, amsgrad=None, wd_decoupled=0.0, inside=False):
    # Algorithm 1 / torch / optax scale_by_adam L246-310 (ε_root = 0):
    # ŝ = s/bc1, r̂ = r/bc2, θ ← θ − η ŝ/(√r̂ + ε) (inside: √(r̂ + ε), lectures 000/002)
    # amsgrad "r_hat": optax scale_by_amsgrad L321-390, ν_max = max(ν_max, r/bc2)
    def step(theta, t, state):
        s, r, rmax = state
        g = grad(theta)
        s = b1 * s + (1 - b1) * g
        r = b2 * r + (1 - b2) * g * g
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        if amsgrad == "r_hat":
            rmax = np.maximum(rmax, r / bc2)
            r_hat = rmax
        else:
            r_hat = r / bc2
        den = np.sqrt(r_hat + eps) if inside else np.sqrt(r_hat) + eps
        return theta - lr * wd_decoupled * theta - lr * (s / bc1) / den, (s, r, rmax)

    return step


def keras_adam(lr, b1, b2, eps, amsgrad=False, wd=0.0):
    # keras adam.py update_step L102-137: α_t = η√(1−β2^t)/(1−β1^t) (L117);
    # s += (g−s)(1−β1), r += (g²−r)(1−β2); v̂ = max(v̂, r) if amsgrad (L130);
    # θ ← θ − α_t s/(√r + ε̂).  weight decay: base_optimizer.py L952-959, before the step:
    # θ ← θ − θ·λ·η
    def step(theta, t, state):
        s, r, vmax = state
        g = grad(theta)
        theta = theta - theta * wd * lr
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        s = s + (g - s) * (1 - b1)
        r = r + (g * g - r) * (1 - b2)
        if amsgrad:
            vmax = np.maximum(vmax, r)
            return theta - alpha * s / (np.sqrt(vmax) + eps), (s, r, vmax)
        return theta - alpha * s / (np.sqrt(r) + eps), (s, r, vmax)

    return step


@pytest.mark.parametrize("kw", [dict(), dict(amsgrad=True), dict(weight_decay=0.1)])
def test_adam_keras(kw):
    # defaults learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7 (keras adam.py L45-49)
    covers(Adam, "keras")
    ref = keras_adam(1e-3, 0.9, 0.999, 1e-7, amsgrad=kw.get("amsgrad", False), wd=kw.get("weight_decay", 0.0))
    same(run_rule(Adam(convention="keras", **kw)), run_ref(ref, (Z, Z, Z)))


def test_adam_optax():
    # optax.adam: b1 0.9, b2 0.999, eps 1e-8, eps_root 0; lr required (ravine 1e-3)
    covers(Adam, "optax")
    same(run_rule(Adam(convention="optax")), run_ref(adam_alg1(1e-3, 0.9, 0.999, 1e-8), (Z, Z, Z)))


def test_adam_optax_amsgrad_takes_the_max_of_r_hat():
    # optax scale_by_amsgrad L378: ν_max = max(ν_max, r/bc2); torch/Keras take the max over the
    # raw r and divide by the current bc2 afterwards: the two differ, and each is reproduced.
    rule = run_rule(Adam(convention="optax", amsgrad=True, lr=0.1), steps=20)
    ref = run_ref(adam_alg1(0.1, 0.9, 0.999, 1e-8, amsgrad="r_hat"), (Z, Z, Z), steps=20)
    same(rule, ref)
    torch_form = run_rule(Adam(amsgrad=True, lr=0.1, eps=1e-8), steps=20)
    assert np.max(np.abs(torch_form - ref)) > 1e-6


def test_adam_paper():
    # Kingma & Ba 2015 Algorithm 1: α 0.001, β1 0.9, β2 0.999, ε 1e-8, m₀ = v₀ = 0
    covers(Adam, "paper")
    same(run_rule(Adam(convention="paper")), run_ref(adam_alg1(1e-3, 0.9, 0.999, 1e-8), (Z, Z, Z)))


@pytest.mark.parametrize("conv,eps", [("lecture000", 1e-8), ("lecture002", 1e-7)])
def test_adam_lectures(conv, eps):
    # lecture 000 L236 and lecture 002 L909/L938 (algorithm 6, ε = 1e-7): θ ← θ − η ŝ/√(r̂ + ε).
    # Lecture 000 writes 1/(1−β) without the power t: ravine keeps the power t (docs/errata.md).
    covers(Adam, conv)
    same(run_rule(Adam(convention=conv)), run_ref(adam_alg1(1e-3, 0.9, 0.999, eps, inside=True), (Z, Z, Z)))


# ------------------------------------------------------------------ AdamW


@pytest.mark.parametrize("kw", [dict(), dict(amsgrad=True), dict(weight_decay=0.3)])
def test_adamw_torch(kw):
    # torch adamw.py L19-48 = Adam(decoupled_weight_decay=True): θ ← θ(1 − ηλ) first; λ 1e-2
    covers(AdamW, "torch")
    same(run_rule(AdamW(convention="torch", **kw)), run_torch(torch.optim.AdamW, **kw))


def test_adamw_keras():
    # keras adamw.py L53-95: Keras Adam + base_optimizer._apply_weight_decay; weight_decay 0.004
    covers(AdamW, "keras")
    same(run_rule(AdamW(convention="keras")), run_ref(keras_adam(1e-3, 0.9, 0.999, 1e-7, wd=4e-3), (Z, Z, Z)))


def test_adamw_optax():
    # optax alias.adamw L598-727: scale_by_adam → add_decayed_weights(λ) (u + λθ) →
    # scale_by_learning_rate: θ ← θ − η(ŝ/(√r̂ + ε) + λθ); weight_decay 1e-4 (L605)
    covers(AdamW, "optax")
    same(run_rule(AdamW(convention="optax")), run_ref(adam_alg1(1e-3, 0.9, 0.999, 1e-8, wd_decoupled=1e-4), (Z, Z, Z)))


def test_adamw_paper():
    # Loshchilov & Hutter 2019 Alg. 2 l.12: θ ← θ − η_t(α m̂/(√v̂ + ε) + λθ), η_t the schedule
    # multiplier (1 here): the decay is not scaled by α, so ravine takes weight_decay = λ/α
    covers(AdamW, "paper")
    lam, alpha = 0.05, 1e-3

    def step(theta, t, state):
        s, r = state
        g = grad(theta)
        s = 0.9 * s + 0.1 * g
        r = 0.999 * r + 0.001 * g * g
        m_hat, v_hat = s / (1 - 0.9**t), r / (1 - 0.999**t)
        return theta - (alpha * m_hat / (np.sqrt(v_hat) + 1e-8) + lam * theta), (s, r)

    same(run_rule(AdamW(convention="paper", weight_decay=lam / alpha)), run_ref(step, (Z, Z)))
    assert AdamW(convention="paper").h.weight_decay == 1e-2


@pytest.mark.parametrize("conv,eps", [("lecture000", 1e-8), ("lecture002", 1e-7)])
def test_adamw_lectures(conv, eps):
    # the lectures have no AdamW: their Adam form (ε inside) with torch's decoupled λ = 1e-2
    covers(AdamW, conv)
    same(
        run_rule(AdamW(convention=conv)),
        run_ref(adam_alg1(1e-3, 0.9, 0.999, eps, inside=True, wd_decoupled=1e-2), (Z, Z, Z)),
    )


@pytest.mark.parametrize("conv,wd", [("torch", 1e-2), ("keras", 4e-3), ("optax", 1e-4)])
def test_adamw_weight_decay_default_comes_from_the_convention(conv, wd):
    rule = AdamW(convention=conv)
    assert rule.h.weight_decay == wd and rule.h.decoupled_weight_decay is True
    assert AdamW(convention=conv, weight_decay=0.5).h.weight_decay == 0.5


# ------------------------------------------------------------------ NAdam


@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True)])
def test_nadam_torch(kw):
    # torch nadam.py L329-380: μ_t = β1(1 − ½·0.96^{tψ}), ψ 4e-3, lr 2e-3, eps 1e-8 (L36-41)
    covers(NAdam, "torch")
    same(run_rule(NAdam(convention="torch", **kw)), run_torch(torch.optim.NAdam, **kw))


def nadam_schedule(lr, b1, b2, eps, psi, wd_decoupled=0.0):
    # the μ-schedule form shared by torch (nadam.py L347-380), Keras 3 (nadam.py L95-146, where
    # u_t = β1(1 − ½·0.96^t), i.e. ψ = 1, and Π is one scalar starting at 1 (L93)) and Dozat:
    # Π ← Π·μ_t; m̂ = μ_{t+1} s/(1 − Π μ_{t+1}) + (1 − μ_t) g/(1 − Π); θ ← θ − η m̂/(√(r/bc2) + ε)
    def step(theta, t, state):
        s, r, prod = state
        g = grad(theta)
        theta = theta - theta * wd_decoupled * lr
        mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu1 = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        prod = prod * mu
        s = s + (g - s) * (1 - b1)
        r = r + (g * g - r) * (1 - b2)
        m_hat = mu1 * s / (1 - prod * mu1) + (1 - mu) * g / (1 - prod)
        return theta - lr * m_hat / (np.sqrt(r / (1 - b2**t)) + eps), (s, r, prod)

    return step


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_nadam_keras(wd):
    # keras nadam.py: learning_rate 0.001, epsilon 1e-7 (L41-44); weight decay decoupled, η-scaled
    covers(NAdam, "keras")
    same(
        run_rule(NAdam(convention="keras", weight_decay=wd)),
        run_ref(nadam_schedule(1e-3, 0.9, 0.999, 1e-7, 1.0, wd_decoupled=wd), (Z, Z, 1.0)),
    )


def test_nadam_optax():
    # optax.nadam = adam(nesterov=True) (alias L532), scale_by_adam L286-293: constant μ = β1:
    # m̂ = β1 s/(1 − β1^{t+1}) + (1 − β1) g/(1 − β1^t); θ ← θ − η m̂/(√r̂ + ε); eps 1e-8, lr required
    covers(NAdam, "optax")

    def step(theta, t, state):
        s, r = state
        g = grad(theta)
        s = 0.9 * s + 0.1 * g
        r = 0.999 * r + 0.001 * g * g
        m_hat = 0.9 * s / (1 - 0.9 ** (t + 1)) + 0.1 * g / (1 - 0.9**t)
        return theta - 1e-3 * m_hat / (np.sqrt(r / (1 - 0.999**t)) + 1e-8), (s, r)

    rule = NAdam(convention="optax")
    same(run_rule(rule, steps=40), run_ref(step, (Z, Z), steps=40))
    k = rule.terms(rule.h, 1)
    assert k.mu == 0.9 and k.mu_next == 0.9  # ψ = 1e4 gives μ = β1 to the last bit


def test_nadam_paper():
    # Dozat 2016 Alg. 2 (schedule 0.96^{t/250}, ψ = 0.004; ravine's β1 0.99, lr 2e-3); the β2
    # factor on v̂ in Alg. 2 is dropped, as in every implementation
    covers(NAdam, "paper")
    same(run_rule(NAdam(convention="paper")), run_ref(nadam_schedule(2e-3, 0.99, 0.999, 1e-8, 4e-3), (Z, Z, 1.0)))


# ------------------------------------------------------------------ Yogi


def yogi_ref(lr, b1, b2, eps, init, bias_correction):
    # r = r − (1−β2)·sign(r − g²)·g²; optax scale_by_yogi L757-810 (L795): both moments start at
    # 1e-6 and are bias-corrected; the paper (Alg. 2): s₀ = r₀ = 0, no bias correction
    def step(theta, t, state):
        s, r = state
        g = grad(theta)
        s = b1 * s + (1 - b1) * g
        r = r - (1 - b2) * np.sign(r - g * g) * g * g
        if bias_correction:
            s_hat, r_hat = s / (1 - b1**t), r / (1 - b2**t)
        else:
            s_hat, r_hat = s, r
        return theta - lr * s_hat / (np.sqrt(r_hat) + eps), (s, r)

    return step


@pytest.mark.parametrize("conv", ["torch", "paper"])
def test_yogi_paper(conv):
    covers(Yogi, conv)
    same(run_rule(Yogi(convention=conv)), run_ref(yogi_ref(1e-2, 0.9, 0.999, 1e-3, 0.0, False), (Z, Z)))


def test_yogi_optax():
    covers(Yogi, "optax")
    init = np.full(5, 1e-6)
    same(run_rule(Yogi(convention="optax")), run_ref(yogi_ref(1e-2, 0.9, 0.999, 1e-3, 1e-6, True), (init, init)))


# ===================================================================== overrides


def test_explicit_keywords_override_convention_defaults():
    r = Adam(convention="keras", eps=1e-3, lr=0.05)
    assert (r.h.eps, r.h.lr, r.h.eps_mode) == (1e-3, 0.05, "hat")
    assert Adam(convention="keras", eps_mode="outside").h.eps == 1e-7
    assert Adam(convention="keras", decoupled_weight_decay=False).h.decoupled_weight_decay is False
    assert Adam(convention="torch", decoupled_weight_decay=True).h.decoupled_weight_decay is True
    assert Adagrad(convention="keras", initial_accumulator_value=0.0).h.initial_accumulator_value == 0.0
    assert Adagrad(convention="keras", eps_inside=False).h.eps_inside is False
    assert RMSprop(convention="keras", alpha=0.99).h.alpha == 0.99
    assert SGD(convention="keras", first_buffer="g").h.first_buffer == "g"
    assert NAdam(convention="keras", momentum_decay=4e-3).h.momentum_decay == 4e-3
    assert AdamW(convention="keras", weight_decay=0.0).h.weight_decay == 0.0
    assert Yogi(convention="optax", initial_first_moment=0.0).h.initial_first_moment == 0.0
    assert Adadelta(convention="keras", lr=1.0).h.lr == 1.0


def test_old_lecture_convention_names_say_the_new_name():
    with pytest.raises(ValueError, match=r"^Adam: convention 'seed000' was renamed 'lecture000'$"):
        Adam(convention="seed000")
    with pytest.raises(ValueError, match=r"^Momentum: convention 'seed004' was renamed 'lecture004'$"):
        Momentum(convention="seed004")
    # an old name whose new name this rule lacks: the ordinary message with the choices
    with pytest.raises(ValueError, match=r"^Adadelta: convention must be one of .*got 'seed000'$"):
        Adadelta(convention="seed000")


def test_overridden_rule_runs_the_overridden_equations():
    # Keras's Adagrad with torch's ε form and ε: the torch equations with r₀ = 0.1, η = 1e-3
    rule = Adagrad(convention="keras", eps_inside=False, eps=1e-10)
    same(run_rule(rule), run_torch(torch.optim.Adagrad, lr=1e-3, initial_accumulator_value=0.1))
    # Keras NAdam with torch's ψ: torch.optim.NAdam with Keras's lr and ε
    same(run_rule(NAdam(convention="keras", momentum_decay=4e-3)), run_torch(torch.optim.NAdam, lr=1e-3, eps=1e-7))
    # Keras Adam with the weight decay made coupled again
    same(
        run_rule(Adam(convention="torch", weight_decay=0.1, eps=1e-7, decoupled_weight_decay=False)),
        run_torch(torch.optim.Adam, weight_decay=0.1, eps=1e-7),
    )


def test_keras_adam_hat_form_differs_from_torch_with_equal_eps():
    a = run_rule(Adam(convention="keras", eps=0.1, lr=0.1))
    b = run_rule(Adam(convention="torch", eps=0.1, lr=0.1))
    assert np.max(np.abs(a - b)) > 1e-3


# ===================================================================== RAdam, Adamax, ASGD, Rprop (torch only)


@pytest.mark.parametrize(
    "kw", [dict(), dict(weight_decay=0.1), dict(weight_decay=0.1, decoupled_weight_decay=True), dict(betas=(0.8, 0.9))]
)
def test_radam_torch(kw):
    # torch radam.py L256-358: ρ_t > 5 rectified, else η ŝ; defaults L31-45. 12 steps: both branches
    covers(RAdam, "torch")
    same(run_rule(RAdam(convention="torch", **kw), steps=12), run_torch(torch.optim.RAdam, steps=12, **kw))


@pytest.mark.parametrize("kw", [dict(), dict(weight_decay=0.1), dict(betas=(0.8, 0.9), eps=1e-3)])
def test_adamax_torch(kw):
    # torch adamax.py L226-303: u = max(β2 u, |g| + ε), θ − η/(1 − β1^t)·s/u; defaults L29-42
    covers(Adamax, "torch")
    same(run_rule(Adamax(convention="torch", **kw)), run_torch(torch.optim.Adamax, **kw))


@pytest.mark.parametrize("kw", [dict(), dict(lambd=0.1, alpha=0.5, t0=2.0), dict(weight_decay=0.1, t0=0.0)])
def test_asgd_torch(kw):
    # torch asgd.py L197-274: θ(1 − λη) − ηg, ax, η and μ for the next step; defaults L29-42
    covers(ASGD, "torch")
    same(run_rule(ASGD(convention="torch", **kw)), run_torch(torch.optim.ASGD, **kw))


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.3, etas=(0.3, 1.5), step_sizes=(1e-3, 0.5))])
def test_rprop_torch(kw):
    # torch rprop.py L223-291: sign(g·g_prev) → η⁺, η⁻, 1; clamp; g = 0 after a flip; defaults L30-42
    covers(Rprop, "torch")
    same(run_rule(Rprop(convention="torch", **kw), steps=12), run_torch(torch.optim.Rprop, steps=12, **kw))


# ===================================================================== coverage


#: rules whose presets have no framework equations to compare with (Newton's and ExactStep's
#: one convention is their definition; tests/rules/test_newton.py checks it from the equations)
NO_SOURCE = {"newton", "exact_step"}


def test_every_convention_is_checked_against_its_source():
    """Runs last in this file: each (rule, convention) pair must have a test above."""
    missing = [
        (cls.__name__, conv)
        for name, cls in RULES.items()
        if name not in NO_SOURCE
        for conv in cls.conventions
        if (cls.__name__, conv) not in COVERED
    ]
    if len(COVERED) == 0:
        pytest.skip("run the whole file")
    assert not missing, missing


# ===================================================================== presets under an η schedule, refusals
# A preset must equal its framework or refuse. These run the rule with a learning rate that changes
# at every step (rule.apply(..., lr=η_t)) against the framework's equations written out.

LRS = [0.05, 0.02, 0.08, 0.01, 0.03, 0.06]


def run_rule_schedule(rule, lrs=LRS):
    theta = THETA0.copy()
    st = rule.init(theta)
    for lr in lrs:
        theta, st, _ = rule.apply(theta, grad(theta), st, lr=lr)
    return theta


@pytest.mark.parametrize("mu,nesterov", [(0.9, False), (0.9, True), (0.5, False)])
def test_sgd_keras_keeps_lr_inside_the_buffer_under_a_schedule(mu, nesterov):
    # keras sgd.py update_step L95-123: m = μm − η_t g; θ ← θ + m (nesterov: θ + μm − η_t g)
    theta, m = THETA0.copy(), Z.copy()
    for lr in LRS:
        g = grad(theta)
        m = mu * m - lr * g
        theta = theta + mu * m - lr * g if nesterov else theta + m
    got = run_rule_schedule(SGD(convention="keras", momentum=mu, nesterov=nesterov))
    same(got, theta)
    # and torch's form (η outside the buffer) differs under the same schedule
    torch_form = run_rule_schedule(SGD(convention="keras", momentum=mu, nesterov=nesterov, lr_in_buffer=False))
    assert np.abs(torch_form - theta).max() > 1e-6


@pytest.mark.parametrize("conv", ["keras", "optax"])
@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_keras_optax_keep_lr_inside_the_buffer_under_a_schedule(conv, centered):
    # keras rmsprop.py L109-154; optax rmsprop = scale_by_rms/stddev, scale(−η_t), trace(μ):
    # b = μb + η_t g/den; θ ← θ − b
    rho, eps, mu = 0.9, (1e-7 if conv == "keras" else 1e-8), 0.7
    theta, r, m, b = THETA0.copy(), Z.copy(), Z.copy(), Z.copy()
    for lr in LRS:
        g = grad(theta)
        r = rho * r + (1 - rho) * g * g
        if centered:
            m = rho * m + (1 - rho) * g
            den = np.sqrt(r - m * m + eps)
        else:
            den = np.sqrt(r + eps)
        b = mu * b + lr * g / den
        theta = theta - b
    same(run_rule_schedule(RMSprop(convention=conv, momentum=mu, centered=centered)), theta)


@pytest.mark.parametrize("cls", [SGD, Adagrad, RMSprop, Adadelta])
def test_keras_coupled_weight_decay_is_refused(cls):
    """Keras decays decoupled (base_optimizer.py L952-959); these rules decay coupled (torch's L2):
    the Keras preset refuses instead of silently differing."""
    with pytest.raises(ValueError, match=r"convention='keras' with weight_decay=0.1 is not reproduced.*decoupled"):
        cls(convention="keras", weight_decay=0.1)
    cls(convention="keras")  # λ = 0: Keras's default, reproduced
    cls(convention="torch", weight_decay=0.1)  # torch's coupled decay
