"""The non-finite gradient policy, for EVERY rule in ``ravine.rules.RULES``.

``nonfinite="raise"`` (default): NonFiniteGradientError (a ValueError), nothing changes.
``nonfinite="skip"``: θ and state come back unchanged, ``skipped`` counts the step, and
    the run continues exactly as if the bad step had never happened.
``nonfinite="ignore"``: the step is applied; IEEE arithmetic spreads the NaN/inf.

Second-order rules get ``hessian=``; look-ahead rules get a ``grad_fn`` that returns the
poisoned gradient.
"""

import copy
import math

import numpy as np
import pytest

from ravine.rules import RULES, NonFiniteGradientError
from support.problems import BatchProblem

DIM = 4
BATCH = 3

# Every rule in RULES is tested with its defaults, then with each non-default configuration in
# MORE: a new rule is covered without an entry here.
MORE = {
    "sgd": [dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)],
    "momentum": [dict(form="average")],
    "adagrad": [dict(lr_decay=0.1, initial_accumulator_value=0.1, eps_inside=True)],
    "rmsprop": [dict(centered=True, momentum=0.9, weight_decay=0.01)],
    "rmsprop_nesterov": [dict(lookahead=True)],
    "windowed_rmsprop": [dict(window=3, eps_inside=True)],
    "adam": [dict(amsgrad=True, eps_mode="hat", weight_decay=0.01)],
    "nadam": [dict(weight_decay=0.01, decoupled_weight_decay=True)],
    "yogi": [dict(convention="optax")],
    "newton": [dict(damping=0.1)],
    "radam": [dict(weight_decay=0.01, decoupled_weight_decay=True)],
    "adamax": [dict(weight_decay=0.01)],
    "asgd": [dict(t0=1.0, weight_decay=0.01)],
    "rprop": [dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.1))],
}
#: rules that use only the sign of g: an infinite gradient moves θ by a finite step (as in
#: torch.optim.Rprop); a NaN still spreads
SIGN_ONLY = {"rprop"}
CASES = [pytest.param(name, kw, id=f"{name}-{i}") for name in RULES for i, kw in enumerate([{}, *MORE.get(name, [])])]
BAD = [pytest.param(math.nan, id="nan"), pytest.param(math.inf, id="+inf"), pytest.param(-math.inf, id="-inf")]


def test_every_rule_is_covered():
    assert set(MORE) | SIGN_ONLY <= set(RULES), "an exception names no rule"
    assert {c.values[0] for c in CASES} == set(RULES)


class Harness(BatchProblem):
    """A small problem for one rule: θ0, ∇f (and H for second-order rules)."""

    def __init__(self, name, kw, seed=0):
        self.rule = RULES[name](**kw)
        super().__init__(self.rule, seed=seed, dim=DIM, batch=BATCH)

    @staticmethod
    def poison(g, bad):
        g = np.array(g, copy=True)
        g[..., 1] = bad  # one coordinate (of every batch entry)
        return g

    def step(self, theta, st, bad=None, policy="raise"):
        kw = dict(nonfinite=policy)
        if self.second:
            kw["hessian"] = self.hess(theta)
        if self.look:
            fn = self.grad if bad is None else (lambda p: self.poison(self.grad(p), bad))
            return self.rule.apply(theta, None, st, grad_fn=fn, **kw)
        g = self.grad(theta)
        if bad is not None:
            g = self.poison(g, bad)
        return self.rule.apply(theta, g, st, **kw)

    def run(self, n, theta=None, st=None):
        theta = self.theta0.copy() if theta is None else theta
        st = self.rule.init(theta) if st is None else st
        for _ in range(n):
            theta, st, _ = self.step(theta, st)
        return theta, st


def assert_same_state(a, b):
    assert type(a) is type(b)
    assert a.t == b.t and a.skipped == b.skipped
    for field, x, y in zip(a.state._fields, a.state, b.state):
        if isinstance(x, float) or isinstance(y, float):
            assert x == y, field
        else:
            np.testing.assert_array_equal(x, y, err_msg=field)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("name,kw", CASES)
