"""ravine.optim against torch.optim at the edges of the float range (issue 17, item 6).

Every optimizer that ravine.optim shares with torch.optim takes one first gradient of
magnitude G — 1e15 … 3e38 in float32, 1e150 … 1e300 in float64, around where g², v/(1−β₂ᵗ)
or m² overflow — then 49 ordinary steps on a small quadratic. Overflow depends on the order
of the operations (torch's Adam divides √v by √(1−β₂ᵗ) where √(v/(1−β₂ᵗ)) overflows; torch's
centered RMSprop computes v − m² in one addcmul that keeps an infinite v infinite where
inf − inf is NaN), so these are the cases where a rule written in another order takes
another step — a step of 0 where torch takes lr, or NaN where torch stays finite.

What is compared, after the first step and after the 50th: the parameters, and every state
buffer torch keeps. Non-finite entries must be the same (inf where torch has inf, NaN
where torch has NaN, never one where torch has none). Finite entries agree within
TOL = 50 · ½ulp relative (θ: relative to max(|θ|, 1)), i.e. 3.0e-6 in float32 and 5.6e-15 in
float64: the two sides perform the same operations in the same order and differ only where
torch's CPU kernels round once where ravine's ops round twice (``lerp`` vs β·s + (1−β)·g, the
fused multiply-add inside ``addcmul``), at most about half an ulp per step. Measured (``-s``
prints each case): at most 1.2e-6 in float32 (exp_avg, grad_avg: the buffers torch updates with
lerp), 4.8e-16 in float64; SGD, Adagrad and Adadelta agree exactly.

The faces: the eager step for every case; the compiled step (``torch.compile``, one fused
kernel) for Adam with amsgrad (float32), AdamW (float64) and centered RMSprop with momentum
(both), at every gradient of their dtype; the NumPy face (``Rule.apply`` on float64 arrays,
what the trajectory runner calls) for every case in float64.
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ravine.optim as ro  # noqa: E402
import ravine.rules as rr  # noqa: E402

EDGES32 = [1e15, 1e19, 2e19, 1e20, 1e30, 3e38]
EDGES64 = [1e150, 1e154, 1e155, 1e200, 1e300]
STEPS = 50  # the edge step, then 49 ordinary ones
TOL = {dt: STEPS * torch.finfo(dt).eps / 2 for dt in (torch.float32, torch.float64)}

#: every optimizer ravine.optim shares with torch.optim, default hyperparameters, then each
#: variant that takes another code path (amsgrad, centered, momentum, nesterov, weight decay, maximize)
VARIANTS = [
    ("SGD", dict(lr=1e-3)),
    ("SGD", dict(lr=1e-3, momentum=0.9)),
    ("SGD", dict(lr=1e-3, momentum=0.9, dampening=0.5, weight_decay=0.01)),
    ("SGD", dict(lr=1e-3, momentum=0.9, nesterov=True, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True)),
    ("RMSprop", dict(momentum=0.9)),
    ("RMSprop", dict(centered=True, momentum=0.9)),
    ("RMSprop", dict(centered=True, momentum=0.9, weight_decay=0.01, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(weight_decay=0.01, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(amsgrad=True)),
    ("Adam", dict(weight_decay=0.01)),
    ("Adam", dict(weight_decay=0.01, decoupled_weight_decay=True, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(amsgrad=True, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(weight_decay=0.01)),
    ("NAdam", dict(weight_decay=0.01, decoupled_weight_decay=True, maximize=True)),
]

THETA0 = [1.0, -0.5, 0.25, 2.0]
SIGNS = [1.0, -1.0, 0.5, -0.25]  # the first gradient: G times these
A = [1.0, 0.3, 2.0, 0.05]  # then g = A ⊙ θ (the maximize cases climb -½ Σ a θ²: g = −A ⊙ θ)


def _id(v):
    name, kw = v
    return name + "".join(f"-{k}={x:g}" if isinstance(x, float) else f"-{k}={x}" for k, x in kw.items())


def _run(opt_cls, kw, dtype, edges, **extra):
    """θ and the state after the first step and after the last: two dicts of (len(edges), 4) tensors.

    Every rule here works coordinate by coordinate, so one parameter holds every edge: row i
    starts at THETA0 and takes edges[i]·SIGNS as its first gradient (one run per case, not one
    per gradient). NAdam's one shared number, mu_product, does not depend on the gradient."""
    p = torch.tensor([THETA0] * len(edges), dtype=dtype, requires_grad=True)
    a = torch.tensor(A, dtype=dtype)
    first = torch.tensor(edges, dtype=dtype)[:, None] * torch.tensor(SIGNS, dtype=dtype)
    opt = opt_cls([p], **kw, **extra)
    sign = -1.0 if kw.get("maximize") else 1.0
    snaps = []
    for t in range(STEPS):
        p.grad = first.clone() if t == 0 else sign * a * p.detach()
        opt.step()
        if t in (0, STEPS - 1):
            snap = {"theta": p.detach().clone()}
            for key, v in opt.state[p].items():
                if isinstance(v, torch.Tensor) and key != "step":
                    snap[key] = v.detach().clone().to(dtype).expand_as(p)
            snaps.append(snap)
    return snaps


