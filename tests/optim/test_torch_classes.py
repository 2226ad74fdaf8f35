"""``ravine.optim``'s RAdam, Adamax, ASGD and Rprop as drop-ins for ``torch.optim``'s, each
beside torch's own single-tensor step (``foreach=False``), float64:

* on the hard gradient stream of ``support/streams.py`` (zeros, sign flips, scales 1e±6),
  eagerly and compiled: θ and every state tensor, per coordinate within 1e-12 of the
  coordinate's largest value (Rprop: bit for bit);
* on a small MLP for 200 steps, with and without ``maximize``;
* state dicts: ravine's loads into torch.optim and torch's into ravine, and both continue
  as the uninterrupted run;
* NaN and ±inf gradients under ``nonfinite="ignore"``, as torch treats them.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from optim_helpers import flat_params, loss_step, make_data, make_model  # noqa: E402

import ravine.optim as ro  # noqa: E402
from support.streams import RTOL, Worst, hard_stream, theta0, torch_trajectory  # noqa: E402

CASES = [
    ("RAdam", dict(lr=1e-2)),
    ("RAdam", dict(lr=1e-2, weight_decay=0.1)),
    ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adamax", dict(lr=1e-2)),
    ("Adamax", dict(lr=1e-2, weight_decay=0.1)),
    ("ASGD", dict(lr=1e-2, lambd=1e-2, t0=50.0)),
    ("ASGD", dict(lr=1e-2, t0=50.0, weight_decay=0.1)),
    ("Rprop", dict(lr=1e-2)),
    ("Rprop", dict(lr=1e-2, etas=(0.3, 1.5), step_sizes=(1e-4, 5e-2))),
]
NAMES = ["RAdam", "Adamax", "ASGD", "Rprop"]
#: compiled: the last case of each optimizer (one inductor compilation each)
LAST = {name: kw for name, kw in CASES}
STREAM = [pytest.param(n, kw, "eager", id=f"{n}-{i}-eager") for i, (n, kw) in enumerate(CASES)] + [
    pytest.param(n, LAST[n], "compiled", id=f"{n}-compiled") for n in NAMES
]


def _tol(name):
    return 0.0 if name == "Rprop" else RTOL  # signs, products and clamps only: no rounding to differ


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps its scalar state (ASGD's η, μ) in this dtype
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("name,kw,impl", STREAM)
def test_hard_stream_like_torch(name, kw, impl, float64_default):
    grads, start = hard_stream(), theta0()
    ref = torch_trajectory(torch, getattr(torch.optim, name), kw, start, grads)
    p = torch.nn.Parameter(torch.tensor(start))
    opt = getattr(ro, name)([p], impl=impl, **kw)
    worst = {"theta": Worst(), **{k: Worst() for k in ref[0][1]}}
    for g, (ref_theta, ref_state) in zip(grads, ref):
        p.grad = torch.tensor(g)
        opt.step()
        worst["theta"].add(p.detach().numpy(), ref_theta)
        assert set(opt.state[p]) == {"step", *ref_state}  # torch's keys, nothing else
        for k, v in ref_state.items():
            got = opt.state[p][k].detach().numpy()
            assert got.shape == v.shape, (k, got.shape, v.shape)  # ASGD's η and μ: one number, as torch
            worst[k].add(got, v)
    found = {k: w.worst for k, w in worst.items()}
    assert max(found.values()) <= _tol(name), found
    assert float(opt.state[p]["step"]) == len(grads)


def _pair(name, kw, maximize, dtype=torch.float64):
    a, b = make_model(dtype=dtype), make_model(dtype=dtype)
    oa = getattr(torch.optim, name)(a.parameters(), foreach=False, maximize=maximize, **kw)
    ob = getattr(ro, name)(b.parameters(), impl="eager", maximize=maximize, **kw)
    return a, oa, b, ob


@pytest.mark.parametrize("maximize", [False, True], ids=["min", "max"])
@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_drop_in_on_a_model(name, kw, maximize, float64_default):
    if maximize and name == "ASGD":  # ascent by plain SGD runs away (loss 1e24 by step 200 at η = 1e-2):
        kw = dict(kw, lr=kw["lr"] / 10)  # the test would measure the blow-up, not the update
    X, Y = make_data(dtype=torch.float64)
    a, oa, b, ob = _pair(name, kw, maximize)
    start = flat_params(a).clone()
    worst = Worst()
    for s in range(200):
        loss_step(a, oa, X, Y, s)
        loss_step(b, ob, X, Y, s)
        worst.add(flat_params(b).numpy(), flat_params(a).numpy())
    assert worst.worst <= _tol(name), f"{name}: {worst.worst:.2e}"
    assert (flat_params(a) - start).abs().max() > 1e-3


@pytest.mark.parametrize("name,kw", [(n, LAST[n]) for n in NAMES], ids=NAMES)
def test_state_dicts_go_both_ways(name, kw, float64_default):
    """100 steps, then the state moves to the other library, then 100 more: equal to the
    uninterrupted run of the library it left (torch → ravine and ravine → torch)."""
    X, Y = make_data()
    for src, dst in ((torch.optim, ro), (ro, torch.optim)):
        ref, moved = make_model(), make_model()
        o_ref = getattr(src, name)(ref.parameters(), **kw)
        o_src = getattr(src, name)(moved.parameters(), **kw)
        for s in range(100):
            loss_step(ref, o_ref, X, Y, s)
            loss_step(moved, o_src, X, Y, s)
        o_dst = getattr(dst, name)(moved.parameters(), **kw)
        o_dst.load_state_dict(o_src.state_dict())
        sd = o_dst.state_dict()["state"][0]
        assert set(sd) == set(o_ref.state_dict()["state"][0]), name
        for s in range(100, 200):
            loss_step(ref, o_ref, X, Y, s)
            loss_step(moved, o_dst, X, Y, s)
        w = Worst().add(flat_params(moved).numpy(), flat_params(ref).numpy()).worst
        assert w <= _tol(name), f"{src.__name__} → {dst.__name__}: {w:.2e}"
        assert float(o_dst.state[next(iter(moved.parameters()))]["step"]) == 200


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "+inf", "-inf"])
@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_gradients_as_torch(name, bad, float64_default):
    """``nonfinite="ignore"`` (the default) steps as torch steps: NaN and inf spread where
    torch's spread them, and Rprop moves by ±Δ at inf and not at all at NaN (torch.sign(nan) = 0)."""
    grads, start = hard_stream(steps=12), theta0()
    grads[6][3] = bad
    ref = torch_trajectory(torch, getattr(torch.optim, name), LAST[name], start, grads)
    p = torch.nn.Parameter(torch.tensor(start))
    opt = getattr(ro, name)([p], impl="eager", **LAST[name])
    for g, (ref_theta, _) in zip(grads, ref):
        p.grad = torch.tensor(g)
        opt.step()
        np.testing.assert_allclose(p.detach().numpy(), ref_theta, rtol=1e-12, atol=0, equal_nan=True)
    assert np.isfinite(ref[-1][0]).all() == (name == "Rprop")
