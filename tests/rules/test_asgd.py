"""ASGD against torch.optim.ASGD on a hard gradient stream (θ, η_t, μ_t and the average θ̄),
under a learning rate that changes at every step, and θ̄ as the Polyak–Ruppert average.

    θ ← θ(1 − λη_t) − η_t (g + λ_wd θ)
    θ̄ ← θ while μ_t = 1, else θ̄ + μ_t(θ − θ̄)
    η_{t+1} = η/(1 + ληt)^α,   μ_{t+1} = 1/max(1, t − t0)        (η₁ = η, μ₁ = 1)

Tolerance: 1e-12 per coordinate relative to the coordinate's largest value along the run
(support/streams.py): torch's ``add_(grad, alpha=−η_t)`` rounds once (a fused multiply-add)
where the rule, whose η_t is an array, rounds twice.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ravine.rules import ASGD  # noqa: E402
from support.streams import RTOL, STEPS, Worst, assert_follows_torch, hard_stream, theta0  # noqa: E402

STATE = {"eta": "eta", "mu": "mu", "ax": "ax"}
CASES = [
    dict(lr=1e-2),  # torch's defaults: t0 = 1e6, θ̄ is the last iterate
    dict(lr=1e-2, lambd=1e-2, t0=50.0),
    dict(lr=1e-2, lambd=0.5, alpha=0.5, t0=0.0, weight_decay=0.1),
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_asgd_follows_torch_on_a_hard_stream(kw):
    ref, _ = assert_follows_torch(torch, ASGD(**kw), torch.optim.ASGD, kw, STATE)
    if kw.get("t0", 1e6) < STEPS:  # the average has started: it is not the last iterate
        assert np.max(np.abs(ref[-1][1]["ax"] - ref[-1][0])) > 1e-3


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch rounds η_t and μ_t to the default dtype (torch.as_tensor)
    yield
    torch.set_default_dtype(old)


def test_asgd_step_size_follows_a_changing_lr_one_step_late_as_torch(float64_default):
    """η_{t+1} is made at the end of step t from that step's η: a new learning rate reaches the
    step one step later, in the rule (``apply(lr=)``) as in torch (``param_groups[0]["lr"]``)."""
    kw = dict(lr=0.05, lambd=0.1, t0=3.0)
    grads, start = hard_stream(seed=3, steps=40), theta0()
    lrs = [0.05 * (2.0 if t % 7 == 6 else 0.9**t) for t in range(40)]  # η₁ = the η the state began with
    p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    opt = torch.optim.ASGD([p], foreach=False, **kw)
    rule = ASGD(**kw)
    theta, st = start.copy(), rule.init(start)
    for g, lr in zip(grads, lrs):
        opt.param_groups[0]["lr"] = lr
        p.grad = torch.tensor(g)
        opt.step()
        theta, st, _ = rule.apply(theta, g, st, lr=lr)
        np.testing.assert_allclose(st.state.eta, float(opt.state[p]["eta"]), rtol=1e-15)
    worst = Worst().add(theta, p.detach().numpy()).worst
    assert worst <= RTOL, worst


def test_asgd_average_is_the_mean_of_the_iterates_after_t0():
    """t0 = 0: μ = 1, 1, 1/2, 1/3, … so θ̄_T is the mean of θ_2 … θ_T."""
    grads, start = hard_stream(seed=4, steps=30, dim=6), theta0(dim=6)
    rule = ASGD(lr=0.01, lambd=0.0, t0=0.0)
    theta, st = start.copy(), rule.init(start)
    iterates = []
    for g in grads:
        theta, st, _ = rule.apply(theta, g, st)
        iterates.append(theta)
    np.testing.assert_allclose(st.state.ax, np.mean(iterates[1:], axis=0), rtol=1e-12)


def test_asgd_average_is_the_iterate_itself_before_t0():
    """While μ = 1 torch copies θ into θ̄ (``ax.copy_``): bit for bit θ, where θ̄ + 1·(θ − θ̄) can
    round elsewhere (the stream's coordinates jump by 1e4 from values of 1)."""
    rule = ASGD(lr=1e-2)  # t0 = 1e6
    theta, st = theta0(), rule.init(theta0())
    for g in hard_stream():
        theta, st, _ = rule.apply(theta, g, st)
        np.testing.assert_array_equal(st.state.ax, theta)
