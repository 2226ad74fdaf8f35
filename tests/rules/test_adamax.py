"""Adamax against torch.optim.Adamax on a hard gradient stream, and u as a max.

    g ← g + λθ,   s ← β1 s + (1 − β1) g,   u ← max(β2 u, |g| + ε),   θ ← θ − η/(1 − β1^t) · s/u

Tolerance: 1e-12 per coordinate relative to the coordinate's largest value along the run
(support/streams.py; torch's ``lerp_`` for s rounds once differently per step).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ravine.rules import Adamax  # noqa: E402
from support.streams import assert_follows_torch  # noqa: E402

STATE = {"s": "exp_avg", "u": "exp_inf"}
CASES = [dict(lr=1e-2), dict(lr=1e-2, weight_decay=0.1), dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-3)]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_adamax_follows_torch_on_a_hard_stream(kw):
    assert_follows_torch(torch, Adamax(**kw), torch.optim.Adamax, kw, STATE)


def test_adamax_u_is_a_decaying_max_not_an_average():
    """One large gradient, then zeros: u = β2^(t−1)(|g₁| + ε) while that exceeds ε, and only s is
    bias-corrected (the first step is η g/(|g| + ε))."""
    rule = Adamax(lr=0.1, betas=(0.9, 0.5), eps=1e-8)
    g1 = np.array([1000.0, -2.0])
    theta, st, _ = rule.apply(np.zeros(2), g1, rule.init(np.zeros(2)))
    np.testing.assert_allclose(theta, -0.1 * g1 / (np.abs(g1) + 1e-8), rtol=1e-15)
    for t in range(2, 12):
        theta, st, _ = rule.apply(theta, np.zeros(2), st)
        np.testing.assert_allclose(st.state.u, 0.5 ** (t - 1) * (np.abs(g1) + 1e-8), rtol=1e-15)
