"""ravine.optim.X as a one-word swap for torch.optim.X, in the situations of a real training
script: every test runs the same loop through torch.optim.X (foreach=False) and ravine.optim.X
and compares the parameters and every state key torch keeps (``step`` included) after every step.

Covered: frozen and unused parameters, 0-dim parameters, gradients that appear on some steps only,
``zero_grad()`` with torch's default ``set_to_none=True``, state read and assigned during training,
lr tensors (0-d, 1-element, written in place, replaced), ``differentiable=True``, complex
parameters, sparse gradients (SGD, Adagrad), ``model.double()`` / ``p.data = …`` after the
optimizer was built, ``add_param_group`` mid-training, ``load_state_dict`` from torch and back,
mismatched and foreign state, ``copy.deepcopy`` and pickle, two optimizers over one parameter,
``nonfinite`` atomic across groups, and the configurations torch runs that ravine used to refuse.
"""

import copy
import pickle
from collections import defaultdict

import pytest

torch = pytest.importorskip("torch")

import ravine.optim as ro  # noqa: E402

#: the 7 optimizers torch shares with ravine, each with options that use its state
SHARED = {
    "SGD": dict(lr=2.0**-5, momentum=0.9, weight_decay=2.0**-6),
    "Adagrad": dict(lr=2.0**-5, lr_decay=0.01),
    "RMSprop": dict(lr=2.0**-10, centered=True, momentum=0.5),
    "Adadelta": dict(lr=1.0, weight_decay=2.0**-6),
    "Adam": dict(lr=2.0**-10, amsgrad=True),
    "AdamW": dict(lr=2.0**-10),
    "NAdam": dict(lr=2.0**-10),
}
NAMES = list(SHARED)
DTYPES = [torch.float64, torch.float32]
IMPLS = ["eager", "compiled"]
TOL = {torch.float64: 1e-10, torch.float32: 2e-5, torch.complex128: 1e-10, torch.complex64: 2e-5}


