"""The NumPy rules against torch.optim: 200 steps on a random float64 problem,
every flag combination, trajectories equal within 1e-10 relative.

The learning rates keep every run away from the round-off floor at the
minimum: there an adaptive step g/√r̂ divides noise by noise, and two correct
implementations part ways chaotically (NAdam with lr = 0.05 does, after ~140
steps), which would test the problem rather than the rule.

Only the rule differs between the two sides: the gradient is computed once in
NumPy and handed to torch as ``p.grad``, so the comparison isolates the update.
"""

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from ravine.rules import SGD, Adadelta, Adagrad, Adam, AdamW, NAdam, RMSprop  # noqa: E402
from support.problems import make_problem as _make_problem  # noqa: E402

STEPS = 200
DIM = 12
RTOL = 1e-10


def make_problem(seed=0):
    """f(θ) = ½θᵀAθ − bᵀθ + Σ log cosh θ: smooth, non-quadratic, well conditioned."""
    return _make_problem(seed, DIM, ridge=0.1)


def combos(**grid):
    keys = list(grid)
    for values in itertools.product(*grid.values()):
        yield dict(zip(keys, values))


CASES = []
for kw in combos(momentum=[0.0, 0.9], dampening=[0.0, 0.5], nesterov=[False, True], weight_decay=[0.0, 0.1]):
    if kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0):
        continue
    CASES.append(("SGD", SGD, torch.optim.SGD, dict(lr=0.05, **kw)))
for kw in combos(lr_decay=[0.0, 0.01], initial_accumulator_value=[0.0, 0.1], weight_decay=[0.0, 0.1]):
    CASES.append(("Adagrad", Adagrad, torch.optim.Adagrad, dict(lr=0.1, **kw)))
for kw in combos(centered=[False, True], momentum=[0.0, 0.9], weight_decay=[0.0, 0.1]):
    CASES.append(("RMSprop", RMSprop, torch.optim.RMSprop, dict(lr=0.01, **kw)))
for kw in combos(rho=[0.9, 0.95], weight_decay=[0.0, 0.1]):
    CASES.append(("Adadelta", Adadelta, torch.optim.Adadelta, dict(lr=1.0, **kw)))
for kw in combos(amsgrad=[False, True], weight_decay=[0.0, 0.1]):
    CASES.append(("Adam", Adam, torch.optim.Adam, dict(lr=0.05, betas=(0.9, 0.99), **kw)))
for kw in combos(amsgrad=[False, True], weight_decay=[0.01, 0.1]):
    CASES.append(("AdamW", AdamW, torch.optim.AdamW, dict(lr=0.05, **kw)))
for kw in combos(weight_decay=[0.0, 0.1], decoupled_weight_decay=[False, True]):
    if kw["decoupled_weight_decay"] and kw["weight_decay"] == 0:
        continue
    CASES.append(("NAdam", NAdam, torch.optim.NAdam, dict(lr=0.01, **kw)))


def _id(case):
    name, _, _, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items() if k != "lr")


@pytest.fixture(autouse=True)
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (NAdam's mu_product) in this dtype
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_rule_matches_torch_optim(case):
    name, rule_cls, torch_cls, kw = case
    theta0, grad = make_problem()
    rule = rule_cls(**kw)
    p = torch.nn.Parameter(torch.tensor(theta0.copy(), dtype=torch.float64))
    opt = torch_cls([p], foreach=False, **kw)

    theta, st = theta0.copy(), rule.init(theta0)
    worst = 0.0
    for _ in range(STEPS):
        g = grad(theta)
        theta, st, _ = rule.apply(theta, g, st)
        p.grad = torch.tensor(grad(p.detach().numpy()))
        opt.step()
        ref = p.detach().numpy()
        worst = max(worst, np.max(np.abs(theta - ref)) / np.max(np.abs(ref)))
    assert worst <= RTOL, f"{name}: worst relative difference {worst:.3e} over {STEPS} steps"
    # the run must have moved: a test that cannot fail is no test
    assert np.max(np.abs(theta - theta0)) > 1e-3
