"""RAdam against torch.optim.RAdam on a hard gradient stream, and its warm-up and rectifier.

    g ← g + λθ  (coupled)   or   θ ← θ(1 − ηλ) first  (decoupled_weight_decay)
    s ← β1 s + (1 − β1) g,   r ← β2 r + (1 − β2) g²,   ŝ = s / (1 − β1^t)
    ρ∞ = 2/(1 − β2) − 1,   ρ_t = ρ∞ − 2tβ2^t / (1 − β2^t)
    ρ_t > 5: θ ← θ − η ŝ √(1 − β2^t)/(√r + ε) · r_t     else: θ ← θ − η ŝ

Tolerance: 1e-12 per coordinate relative to the coordinate's largest value along the run
(support/streams.py): torch updates s with ``lerp_`` where the rule writes β1 s + (1 − β1) g,
one rounding apart per step; the stream is open loop, so nothing amplifies it.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ravine.rules import RAdam  # noqa: E402
from support.streams import assert_follows_torch  # noqa: E402

STATE = {"s": "exp_avg", "r": "exp_avg_sq"}
CASES = [
    dict(lr=1e-2),
    dict(lr=1e-2, weight_decay=0.1),
    dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True),
    dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_radam_follows_torch_on_a_hard_stream(kw):
    _, records = assert_follows_torch(torch, RAdam(**kw), torch.optim.RAdam, kw, STATE)
    assert records[0].rect == 0.0 and records[-1].rect > 0.1  # both branches ran


def test_radam_warms_up_for_five_steps_then_rectifies():
    """β2 = 0.999: ρ_t ≤ 5 for t ≤ 5 (torch's threshold), then r_t grows towards 1."""
    h = RAdam().h
    k = [RAdam.terms(h, t) for t in range(1, 8)]
    assert [x.warmup for x in k] == [True] * 5 + [False] * 2
    rho_inf = 2 / (1 - 0.999) - 1
    for t, x in enumerate(k, 1):
        rho_t = rho_inf - 2 * t * 0.999**t / (1 - 0.999**t)
        assert x.rho_t == pytest.approx(rho_t, rel=1e-14)
        if rho_t > 5:
            want = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            assert x.rect == pytest.approx(want, rel=1e-14)
    assert RAdam.terms(h, 10**6).rect == pytest.approx(1.0, rel=1e-12)


def test_radam_warm_up_step_is_momentum_sgd():
    """t = 1: ŝ = g, and the step is η g with no adaptive denominator (Adam's would be η g/|g|)."""
    g = np.array([3.0, -0.25, 40.0, 0.0])
    rule = RAdam(lr=0.1)
    theta, _, _ = rule.apply(np.zeros(4), g, rule.init(np.zeros(4)))
    np.testing.assert_array_equal(theta, -0.1 * g)


def test_radam_never_rectifies_when_rho_inf_is_at_most_5():
    """β2 ≤ 2/3 gives ρ∞ ≤ 5: every step is η ŝ, and r_t (0/0 at ρ∞ = 4) is never evaluated."""
    h = RAdam(betas=(0.9, 0.6)).h
    assert all(RAdam.terms(h, t).warmup for t in range(1, 200))
