"""``nonfinite="raise"``/``"skip"`` also catch what a FINITE gradient produced (issue 17, item 6).

A finite g whose square overflows leaves v = inf in every adaptive rule: the step is 0 from
then on and the optimizer silently stops moving. ``Rule.apply`` and the runner's NumPy path
check the new θ and every new State field after the update (``rules.base.nonfinite_parts``):
"raise" raises with θ and state as they were, "skip" skips and counts, "ignore" applies.
"""

import numpy as np
import pytest

import ravine
from ravine.rules import RULES, NonFiniteGradientError
from ravine.rules.base import nonfinite_parts

#: every rule that squares the gradient; g = 1e200 is finite, g² (and v) overflow in float64
SQUARING = ["adagrad", "rmsprop", "rmsprop_nesterov", "windowed_rmsprop", "adadelta", "adam", "adamw", "nadam", "yogi"]
G = 1e200


def _first_step(name, nonfinite):
    rule = RULES[name]()
    theta = np.array([1.0, -2.0])
    st = rule.init(theta)
    g = np.array([G, 0.5])
    with np.errstate(all="ignore"):
        if "lookahead" in rule.needs:
            return rule, theta, st, rule.apply(theta, None, st, nonfinite=nonfinite, grad_fn=lambda x: g)
        return rule, theta, st, rule.apply(theta, g, st, nonfinite=nonfinite)


@pytest.mark.parametrize("name", SQUARING)
def test_raise_catches_an_overflowing_state(name):
    rule, theta, st, _ = _first_step(name, "ignore")
    with pytest.raises(NonFiniteGradientError, match=r"finite gradient gave non-finite .* at step 1"):
        _first_step(name, "raise")


@pytest.mark.parametrize("name", SQUARING)
def test_ignore_applies_and_skip_skips(name):
    *_, (theta1, st1, rec) = _first_step(name, "ignore")
    assert rec is not None and nonfinite_parts(theta1, st1.state)  # the overflow is there
    rule, theta0, st0, (theta2, st2, rec2) = _first_step(name, "skip")
    assert rec2 is None and st2.skipped == 1 and st2.t == 0
    np.testing.assert_array_equal(theta2, theta0)
    for a, b in zip(st2.state, st0.state):
        np.testing.assert_array_equal(a, b)


def test_a_finite_step_is_not_refused():
    rule = RULES["adam"]()
    theta = np.array([1.0, -2.0])
    out, st, rec = rule.apply(theta, np.array([1e150, 0.5]), rule.init(theta), nonfinite="raise")
    assert rec is not None and np.isfinite(out).all()  # v = 1e297, finite: torch moves by lr too


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_runner_raise_and_skip(backend):
    # the ellipse's gradient at x = 1e200 is 2e199: finite, its square is not
    kw = dict(starts=[[1e200, 1.0]], steps=3, divergence=1e300, backend=backend)
    with pytest.raises(NonFiniteGradientError, match=r"finite gradient gave non-finite r at step 1"):
        ravine.run([RULES["adam"]()], "ellipse", nonfinite="raise", **kw)
    res = ravine.run([RULES["adam"]()], "ellipse", nonfinite="skip", **kw)
    np.testing.assert_array_equal(res.theta[-1, 0], [1e200, 1.0])  # every step skipped