def _compare(ours, theirs, dtype, edges, where):
    """Same non-finite pattern; finite entries within TOL relative (θ: of max(|θ|, 1)).
    Returns the largest relative difference; fails naming the gradients whose rows differ."""
    worst, bad = 0.0, []
    for snap_o, snap_t, when in zip(ours, theirs, ("step 1", f"step {STEPS}")):
        assert set(snap_t) <= set(snap_o), f"{where}: state keys {sorted(snap_o)} vs torch {sorted(snap_t)}"
        for key, ref in snap_t.items():
            got = snap_o[key]
            for i, G in enumerate(edges):
                x, y = got[i], ref[i]
                same_kind = (
                    torch.equal(x.isnan(), y.isnan())
                    and torch.equal(x == math.inf, y == math.inf)
                    and torch.equal(x == -math.inf, y == -math.inf)
                )
                fin = y.isfinite() & x.isfinite()
                scale = y[fin].abs().clamp(min=1.0 if key == "theta" else torch.finfo(dtype).tiny)
                err = ((x[fin] - y[fin]).abs() / scale).max().item() if fin.any() else 0.0
                worst = max(worst, err)
                if not same_kind or err > TOL[dtype]:
                    bad.append(f"G={G:g} {when} {key}: ravine {x.tolist()} torch {y.tolist()} (rel {err:.1e})")
    assert not bad, f"{where}: {len(bad)} differ from torch:\n  " + "\n  ".join(bad)
    return worst


CASES = [(v, torch.float32) for v in VARIANTS] + [(v, torch.float64) for v in VARIANTS]
EDGES = {torch.float32: EDGES32, torch.float64: EDGES64}


@pytest.fixture
def default_dtype():
    """torch keeps NAdam's mu_product in the default dtype: the float64 runs set it to float64."""
    old = torch.get_default_dtype()
    yield torch.set_default_dtype
    torch.set_default_dtype(old)


@pytest.mark.parametrize("variant,dtype", CASES, ids=[f"{_id(v)}-{str(dt)[6:]}" for v, dt in CASES])
def test_edge_gradients_same_as_torch(variant, dtype, default_dtype):
    name, kw = variant
    default_dtype(dtype)
    theirs = _run(getattr(torch.optim, name), kw, dtype, EDGES[dtype], foreach=False)
    ours = _run(getattr(ro, name), kw, dtype, EDGES[dtype], impl="eager")
    err = _compare(ours, theirs, dtype, EDGES[dtype], f"{name}({kw}) {dtype}")
    print(f"{name}({kw}) {dtype}: max relative difference {err:.2e}")


