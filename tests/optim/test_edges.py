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
where torch has NaN, never one where torch has none). Finite entries agree to

* float64: relative 1e-12 (of the value, or of 1 for θ): the two sides perform the same
  operations and differ only where torch's CPU kernels round once where ravine's ops round
  twice (lerp vs β·s + (1−β)·g, a fused multiply-add in addcmul), a few ulps per step;
* float32: relative 2e-6: the same, with ulp = 6e-8 (the ordinary parity tests,
  tests/optim/test_parity.py, hold 500 steps to 1e-6).

The faces: the eager step for every case (fast), the compiled step (``torch.compile``) for
the two rules whose order was fixed, at one gradient each side of each overflow threshold.
``tests/rules/test_edges_numpy.py`` checks the NumPy face (``Rule.apply``) against these.
"""

import math

import pytest

torch = pytest.importorskip("torch")

import ravine.optim as ro  # noqa: E402

EDGES32 = [1e15, 1e19, 2e19, 1e20, 1e30, 3e38]
EDGES64 = [1e150, 1e154, 1e155, 1e200, 1e300]
STEPS = 50  # the edge step, then 49 ordinary ones
TOL = {torch.float32: 2e-6, torch.float64: 1e-12}

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


def _run(opt_cls, kw, dtype, G, **extra):
    """θ and the state after the first step and after the last: two lists of dicts."""
    p = torch.tensor(THETA0, dtype=dtype, requires_grad=True)
    a = torch.tensor(A, dtype=dtype)
    opt = opt_cls([p], **kw, **extra)
    sign = -1.0 if kw.get("maximize") else 1.0
    snaps = []
    for t in range(STEPS):
        if t == 0:
            p.grad = G * torch.tensor(SIGNS, dtype=dtype)
        else:
            p.grad = sign * a * p.detach()
        opt.step()
        if t in (0, STEPS - 1):
            snap = {"theta": p.detach().clone()}
            for key, v in opt.state[p].items():
                if isinstance(v, torch.Tensor) and key != "step":
                    snap[key] = v.detach().clone().reshape(-1).to(dtype)
            snaps.append(snap)
    return snaps


def _compare(ours, theirs, dtype, where):
    """Same non-finite pattern; finite entries within TOL relative (θ: of max(|θ|, 1))."""
    worst = 0.0
    for snap_o, snap_t, when in zip(ours, theirs, ("step 1", f"step {STEPS}")):
        assert set(snap_t) <= set(snap_o), f"{where}: state keys {sorted(snap_o)} vs torch {sorted(snap_t)}"
        for key, ref in snap_t.items():
            got = snap_o[key].expand_as(ref) if snap_o[key].numel() == 1 else snap_o[key]
            msg = f"{where}, {when}, {key}: ravine {got.tolist()} vs torch {ref.tolist()}"
            assert torch.equal(got.isnan(), ref.isnan()), msg
            assert torch.equal(got.isinf() & (got > 0), ref.isinf() & (ref > 0)), msg
            assert torch.equal(got.isinf() & (got < 0), ref.isinf() & (ref < 0)), msg
            fin = ref.isfinite()
            scale = ref[fin].abs().clamp(min=1.0) if key == "theta" else ref[fin].abs()
            err = ((got[fin] - ref[fin]).abs() / scale.clamp(min=torch.finfo(dtype).tiny)).max().item() if fin.any() else 0.0
            worst = max(worst, err)
            assert err <= TOL[dtype], f"{msg}: relative difference {err:.1e}"
    return worst


CASES = [(v, torch.float32, G) for v in VARIANTS for G in EDGES32] + [
    (v, torch.float64, G) for v in VARIANTS for G in EDGES64
]


@pytest.fixture
def default_dtype():
    """torch keeps NAdam's mu_product in the default dtype: float64 runs set it to float64."""
    old = torch.get_default_dtype()
    yield torch.set_default_dtype
    torch.set_default_dtype(old)


@pytest.mark.parametrize(
    "variant,dtype,G",
    CASES,
    ids=[f"{_id(v)}-{str(dt)[6:]}-{G:g}" for v, dt, G in CASES],
)
def test_edge_gradient_same_as_torch(variant, dtype, G, default_dtype):
    name, kw = variant
    default_dtype(dtype)
    theirs = _run(getattr(torch.optim, name), kw, dtype, G, foreach=False)
    ours = _run(getattr(ro, name), kw, dtype, G, impl="eager")
    _compare(ours, theirs, dtype, f"{name}({kw}) {dtype} G={G:g}")


COMPILED = [
    (("Adam", dict()), torch.float32, 1e19),
    (("Adam", dict(amsgrad=True)), torch.float32, 2e19),
    (("AdamW", dict()), torch.float64, 1e155),
    (("RMSprop", dict(centered=True, momentum=0.9)), torch.float32, 1e20),
    (("RMSprop", dict(centered=True, momentum=0.9)), torch.float32, 1e30),
    (("RMSprop", dict(centered=True, momentum=0.9)), torch.float64, 1e200),
]


@pytest.mark.parametrize("variant,dtype,G", COMPILED, ids=[f"{_id(v)}-{str(dt)[6:]}-{G:g}" for v, dt, G in COMPILED])
def test_edge_gradient_compiled_same_as_torch(variant, dtype, G, default_dtype):
    name, kw = variant
    default_dtype(dtype)
    theirs = _run(getattr(torch.optim, name), kw, dtype, G, foreach=False)
    ours = _run(getattr(ro, name), kw, dtype, G, impl="compiled")
    _compare(ours, theirs, dtype, f"{name}({kw}) compiled {dtype} G={G:g}")


def test_the_edges_are_edges():
    """The gradients straddle the thresholds the issue found: torch's Adam still moves by lr
    at the first step where v/(1−β₂) overflows, and stops where v itself does."""
    for dtype, moving, stuck in ((torch.float32, 2e19, 1e30), (torch.float64, 1e155, 1e200)):
        big = torch.finfo(dtype).max
        assert 1e-3 * moving * moving / 1e-3 > big > 1e-3 * moving * moving  # v finite, v/(1−β₂) not
        assert math.isinf(float(torch.tensor(1e-3 * stuck, dtype=dtype) * stuck))
        theirs = _run(torch.optim.Adam, {}, dtype, moving, foreach=False)
        assert abs(theirs[0]["theta"][0].item() - (1.0 - 1e-3)) < 1e-6