def test_raise_is_the_default_and_changes_nothing(name, kw, bad):
    hz = Harness(name, kw)
    theta, st = hz.run(3)
    theta_before = theta.copy()
    st_before = copy.deepcopy(st)
    with pytest.raises(NonFiniteGradientError) as e:
        hz.step(theta, st, bad=bad)  # default policy
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "\n" not in msg and type(hz.rule).__name__ in msg
    with pytest.raises(NonFiniteGradientError):
        hz.step(theta, st, bad=bad, policy="raise")
    np.testing.assert_array_equal(theta, theta_before)  # not modified in place
    assert_same_state(st, st_before)
    # and the run goes on from there as if nothing happened
    t1, s1, _ = hz.step(theta, st)
    t2, s2, _ = hz.step(theta_before, st_before)
    np.testing.assert_array_equal(t1, t2)
    assert_same_state(s1, s2)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("name,kw", CASES)
def test_skip_leaves_everything_and_counts(name, kw, bad):
    hz = Harness(name, kw)
    theta, st = hz.run(4)
    theta_before = theta.copy()
    st_before = copy.deepcopy(st)
    th2, st2, rec = hz.step(theta, st, bad=bad, policy="skip")
    np.testing.assert_array_equal(th2, theta_before)
    np.testing.assert_array_equal(theta, theta_before)
    assert st2.t == st_before.t
    assert st2.skipped == st_before.skipped + 1
    assert_same_state(st2._replace(skipped=st_before.skipped), st_before)
    assert rec is None
    # a second bad step counts again
    th3, st3, _ = hz.step(th2, st2, bad=bad, policy="skip")
    assert st3.skipped == 2 and st3.t == st_before.t
    np.testing.assert_array_equal(th3, theta_before)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("name,kw", CASES)
def test_skip_continues_as_if_the_bad_step_never_happened(name, kw, bad):
    hz = Harness(name, kw)
    theta, st = hz.run(4)
    theta, st, _ = hz.step(theta, st, bad=bad, policy="skip")
    theta, st = hz.run(6, theta, st)
    ref_theta, ref_st = hz.run(10)
    np.testing.assert_array_equal(theta, ref_theta)
    assert st.t == ref_st.t == 10
    assert st.skipped == 1 and ref_st.skipped == 0
    assert_same_state(st._replace(skipped=0), ref_st)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN/inf arithmetic is the point
@pytest.mark.parametrize("name,kw", CASES)
def test_ignore_lets_nan_through(name, kw):
    hz = Harness(name, kw)
    theta, st = hz.run(3)
    th, st2, rec = hz.step(theta, st, bad=math.nan, policy="ignore")
    assert st2.t == st.t + 1 and st2.skipped == 0
    assert np.all(np.isnan(th[..., 1])), th  # the poisoned coordinate is NaN
    assert rec is not None


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN/inf arithmetic is the point
@pytest.mark.parametrize("bad", [math.inf, -math.inf], ids=["+inf", "-inf"])
@pytest.mark.parametrize("name,kw", CASES)
def test_ignore_lets_inf_through(name, kw, bad):
    hz = Harness(name, kw)
    theta, st = hz.run(3)
    th, st2, _ = hz.step(theta, st, bad=bad, policy="ignore")
    assert st2.t == st.t + 1
    if name in SIGN_ONLY:  # the step is ±Δ (or 0 after a flip): finite, and the other coordinates move as usual
        assert np.all(np.isfinite(th)), th
        return
    assert not np.all(np.isfinite(th[..., 1])), th


@pytest.mark.parametrize("name,kw", CASES)
def test_finite_gradients_pass_every_policy_identically(name, kw):
    hz = Harness(name, kw)
    theta, st = hz.run(2)
    outs = [hz.step(theta, st, policy=p) for p in ("raise", "skip", "ignore")]
    for th, s, _ in outs[1:]:
        np.testing.assert_array_equal(th, outs[0][0])
        assert_same_state(s, outs[0][1])
