"""Dtypes and array types: the same rule code on float32/float64 NumPy arrays and on torch tensors.

* float32 in → float32 out (θ, every state array, the step), for every rule;
* float32 stays within 1e-5 relative (to the scale of θ) of float64 over 50 steps on a tame problem;
* torch float64 tensors give the same numbers as NumPy float64 arrays within 1e-12 relative,
  for every rule (Newton/ExactStep batched). The gradient (and Hessian) are computed in NumPy
  for both sides, as in test_torch_parity.py, so only the rule's arithmetic is compared.
"""

import numpy as np
import pytest

from ravine.rules import RULES
from support.problems import BatchProblem

torch = pytest.importorskip("torch")

DIM = 5
BATCH = 3

# Every rule in RULES is tested: first with its defaults and a tame learning rate (TAME_LR;
# the rule's own lr where absent), then with each non-default configuration in MORE (the tame
# lr added). A new rule is covered without an entry here; an entry is an exception.
TAME_LR = {
    "sgd": 0.02,
    "momentum": 0.02,
    "nag": 0.02,
    "adagrad": 0.05,
    "rmsprop": 1e-3,
    "rmsprop_nesterov": 1e-3,
    "windowed_rmsprop": 1e-3,
    "adam": 1e-3,
    "adamw": 1e-3,
    "nadam": 1e-3,
    "yogi": 1e-3,
    "newton": 0.5,
}
MORE = {
    "sgd": [
        dict(momentum=0.9, nesterov=True, weight_decay=0.01),
        dict(momentum=0.9, dampening=0.5, first_buffer="zero"),
    ],
    "momentum": [dict(form="average")],
    "adagrad": [dict(lr_decay=0.1, initial_accumulator_value=0.1, eps_inside=True)],
    "rmsprop": [dict(centered=True, momentum=0.9, weight_decay=0.01, eps_inside=True)],
    "rmsprop_nesterov": [dict(lookahead=True, eps_inside=True)],
    "windowed_rmsprop": [dict(window=3, eps_inside=True)],
    "adadelta": [dict(rho=0.95, weight_decay=0.01)],
    "adam": [dict(amsgrad=True, eps_mode="hat", weight_decay=0.01), dict(eps_mode="inside")],
    "nadam": [dict(weight_decay=0.01, decoupled_weight_decay=True)],
    "yogi": [dict(convention="optax")],
    "newton": [dict(damping=0.3)],
    "radam": [dict(weight_decay=0.01), dict(weight_decay=0.01, decoupled_weight_decay=True)],
    "adamax": [dict(weight_decay=0.01)],
    "asgd": [dict(t0=2.0, weight_decay=0.01)],
    "rprop": [dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.1))],
}


def configs(name):
    base = {"lr": TAME_LR[name]} if name in TAME_LR else {}
    return [base] + [{**base, **kw} for kw in MORE.get(name, [])]


CASES = [pytest.param(name, kw, id=f"{name}-{i}") for name in RULES for i, kw in enumerate(configs(name))]


def test_every_rule_is_covered():
    assert set(TAME_LR) | set(MORE) <= set(RULES), "an exception names no rule"
    assert {c.values[0] for c in CASES} == set(RULES)


class Problem(BatchProblem):
    """f(θ) = ½θᵀAθ − bᵀθ + Σ log cosh θ in NumPy float64 (batched for second-order rules)."""

    def __init__(self, rule, seed=0):
        super().__init__(rule, seed=seed, dim=DIM, batch=BATCH)


def run(rule, prob, steps, to_array, from_array):
    """Run ``steps`` steps with θ of the array type produced by ``to_array`` (from float64 NumPy)."""
    theta = to_array(prob.theta0)
    st = rule.init(theta)
    out = []
    for _ in range(steps):
        kw = {}
        if prob.second:
            kw["hessian"] = to_array(prob.hess(from_array(theta)))
        if prob.look:
            theta, st, rec = rule.apply(theta, None, st, grad_fn=lambda p: to_array(prob.grad(from_array(p))), **kw)
        else:
            theta, st, rec = rule.apply(theta, to_array(prob.grad(from_array(theta))), st, **kw)
        out.append((theta, st, rec))
    return out


def np32(x):
    return np.asarray(x, dtype=np.float32)


def np64(x):
    return np.asarray(x, dtype=np.float64)


def state_arrays(st):
    """(name, array) for every array in the state; Python-float placeholders (0.0) skipped."""
    return [(f, v) for f, v in zip(st.state._fields, st.state) if not isinstance(v, (float, int))]


# ------------------------------------------------------------------ float32


@pytest.mark.parametrize("name,kw", CASES)
def test_float32_in_float32_out(name, kw):
    rule = RULES[name](**kw)
    prob = Problem(rule)
    for theta, st, rec in run(rule, prob, 10, np32, np64):
        assert isinstance(theta, np.ndarray) and theta.dtype == np.float32
        for field, arr in state_arrays(st):
            assert arr.dtype == np.float32, f"state {field} is {arr.dtype}"
        assert np.asarray(rec.delta).dtype == np.float32


@pytest.mark.parametrize("name,kw", CASES)
def test_float32_follows_float64(name, kw):
    rule = RULES[name](**kw)
    prob = Problem(rule, seed=1)
    t32 = run(rule, prob, 50, np32, np64)
    t64 = run(rule, prob, 50, np64, np64)
    for step, ((a, _, _), (b, _, _)) in enumerate(zip(t32, t64), 1):
        scale = np.max(np.abs(b))
        err = np.max(np.abs(a.astype(np.float64) - b))
        assert err <= 1e-5 * scale, f"step {step}: float32 off by {err / scale:.2e} (relative)"


# -------------------------------------------------------------------- torch


def t64(x):
    return torch.as_tensor(np.asarray(x, dtype=np.float64))


def t2np(x):
    return x.detach().cpu().numpy().astype(np.float64)


@pytest.mark.parametrize("name,kw", CASES)
def test_torch_tensors_give_the_numpy_numbers(name, kw):
    rule = RULES[name](**kw)
    prob = Problem(rule, seed=2)
    steps = 100
    on_torch = run(rule, prob, steps, t64, t2np)
    on_numpy = run(rule, prob, steps, np64, np64)
    for step, ((a, sa, _), (b, sb, _)) in enumerate(zip(on_torch, on_numpy), 1):
        assert isinstance(a, torch.Tensor) and a.dtype == torch.float64
        scale = np.max(np.abs(b))
        np.testing.assert_allclose(t2np(a), b, rtol=1e-12, atol=1e-12 * scale, err_msg=f"θ step {step}")
        assert sa.t == sb.t
        for (field, x), (_, y) in zip(state_arrays(sa), state_arrays(sb)):
            assert isinstance(x, torch.Tensor) and x.dtype == torch.float64, field
            y_scale = max(np.max(np.abs(y)), 1e-300)
            np.testing.assert_allclose(
                t2np(x), y, rtol=1e-12, atol=1e-12 * y_scale, err_msg=f"state {field} step {step}"
            )


@pytest.mark.parametrize("name,kw", CASES)
def test_torch_float32_stays_float32(name, kw):
    rule = RULES[name](**kw)
    prob = Problem(rule, seed=3)

    def t32(x):
        return torch.as_tensor(np.asarray(x, dtype=np.float32))

    for theta, st, _rec in run(rule, prob, 5, t32, t2np):
        assert theta.dtype == torch.float32
        for field, arr in state_arrays(st):
            assert arr.dtype == torch.float32, f"state {field} is {arr.dtype}"