@pytest.fixture(autouse=True)
def _float64_scalars():
    """torch keeps step counts, NAdam's μ-product and Tensor-lr arithmetic in the default
    dtype: float64 here, so that float64 runs compare at float64 round-off."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _tol(t):
    return TOL.get(t.dtype, 1e-10)


def assert_close(a, b, what, tol=None):
    a, b = torch.as_tensor(a).detach(), torch.as_tensor(b).detach()
    if b.is_sparse:
        b = b.to_dense()
    assert a.shape == b.shape, f"{what}: shape {tuple(a.shape)} vs torch {tuple(b.shape)}"
    tol = tol or max(_tol(a), _tol(b))
    a, b = (
        a.to(torch.complex128 if b.is_complex() else torch.float64),
        b.to(a.dtype if b.is_complex() else torch.float64),
    )
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    err = float((a - b).abs().max()) if b.numel() else 0.0
    assert err <= tol * scale, f"{what}: max |ravine - torch| = {err:.3g}"


def compare(rparams, tparams, ropt, topt, what):
    for i, (pr, pt) in enumerate(zip(rparams, tparams)):
        assert_close(pr, pt, f"{what}: parameter {i}")
        st_t = topt.state.get(pt, {})
        st_r = ropt.state.get(pr, {})
        for k, v in st_t.items():
            if v is None:
                assert st_r.get(k) is None, f"{what}: state[{k!r}] of parameter {i} is None in torch"
                continue
            assert k in st_r, f"{what}: parameter {i} lacks state key {k!r} (has {sorted(st_r)})"
            assert_close(st_r[k], v, f"{what}: state[{k!r}] of parameter {i}")


def twins(tensors, dtype=None, requires_grad=None):
    """Two identical lists of parameters."""
    out = []
    for _ in range(2):
        ps = []
        for t in tensors:
            t = t.clone() if dtype is None else t.clone().to(dtype)
            p = torch.nn.Parameter(t, requires_grad=True if requires_grad is None else requires_grad)
            ps.append(p)
        out.append(ps)
    return out


def base_tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [
        torch.randn(4, 3, generator=g, dtype=torch.float64),
        torch.randn(3, generator=g, dtype=torch.float64),
        torch.tensor(0.7, dtype=torch.float64),  # 0-dim
        torch.randn(2, generator=g, dtype=torch.float64),  # used on some steps only
    ]


def loss_of(ps, s, x):
    w, b, c, u = ps[:4]
    loss = (torch.tanh(x @ w + b) ** 2).sum() * (1 + c**2)
    if s % 3 == 1:  # an unused branch on the other steps
        loss = loss + ((u - 0.3) ** 2).sum()
    return loss


def data(s, dtype):
    g = torch.Generator().manual_seed(100 + s)
    return torch.randn(5, 4, generator=g, dtype=torch.float64).to(dtype)


# ---------------------------------------------------------------- the training-script loop


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("name", NAMES)
def test_training_loop_with_frozen_unused_and_0dim_parameters(name, dtype, impl):
    """zero_grad() (set_to_none=True), a frozen parameter, one used on every third step only,
    a 0-dim one; the first steps have every gradient (the flat, compiled-or-eager path)."""
    rp, tp = twins(base_tensors(), dtype)
    rf, tf = twins([torch.ones(2, dtype=torch.float64)], dtype, requires_grad=False)  # frozen
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp + rf, **kw, impl=impl)
    topt = getattr(torch.optim, name)(tp + tf, **kw, foreach=False)
    for s in range(9):
        x = data(s, dtype)
        for ps, opt in ((rp, ropt), (tp, topt)):
            opt.zero_grad()
            loss = loss_of(ps, s if s >= 2 else 1, x)  # steps 0 and 1: every parameter has a gradient
            loss.backward()
            opt.step()
        compare(rp + rf, tp + tf, ropt, topt, f"{name} {dtype} {impl} step {s}")
        # state is live during training, not only in state_dict()
        if tp[0] in topt.state and "step" in topt.state[tp[0]]:
            assert float(ropt.state[rp[0]]["step"]) == float(topt.state[tp[0]]["step"])


@pytest.mark.parametrize("name", NAMES)
def test_set_to_none_false_steps_every_parameter_that_had_a_gradient(name):
    rp, tp = twins(base_tensors())
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp, **kw, impl="eager")
    topt = getattr(torch.optim, name)(tp, **kw, foreach=False)
    for s in range(6):
        x = data(s, torch.float64)
        for ps, opt in ((rp, ropt), (tp, topt)):
            opt.zero_grad(set_to_none=False)
            loss_of(ps, s, x).backward()
            opt.step()
        compare(rp, tp, ropt, topt, f"{name} step {s}")


@pytest.mark.parametrize("name", NAMES)
def test_model_zero_grad_and_assigned_gradients(name):
    """model.zero_grad() sets p.grad = None; assigned gradients on some parameters only."""
    rp, tp = twins(base_tensors())
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp, **kw, impl="eager")
    topt = getattr(torch.optim, name)(tp, **kw, foreach=False)
    g = torch.Generator().manual_seed(5)
    for s in range(6):
        grads = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in rp]
        for ps, opt in ((rp, ropt), (tp, topt)):
            for p in ps:
                p.grad = None
            for i, (p, gr) in enumerate(zip(ps, grads)):
                if (s + i) % 2 == 0 or s < 2:
                    p.grad = gr.clone()
            opt.step()
        compare(rp, tp, ropt, topt, f"{name} step {s}")


# ---------------------------------------------------------------- state read and assigned


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", NAMES)
def test_state_assigned_during_training(name, impl):
    rp, tp = twins(base_tensors()[:2])
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp, **kw, impl=impl)
    topt = getattr(torch.optim, name)(tp, **kw, foreach=False)

    def run(steps, start):
        for s in range(start, start + steps):
            x = data(s, torch.float64)
            for ps, opt in ((rp, ropt), (tp, topt)):
                opt.zero_grad()
                loss_of(ps + [torch.tensor(0.0), torch.zeros(2)], 1, x).backward()
                opt.step()
            compare(rp, tp, ropt, topt, f"{name} step {s}")

    run(3, 0)
    for pr, pt in zip(rp, tp):
        for k, v in list(topt.state[pt].items()):
            if not isinstance(v, torch.Tensor):
                continue
            new = v * 0.5 + 0.01 if k != "step" else v + 4  # assigned, not written in place
            topt.state[pt][k] = new.clone()
            ropt.state[pr][k] = new.clone()
    run(3, 3)
    # written in place
    for pr, pt in zip(rp, tp):
        for k, v in topt.state[pt].items():
            if isinstance(v, torch.Tensor) and k != "step":
                v.mul_(0.75)
                ropt.state[pr][k].mul_(0.75)
    run(2, 6)
    if name == "Adagrad":  # torch's Adagrad builds its state in __init__ and fails without it
        return
    topt.state = defaultdict(dict)
    ropt.state = defaultdict(dict)
    run(3, 8)
    del topt.state[tp[0]]
    del ropt.state[rp[0]]
    run(2, 11)


# ---------------------------------------------------------------- lr tensors


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", NAMES)
def test_lr_tensors(name, impl):
    kw = dict(SHARED[name])
    lr0 = kw.pop("lr")
    for make in (lambda: torch.tensor(lr0), lambda: torch.tensor([lr0])):
        rp, tp = twins(base_tensors()[:2])
        rlr, tlr = make(), make()
        ropt = getattr(ro, name)(rp, lr=rlr, **kw, impl=impl)
        topt = getattr(torch.optim, name)(tp, lr=tlr, **kw, foreach=False)
        for s in range(8):
            if s == 3:  # written in place
                rlr.fill_(lr0 / 2)
                tlr.fill_(lr0 / 2)
            if s == 5:  # replaced
                ropt.param_groups[0]["lr"] = make() * 2
                topt.param_groups[0]["lr"] = make() * 2
            x = data(s, torch.float64)
            for ps, opt in ((rp, ropt), (tp, topt)):
                opt.zero_grad()
                loss_of(ps + [torch.tensor(0.0), torch.zeros(2)], 1, x).backward()
                opt.step()
            compare(rp, tp, ropt, topt, f"{name} lr={make()} step {s}")


def test_lr_tensor_with_more_than_one_element_is_refused_as_torch_does():
    p = torch.nn.Parameter(torch.ones(2))
    with pytest.raises(ValueError, match="lr"):
        torch.optim.Adam([p], lr=torch.tensor([1e-3, 1e-3]))
    with pytest.raises(ValueError, match="lr must be 1-element"):
        ro.Adam([p], lr=torch.tensor([1e-3, 1e-3]))


# ---------------------------------------------------------------- differentiable=True


#: torch's differentiable step writes its state in place, which autograd refuses over several
#: steps with amsgrad (Adam) or centered (RMSprop): those are tested against torch for one step
DIFF = dict(SHARED, RMSprop=dict(lr=2.0**-10, momentum=0.5), Adam=dict(lr=2.0**-10, weight_decay=2.0**-6))


@pytest.mark.parametrize(
    "name,kw,steps",
    [(n, DIFF[n], 3) for n in NAMES] + [("Adam", SHARED["Adam"], 1), ("RMSprop", SHARED["RMSprop"], 1)],
)
def test_differentiable_gradients_through_steps_match_torch(name, kw, steps):
    g0 = torch.Generator().manual_seed(3)
    p0 = torch.randn(5, generator=g0, dtype=torch.float64)
    grad0 = torch.randn(5, generator=g0, dtype=torch.float64)
    results = []
    for mod in (torch.optim, ro):
        p = p0.clone().requires_grad_(True)
        gr = grad0.clone().requires_grad_(True)
        q = p.clone()  # a non-leaf parameter, as torch's own differentiable tests use
        extra = dict(foreach=False) if mod is torch.optim else dict(impl="eager")
        opt = getattr(mod, name)([q], **kw, differentiable=True, **extra)
        for k in range(steps):
            q.grad = gr * (1.0 + 0.5 * k) + p * 0.1
            opt.step()
        out = (q**2).sum()
        grads = torch.autograd.grad(out, (p, gr))
        results.append((q.detach().clone(), grads))
    (qt, gt), (qr, gr_) = results
    assert_close(qr, qt, f"{name} parameter")
    for a, b, what in zip(gr_, gt, ("d/dp0", "d/dgrad")):
        assert_close(a, b, f"{name} {what}")


# ---------------------------------------------------------------- complex parameters


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64], ids=["c128", "c64"])
@pytest.mark.parametrize("name", NAMES)
def test_complex_parameters(name, dtype, impl):
    g = torch.Generator().manual_seed(2)
    t = [torch.randn(3, 2, generator=g, dtype=torch.complex128), torch.randn((), generator=g, dtype=torch.complex128)]
    rp, tp = twins(t, dtype)
    real = [torch.randn(4, generator=g, dtype=torch.float64).to(dtype.to_real())]
    rr, tr = twins(real)
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp + rr, **kw, impl=impl)
    topt = getattr(torch.optim, name)(tp + tr, **kw, foreach=False)
    for s in range(6):
        gg = torch.Generator().manual_seed(50 + s)
        z = torch.randn(3, 2, generator=gg, dtype=torch.complex128).to(dtype)
        for ps, opt in ((rp + rr, ropt), (tp + tr, topt)):
            opt.zero_grad()
            loss = (ps[0] * z).abs().pow(2).sum() + (ps[1] * ps[1].conj()).real * 0.5 + (ps[2] ** 2).sum()
            loss.backward()
            opt.step()
        compare(rp + rr, tp + tr, ropt, topt, f"{name} {dtype} {impl} step {s}")


# ---------------------------------------------------------------- sparse gradients


@pytest.mark.parametrize(
    "name,kw",
    [
        ("SGD", dict(lr=0.1)),
        ("SGD", dict(lr=0.1, momentum=0.9)),
        ("Adagrad", dict(lr=0.1)),
        ("Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1)),
    ],
)
def test_sparse_gradients_sgd_adagrad(name, kw):
    torch.manual_seed(0)
    embs = []
    for _ in range(2):
        torch.manual_seed(0)
        embs.append(torch.nn.Embedding(10, 3, sparse=True, dtype=torch.float64))
    re, te = embs
    ropt = getattr(ro, name)(re.parameters(), **kw, impl="eager")
    topt = getattr(torch.optim, name)(te.parameters(), **kw)
    for s in range(6):
        idx = torch.tensor([s % 10, (3 * s + 1) % 10, s % 10])
        for emb, opt in ((re, ropt), (te, topt)):
            opt.zero_grad()
            (emb(idx) ** 2).sum().backward()
            assert emb.weight.grad.is_sparse
            opt.step()
        compare(list(re.parameters()), list(te.parameters()), ropt, topt, f"{name} step {s}")


@pytest.mark.parametrize("name", ["RMSprop", "Adadelta", "Adam", "AdamW", "NAdam"])
def test_sparse_gradients_refused_where_torch_refuses(name):
    for mod in (torch.optim, ro):
        emb = torch.nn.Embedding(10, 3, sparse=True)
        opt = getattr(mod, name)(emb.parameters())
        emb(torch.tensor([1, 2])).sum().backward()
        with pytest.raises(RuntimeError, match="sparse"):
            opt.step()


# ---------------------------------------------------------------- parameters moved after construction


@pytest.mark.parametrize("name", NAMES)
def test_model_double_after_the_optimizer_was_built(name):
    """torch's optimizers hold the Parameter objects, so model.double() before the first step
    (no state yet) works; so it does here."""
    torch.manual_seed(0)
    models = [torch.nn.Linear(4, 2, dtype=torch.float32) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    rm, tm = models
    kw = SHARED[name]
    ropt = getattr(ro, name)(rm.parameters(), **kw, impl="eager")
    topt = getattr(torch.optim, name)(tm.parameters(), **kw, foreach=False)
    rm.double()
    tm.double()
    for s in range(5):
        x = data(s, torch.float64)
        for m, opt in ((rm, ropt), (tm, topt)):
            opt.zero_grad()
            (m(x) ** 2).sum().backward()
            opt.step()
        # torch's Adagrad made its state in __init__ and keeps it in float32; ravine casts it to
        # the parameters' new dtype, as torch's load_state_dict does
        tol = 1e-6 if name == "Adagrad" else None
        for pr, pt in zip(rm.parameters(), tm.parameters()):
            assert_close(pr, pt, f"{name} step {s}", tol)
        assert rm.weight.dtype == torch.float64


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", NAMES)
def test_p_data_reassigned_during_training(name, impl):
    rp, tp = twins(base_tensors()[:2])
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp, **kw, impl=impl)
    topt = getattr(torch.optim, name)(tp, **kw, foreach=False)
    for s in range(6):
        if s == 3:
            for pr, pt in zip(rp, tp):
                pr.data = pr.data.clone() * 0.9
                pt.data = pt.data.clone() * 0.9
        x = data(s, torch.float64)
        for ps, opt in ((rp, ropt), (tp, topt)):
            opt.zero_grad()
            loss_of(ps + [torch.tensor(0.0), torch.zeros(2)], 1, x).backward()
            opt.step()
        compare(rp, tp, ropt, topt, f"{name} step {s}")


@pytest.mark.parametrize("name", NAMES)
def test_two_optimizers_over_one_parameter(name):
    rp, tp = twins(base_tensors()[:2])
    kw = SHARED[name]
    r1 = getattr(ro, name)(rp, **kw, impl="eager")
    r2 = getattr(ro, name)(rp, **kw, impl="eager")
    t1 = getattr(torch.optim, name)(tp, **kw, foreach=False)
    t2 = getattr(torch.optim, name)(tp, **kw, foreach=False)
    for s in range(6):
        x = data(s, torch.float64)
        for ps, opts in ((rp, (r1, r2)), (tp, (t1, t2))):
            opt = opts[s % 2 if s > 2 else 0]
            opt.zero_grad()
            loss_of(ps + [torch.tensor(0.0), torch.zeros(2)], 1, x).backward()
            opt.step()
        compare(rp, tp, r1, t1, f"{name} step {s} first optimizer")
        compare(rp, tp, r2, t2, f"{name} step {s} second optimizer")


@pytest.mark.parametrize("name", NAMES)
def test_add_param_group_mid_training(name):
    rp, tp = twins(base_tensors())
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp[:2], **kw, impl="eager")
    topt = getattr(torch.optim, name)(tp[:2], **kw, foreach=False)
    for s in range(7):
        if s == 3:
            ropt.add_param_group({"params": rp[2:], "lr": kw["lr"] / 2})
            topt.add_param_group({"params": tp[2:], "lr": kw["lr"] / 2})
        x = data(s, torch.float64)
        for ps, opt in ((rp, ropt), (tp, topt)):
            opt.zero_grad()
            loss_of(ps, 1, x).backward()
            opt.step()
        compare(rp, tp, ropt, topt, f"{name} step {s}")


# ---------------------------------------------------------------- state dicts


@pytest.mark.parametrize("direction", ["torch->ravine", "ravine->torch"])
@pytest.mark.parametrize("name", NAMES)
def test_load_state_dict_from_torch_and_back(name, direction):
    kw = SHARED[name]
    src_p, dst_p = twins(base_tensors())
    ref_p = [torch.nn.Parameter(p.detach().clone()) for p in src_p]
    src_mod, dst_mod = (torch.optim, ro) if direction == "torch->ravine" else (ro, torch.optim)

    def make(mod, ps):
        return getattr(mod, name)(ps, **kw, **(dict(foreach=False) if mod is torch.optim else dict(impl="eager")))

    src = make(src_mod, src_p)
    ref = make(src_mod, ref_p)

    def run(pairs, steps, start):
        for s in range(start, start + steps):
            x = data(s, torch.float64)
            for ps, opt in pairs:
                opt.zero_grad()
                loss_of(ps, s, x).backward()
                opt.step()

    run([(src_p, src), (ref_p, ref)], 4, 0)
    dst = make(dst_mod, dst_p)
    with torch.no_grad():
        for a, b in zip(dst_p, src_p):
            a.copy_(b)
    dst.load_state_dict(src.state_dict())
    tor, rav = (ref, dst) if direction == "torch->ravine" else (dst, ref)
    tps, rps = (ref_p, dst_p) if direction == "torch->ravine" else (dst_p, ref_p)
    compare(rps, tps, rav, tor, f"{name} {direction} after loading")
    for s in range(4, 8):
        run([(dst_p, dst), (ref_p, ref)], 1, s)
        compare(rps, tps, rav, tor, f"{name} {direction} step {s}")


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_a_copy(name):
    """Loading ravine's state dict into torch and stepping torch leaves ravine's state alone."""
    rp, tp = twins(base_tensors()[:2])
    ropt = getattr(ro, name)(rp, **SHARED[name], impl="eager")
    for p in rp:
        p.grad = torch.ones_like(p)
    ropt.step()
    before = {k: v.clone() for k, v in ropt.state[rp[0]].items()}
    topt = getattr(torch.optim, name)(tp, **SHARED[name], foreach=False)
    topt.load_state_dict(ropt.state_dict())
    for p in tp:
        p.grad = torch.ones_like(p)
    topt.step()
    for k, v in before.items():
        assert torch.equal(ropt.state[rp[0]][k], v), k


def test_wrongly_shaped_state_is_refused():
    p = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = ro.Adam([p], impl="eager")
    p.grad = torch.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = torch.zeros(1, dtype=torch.float64)  # broadcasts, but is wrong
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(3,\).*got \(1,\)"):
        ro.Adam([torch.nn.Parameter(torch.ones(3, dtype=torch.float64))]).load_state_dict(sd)
    # assigned during training
    opt.state[p]["exp_avg_sq"] = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ValueError, match="exp_avg_sq"):
        opt.step()


@pytest.mark.parametrize("src,dst", [("Adam", "RMSprop"), ("SGD", "Adam"), ("RMSprop", "Adadelta"), ("Adam", "SGD")])
def test_another_optimizers_state_is_refused(src, dst):
    p = torch.nn.Parameter(torch.ones(3))
    opt = getattr(torch.optim, src)([p], **({"momentum": 0.9} if src == "SGD" else {}))
    p.grad = torch.ones_like(p)
    opt.step()
    with pytest.raises(ValueError, match="another optimizer"):
        getattr(ro, dst)([torch.nn.Parameter(torch.ones(3))]).load_state_dict(opt.state_dict())


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("name", NAMES)
def test_deepcopy_and_pickle(name, how):
    rp, tp = twins(base_tensors()[:2])
    kw = SHARED[name]
    ropt = getattr(ro, name)(rp, **kw, impl="eager")
    topt = getattr(torch.optim, name)(tp, **kw, foreach=False)
    g = torch.Generator().manual_seed(9)
    grads = [[torch.randn(p.shape, generator=g, dtype=p.dtype) for p in rp] for _ in range(6)]

    def run(ps, opt, steps):
        for s in steps:
            for p, gr in zip(ps, grads[s]):
                p.grad = gr.clone()
            opt.step()

    run(rp, ropt, range(3))
    run(tp, topt, range(3))
    dup = copy.deepcopy if how == "deepcopy" else (lambda o: pickle.loads(pickle.dumps(o)))
    rc, tc = dup(ropt), dup(topt)
    rcp = rc.param_groups[0]["params"]
    tcp = tc.param_groups[0]["params"]
    compare(rcp, tcp, rc, tc, f"{name} copy")
    run(rcp, rc, range(3, 6))
    run(tcp, tc, range(3, 6))
    compare(rcp, tcp, rc, tc, f"{name} copy stepped")
    compare(rp, tp, ropt, topt, f"{name} original untouched")


# ---------------------------------------------------------------- non-finite gradients, atomic


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("name", NAMES)
def test_nonfinite_raise_is_atomic_across_groups(name, impl):
    a = torch.nn.Parameter(torch.ones(3))
    b = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    opt = getattr(ro, name)([{"params": [a]}, {"params": [b]}], **SHARED[name], impl=impl, nonfinite="raise")
    a.grad, b.grad = torch.ones(3), torch.ones(2, dtype=torch.float64)
    opt.step()
    before = [a.detach().clone(), b.detach().clone()]
    states = [{k: v.clone() for k, v in opt.state[p].items()} for p in (a, b)]
    a.grad = torch.ones(3)
    b.grad = torch.tensor([1.0, float("nan")], dtype=torch.float64)
    with pytest.raises(ro.NonFiniteGradientError, match="nothing was changed"):
        opt.step()
    assert torch.equal(a.detach(), before[0]) and torch.equal(b.detach(), before[1])
    for p, st in zip((a, b), states):
        for k, v in st.items():
            assert torch.equal(opt.state[p][k], v), k
    # skip: the group with the bad gradient is left alone, the other steps
    opt.param_groups[1]["nonfinite"] = "skip"
    opt.param_groups[0]["nonfinite"] = "skip"
    opt.step()
    assert not torch.equal(a.detach(), before[0]) and torch.equal(b.detach(), before[1])
    assert opt.param_groups[1]["skipped"] == 1 and opt.param_groups[0]["skipped"] == 0
    assert float(opt.state[b]["step"]) == 1 and float(opt.state[a]["step"]) == 2


def test_nonfinite_check_is_exact_for_huge_finite_gradients():
    """The check is a sum (one read of g); a sum that overflows is settled by the exact test."""
    p = torch.nn.Parameter(torch.zeros(4))
    opt = ro.SGD([p], lr=1e-40, impl="eager")
    p.grad = torch.full((4,), 3e38)
    opt.step()  # finite: no error
    assert torch.isfinite(p).all()


# ---------------------------------------------------------------- configurations torch runs


@pytest.mark.parametrize(
    "name,kw",
    [
        ("SGD", dict(lr=0.01, momentum=1.0)),
        ("SGD", dict(lr=0.01, momentum=1.2, dampening=1.0)),
        ("SGD", dict(lr=0.01, momentum=0.5, dampening=1.5)),
        ("Adagrad", dict(lr=0.1, eps=0.0)),
        ("RMSprop", dict(lr=0.01, alpha=1.0, eps=0.1)),
        ("RMSprop", dict(lr=0.01, eps=0.0)),
        ("RMSprop", dict(lr=0.01, momentum=1.0)),
        ("Adadelta", dict(lr=1.0, rho=1.0, eps=1e-3)),
        ("Adadelta", dict(lr=1.0, eps=0.0)),
        ("Adam", dict(lr=0.01, eps=0.0)),
        ("AdamW", dict(lr=0.01, eps=0.0)),
        ("NAdam", dict(lr=0.01, eps=0.0)),
    ],
)
@pytest.mark.parametrize("impl", IMPLS)
def test_configurations_torch_runs_run(name, kw, impl):
    rp, tp = twins(base_tensors()[:2])
    ropt = getattr(ro, name)(rp, **kw, impl=impl)
    topt = getattr(torch.optim, name)(tp, **kw, foreach=False)
    for s in range(5):
        x = data(s, torch.float64)
        for ps, opt in ((rp, ropt), (tp, topt)):
            opt.zero_grad()
            loss_of(ps + [torch.tensor(0.0), torch.zeros(2)], 1, x).backward()
            opt.step()
        compare(rp, tp, ropt, topt, f"{name}({kw}) step {s}")


# ---------------------------------------------------------------- presets through the optim face


@pytest.mark.parametrize("impl", IMPLS)
def test_keras_sgd_under_an_lr_schedule_is_keras(impl):
    """Keras SGD keeps η inside the buffer (keras sgd.py L95-123: m = μm − η_t g, θ ← θ + m):
    under torch's LambdaLR ravine's convention="keras" follows it."""
    lrs = [0.05, 0.02, 0.08, 0.01, 0.03, 0.06]
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = ro.SGD([p], lr=1.0, momentum=0.9, convention="keras", impl=impl)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: lrs[t] if t < len(lrs) else lrs[-1])
    theta, m = torch.tensor([1.0, -2.0, 0.5]), torch.zeros(3)
    for lr in lrs:
        g = 2 * theta + torch.sin(theta)
        m = 0.9 * m - lr * g
        theta = theta + m
        p.grad = 2 * p.detach() + torch.sin(p.detach())
        opt.step()
        sched.step()
    assert_close(p, theta, "keras SGD under a schedule", 1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop", "Adadelta"])
def test_keras_preset_with_weight_decay_refuses(name):
    with pytest.raises(ValueError, match="Keras decays the weights decoupled"):
        getattr(ro, name)([torch.nn.Parameter(torch.ones(2))], weight_decay=0.1, convention="keras")
