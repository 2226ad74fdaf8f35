"""ravine.optim against torch.optim (single-tensor implementation, foreach=False):
the same MLP, the same minibatches, 500 steps, every flag combination, with and
without ``maximize``; parameters equal within 1e-12 (float64) and 1e-6 (float32)
relative, measured as ‖θ_ravine − θ_torch‖₂ / ‖θ_torch‖₂.

Why the 2-norm in float32: single coordinates random-walk apart by about
√t · ½ulp(θ) wherever the two sides round differently, so the max-norm is
reported by the assertion message. torch's AdamW and NAdam round θ twice per
step (``param.mul_(1 − ηλ)`` then ``addcdiv_``; NAdam's two ``addcdiv_``): the
rules record θ_{t+1} computed in that order (``Record.theta``). Weight decays and learning
rates are powers of two so that torch's factor 1 − ηλ is exact in float32 (it
is rounded to float32 once per step in torch, a bias of up to 3e-8 per step).

The float64 grid (and a float32 sample) run by default; the full float32 grid is
marked slow. The fused / foreach implementations of torch are compared in
``test_torch_implementations_agree`` (they differ from the single-tensor one at
round-off level only).
"""

import itertools

import pytest

torch = pytest.importorskip("torch")

from optim_helpers import flat_params, make_data, make_model  # noqa: E402

import ravine.optim as ro  # noqa: E402

STEPS = 500
LR = 2.0**-10
WD = 2.0**-4


def combos(**grid):
    keys = list(grid)
    for values in itertools.product(*grid.values()):
        yield dict(zip(keys, values))


CASES = []
for kw in combos(momentum=[0.0, 0.9], dampening=[0.0, 0.5], nesterov=[False, True], weight_decay=[0.0, WD]):
    if kw["nesterov"] and (kw["momentum"] == 0 or kw["dampening"] != 0):
        continue
    CASES.append(("SGD", dict(lr=2.0**-5, **kw)))
for kw in combos(lr_decay=[0.0, 0.01], initial_accumulator_value=[0.0, 0.1], weight_decay=[0.0, WD]):
    CASES.append(("Adagrad", dict(lr=2.0**-5, **kw)))
for kw in combos(centered=[False, True], momentum=[0.0, 0.9], weight_decay=[0.0, WD]):
    CASES.append(("RMSprop", dict(lr=LR if kw["momentum"] == 0 else LR / 4, **kw)))
for kw in combos(rho=[0.9, 0.95], weight_decay=[0.0, WD]):
    CASES.append(("Adadelta", dict(lr=1.0, **kw)))
for kw in combos(amsgrad=[False, True], weight_decay=[0.0, WD]):
    CASES.append(("Adam", dict(lr=LR, **kw)))
for kw in combos(amsgrad=[False, True], weight_decay=[2.0**-7, WD]):
    CASES.append(("AdamW", dict(lr=LR, **kw)))
for kw in combos(weight_decay=[0.0, WD], decoupled_weight_decay=[False, True]):
    if kw["decoupled_weight_decay"] and kw["weight_decay"] == 0:
        continue
    CASES.append(("NAdam", dict(lr=LR, **kw)))
BASE = CASES
CASES = [(n, dict(kw, maximize=m)) for n, kw in BASE for m in (False, True)]

#: run by default in float64: every flag combination once, maximize on every other
#: one; the other half is marked slow (the whole grid: -m slow or no -m at all)
_DEFAULT64 = {2 * i + (i % 2) for i in range(len(BASE))}
#: run by default in float32: one case per method (with and without maximize)
_DEFAULT32 = set()
_seen = {}
for _i, (_n, _kw) in enumerate(CASES):
    if _seen.get((_n, _kw["maximize"])) is None:
        _seen[(_n, _kw["maximize"])] = _i
        _DEFAULT32.add(_i)


def _id(case):
    name, kw = case
    return (
        name + "-" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in kw.items() if k != "lr")
    )


def run_pair(name, kw, dtype, impl="eager", steps=STEPS, torch_kw=None):
    X, Y = make_data(dtype)
    sign = -1.0 if kw.get("maximize") else 1.0
    a, b = make_model(dtype=dtype), make_model(dtype=dtype)
    oa = getattr(torch.optim, name)(a.parameters(), **(torch_kw or dict(foreach=False)), **kw)
    ob = getattr(ro, name)(b.parameters(), impl=impl, **kw)
    for s in range(steps):
        for m, o in ((a, oa), (b, ob)):
            x, y = X[(s % 8) * 64 : (s % 8) * 64 + 64], Y[(s % 8) * 64 : (s % 8) * 64 + 64]
            o.zero_grad()
            (sign * ((m(x) - y) ** 2).mean()).backward()
            o.step()
    pa, pb = flat_params(a), flat_params(b)
    rel2 = ((pa - pb).norm() / pa.norm()).item()
    relmax = ((pa - pb).abs().max() / pa.abs().max()).item()
    moved = (pa - flat_params(make_model(dtype=dtype))).abs().max().item()
    return rel2, relmax, moved


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps scalar state (NAdam's mu_product) in this dtype
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=() if i in _DEFAULT64 else pytest.mark.slow) for i, c in enumerate(CASES)],
    ids=[_id(c) for c in CASES],
)
def test_float64_matches_torch(case, float64_default):
    name, kw = case
    rel2, relmax, moved = run_pair(name, kw, torch.float64)
    assert relmax <= 1e-12 and rel2 <= 1e-12, f"{name}: relative difference {rel2:.2e} (max-norm {relmax:.2e})"
    assert moved > 1e-2  # the run must have moved


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, marks=() if i in _DEFAULT32 else pytest.mark.slow) for i, c in enumerate(CASES)],
    ids=[_id(c) for c in CASES],
)
def test_float32_matches_torch(case):
    name, kw = case
    rel2, relmax, moved = run_pair(name, kw, torch.float32)
    # torch rounds θ twice per step in AdamW (mul_ then addcdiv_) and NAdam (two addcdiv_); those
    # rules record θ_{t+1} in the same order (Record.theta), and SGD uses torch's fused add(alpha=)
    # through ops.add_scaled, so every case is held to 1e-6
    tol = 1e-6
    assert rel2 <= tol, f"{name}: relative difference {rel2:.2e} (max-norm {relmax:.2e})"
    assert moved > 1e-2


@pytest.mark.parametrize(
    "name,kw",
    [
        ("Adam", dict(lr=LR, weight_decay=WD)),
        ("AdamW", dict(lr=LR, weight_decay=2.0**-7)),
        ("SGD", dict(lr=2.0**-5, momentum=0.9)),
        ("Adagrad", dict(lr=2.0**-5)),
    ],
)
def test_torch_implementations_agree(name, kw):
    """ravine against torch's foreach and fused implementations (float32): the same
    tolerance as against the single-tensor one."""
    for torch_kw in (dict(foreach=True), dict(fused=True)):
        rel2, relmax, _ = run_pair(name, kw, torch.float32, steps=200, torch_kw=torch_kw)
        assert rel2 <= 1e-6, f"{name} {torch_kw}: {rel2:.2e} (max-norm {relmax:.2e})"