#: the compiled step (one fused kernel per variant): the two rules whose order matters most
COMPILED = [
    (("Adam", dict(amsgrad=True)), torch.float32),
    (("AdamW", dict()), torch.float64),
    (("RMSprop", dict(centered=True, momentum=0.9)), torch.float32),
    (("RMSprop", dict(centered=True, momentum=0.9)), torch.float64),
]


@pytest.mark.parametrize("variant,dtype", COMPILED, ids=[f"{_id(v)}-{str(dt)[6:]}" for v, dt in COMPILED])
def test_edge_gradients_compiled_same_as_torch(variant, dtype, default_dtype):
    name, kw = variant
    default_dtype(dtype)
    theirs = _run(getattr(torch.optim, name), kw, dtype, EDGES[dtype], foreach=False)
    ours = _run(getattr(ro, name), kw, dtype, EDGES[dtype], impl="compiled")
    err = _compare(ours, theirs, dtype, EDGES[dtype], f"{name}({kw}) compiled {dtype}")
    print(f"{name}({kw}) compiled {dtype}: max relative difference {err:.2e}")


def test_the_edges_are_edges():
    """The gradients straddle the thresholds the issue found: torch's Adam still moves by lr
    at the first step where v/(1−β₂) overflows, and stops where v itself does."""
    for dtype, moving, stuck in ((torch.float32, 2e19, 1e30), (torch.float64, 1e155, 1e200)):
        big = torch.finfo(dtype).max
        assert 1e-3 * moving * moving / 1e-3 > big > 1e-3 * moving * moving  # v finite, v/(1−β₂) not
        assert math.isinf(float(torch.tensor(1e-3 * stuck, dtype=dtype) * stuck))
        theirs = _run(torch.optim.Adam, {}, dtype, [moving, stuck], foreach=False)
        assert abs(theirs[0]["theta"][0, 0].item() - (1.0 - 1e-3)) < 1e-6  # moved by lr
        assert theirs[0]["theta"][1, 0].item() == 1.0  # v = inf: torch's step is 0


def _run_numpy(name, kw, edges):
    """The NumPy face: ``Rule.apply`` (convention "torch") on float64 arrays, the snapshots of
    :func:`_run` under torch's state names. ``maximize`` negates the gradient, as torch and the runner do."""
    rule = getattr(rr, name)(**{k: v for k, v in kw.items() if k != "maximize"})
    names = getattr(ro, name)._state_names
    sign = -1.0 if kw.get("maximize") else 1.0
    theta = np.array([THETA0] * len(edges))
    first = np.array(edges)[:, None] * np.array(SIGNS)
    st = rule.init(theta)
    snaps = []
    with np.errstate(all="ignore"):
        for t in range(STEPS):
            fed = first if t == 0 else sign * np.array(A) * theta  # p.grad in _run
            theta, st, _ = rule.apply(theta, sign * fed, st, nonfinite="ignore")
            if t in (0, STEPS - 1):
                snap = {"theta": torch.from_numpy(theta.copy())}
                for f, key in names.items():
                    v = getattr(st.state, f)
                    if np.ndim(v):
                        snap[key] = torch.from_numpy(np.broadcast_to(v, theta.shape).copy())
                snaps.append(snap)
    return snaps


@pytest.mark.parametrize("variant", VARIANTS, ids=[_id(v) for v in VARIANTS])
def test_edge_gradients_numpy_face_same_as_torch(variant, default_dtype):
    name, kw = variant
    default_dtype(torch.float64)
    theirs = _run(getattr(torch.optim, name), kw, torch.float64, EDGES64, foreach=False)
    ours = _run_numpy(name, kw, EDGES64)
    err = _compare(ours, theirs, torch.float64, EDGES64, f"rules.{name}({kw}).apply float64")
    print(f"rules.{name}({kw}).apply float64: max relative difference {err:.2e}")
