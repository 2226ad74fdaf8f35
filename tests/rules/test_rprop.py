"""Rprop against torch.optim.Rprop on a hard gradient stream (θ, the step sizes and the kept
gradient), its sign flips and step-size bounds, and its pair keywords.

    f = η⁺ where g·g_prev > 0, η⁻ where < 0, 1 where = 0
    Δ ← clip(fΔ, Δmin, Δmax),   g ← 0 where g·g_prev < 0,   θ ← θ − sign(g) Δ,   g_prev ← g

Only signs, products and clamps: the rule and torch agree to the last bit (tolerance 0).
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ravine.rules import Rprop  # noqa: E402
from support.streams import assert_follows_torch  # noqa: E402

STATE = {"prev": "prev", "step_size": "step_size"}
CASES = [dict(lr=1e-2), dict(lr=1e-2, etas=(0.3, 1.5), step_sizes=(1e-4, 5e-2))]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()))
def test_rprop_follows_torch_on_a_hard_stream(kw):
    rule = Rprop(**kw)
    _, records = assert_follows_torch(torch, rule, torch.optim.Rprop, kw, STATE, rtol=0.0)
    factors = np.array([r.factor for r in records])
    sizes = np.array([r.step_size for r in records])
    assert (factors == rule.etaminus).sum() > 50 and (factors == rule.etaplus).sum() > 50  # flips and runs
    if "step_sizes" in kw:  # both bounds reached
        assert (sizes == rule.step_size_min).any() and (sizes == rule.step_size_max).any()


def test_rprop_after_a_flip_the_coordinate_rests_and_keeps_its_step():
    rule = Rprop(lr=0.1, etas=(0.5, 2.0))
    theta, st, rec = rule.apply(np.zeros(2), np.array([1.0, 1.0]), rule.init(np.zeros(2)))
    np.testing.assert_array_equal(theta, [-0.1, -0.1])  # Δ₀ = η, f = 1 (no previous gradient)
    theta, st, rec = rule.apply(theta, np.array([-3.0, 5.0]), st)
    np.testing.assert_array_equal(rec.factor, [0.5, 2.0])
    np.testing.assert_array_equal(theta, [-0.1, -0.1 - 0.2])  # the flipped one rests
    np.testing.assert_array_equal(st.state.prev, [0.0, 5.0])
    theta, st, rec = rule.apply(theta, np.array([-3.0, 5.0]), st)
    np.testing.assert_array_equal(rec.factor, [1.0, 2.0])  # 0 · g: neither grown nor shrunk
    np.testing.assert_array_equal(theta, [-0.1 + 0.05, -0.1 - 0.2 - 0.4])


@pytest.mark.parametrize(
    "kw,word,value",
    [
        (dict(etas=(1.5, 1.2)), "etaminus", "1.5"),
        (dict(etas=(0.0, 1.2)), "etaminus", "0"),
        (dict(etas=(0.5, 1.0)), "etaplus", "1"),
        (dict(etas=(0.5,)), "etas", "(0.5,)"),
        (dict(step_sizes=(1e-6, -1.0)), "step_size_max", "-1"),
        (dict(step_sizes=(1.0, 0.1)), "step_sizes", "(1, 0.1)"),
    ],
)
def test_rprop_refuses_bad_pairs_in_one_line(kw, word, value):
    with pytest.raises(ValueError) as e:
        Rprop(**kw)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("Rprop: ") and word in msg and value in msg, msg
