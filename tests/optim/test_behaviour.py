"""ravine.optim behaviour: non-finite policy, argument validation, lr tensors,
schedulers (torch's and ravine's), param groups, zero_grad, closures, bfloat16,
and the compiled path (same rule code, no recompiles under schedulers)."""

import math
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch")

from optim_helpers import OPT_KW, flat_params, loss_step, make_data, make_model, train  # noqa: E402

import ravine.optim as ro  # noqa: E402
from ravine import schedules  # noqa: E402
from ravine.rules import NonFiniteGradientError  # noqa: E402

NAMES = list(ro.OPTIMIZERS)
TORCH_HAS = ["SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "NAdam"]


def _opt(name, model, **kw):
    return getattr(ro, name)(model.parameters(), **{**OPT_KW[name], "impl": "eager", **kw})


def test_import_ravine_does_not_import_torch():
    code = "import sys, ravine, ravine.rules; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- non-finite gradients


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_policies(name, bad):
    X, Y = make_data()
    m = make_model()
    opt = _opt(name, m)
    # the default is torch's: no check (the check costs a read of every gradient, perf/step.py)
    assert all(g["nonfinite"] == "ignore" for g in opt.param_groups)
    for g in opt.param_groups:
        g["nonfinite"] = "raise"
    train(m, opt, X, Y, 3)
    before = flat_params(m).clone()
    state_before = {k: v.clone() for k, v in opt.state_dict()["state"][1].items()}

    def poison():
        opt.zero_grad()
        ((m(X[:8]) - Y[:8]) ** 2).mean().backward()
        next(iter(m.parameters())).grad[0, 0] = bad

    poison()
    with pytest.raises(NonFiniteGradientError):
        opt.step()
    assert torch.equal(flat_params(m), before)  # nothing changed
    for k, v in opt.state_dict()["state"][1].items():
        assert torch.equal(torch.as_tensor(v), torch.as_tensor(state_before[k])), k

    for g in opt.param_groups:
        g["nonfinite"] = "skip"
    poison()
    opt.step()
    assert torch.equal(flat_params(m), before)
    assert opt.param_groups[0]["skipped"] == 1
    # the step count does not advance (opt.state is live; SGD's state dicts carry no step, as torch's)
    assert float(opt.state[next(iter(m.parameters()))]["step"]) == 3
    train(m, opt, X, Y, 1)  # and the next good step runs
    assert not torch.equal(flat_params(m), before)

    for g in opt.param_groups:
        g["nonfinite"] = "ignore"
    poison()
    opt.step()
    if name == "Rprop":  # sign-based, as torch.optim.Rprop: θ moves by ±Δ at inf, not at all at NaN
        assert torch.isfinite(flat_params(m)).all()  # (torch.sign(nan) = 0; tests/optim/test_torch_classes.py)
        return
    assert not torch.isfinite(flat_params(m)).all()


def test_nonfinite_skip_is_per_group():
    m = make_model()
    ps = list(m.parameters())
    opt = ro.Adam([{"params": ps[:2]}, {"params": ps[2:]}], lr=1e-2, nonfinite="skip", impl="eager")
    X, Y = make_data()
    loss_step(m, opt, X, Y, 0)
    opt.zero_grad()
    ((m(X[:8]) - Y[:8]) ** 2).mean().backward()
    ps[0].grad[0, 0] = math.nan
    w0, w2 = ps[0].detach().clone(), ps[2].detach().clone()
    opt.step()
    assert torch.equal(ps[0].detach(), w0) and not torch.equal(ps[2].detach(), w2)
    assert [g["skipped"] for g in opt.param_groups] == [1, 0]


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    "name,kw,arg",
    [
        ("SGD", dict(lr=-1.0), "lr"),
        ("SGD", dict(momentum=-0.1), "momentum"),  # torch: momentum >= 0 (1.5 runs)
        ("SGD", dict(lr=0.1, nesterov=True), "nesterov"),
        ("SGD", dict(weight_decay=-1.0), "weight_decay"),
        ("Adagrad", dict(lr_decay=-1.0), "lr_decay"),
        ("Adagrad", dict(eps=-1e-10), "eps"),  # torch: eps >= 0 (0 runs)
        ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
        ("RMSprop", dict(alpha=-0.1), "alpha"),  # torch: alpha >= 0 (1 runs)
        ("RMSprop", dict(momentum=-0.1), "momentum"),
        ("Adadelta", dict(rho=1.5), "rho"),  # torch: 0 <= rho <= 1
        ("Adam", dict(betas=(0.9, 1.0)), "beta2"),
        ("Adam", dict(betas=(-0.1, 0.99)), "beta1"),
        ("Adam", dict(eps=-1e-8), "eps"),
        ("Adam", dict(betas=0.9), "betas"),
        ("AdamW", dict(weight_decay=-0.1), "weight_decay"),
        ("NAdam", dict(momentum_decay=-1.0), "momentum_decay"),
        ("Yogi", dict(eps=0.0), "eps"),
        ("WindowedRMSprop", dict(window=0), "window"),
        ("Momentum", dict(form="nope"), "form"),
        ("Adam", dict(lr=float("nan")), "lr"),
        ("Adam", dict(nonfinite="sometimes"), "nonfinite"),
        ("Adam", dict(impl="fast"), "impl"),
        ("Adam", dict(maximize=1), "maximize"),
        ("Adam", dict(convention="mine"), "convention"),
        ("Adam", dict(lr=torch.tensor([0.1, 0.2])), "lr"),
        ("Adam", dict(capturable=True), "capturable"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(name, kw, arg):
    with pytest.raises(ValueError, match=arg):
        getattr(ro, name)(make_model().parameters(), **kw)


def test_invalid_group_hyperparameter_at_step():
    m = make_model()
    opt = ro.Adam(m.parameters(), impl="eager")
    with pytest.raises(ValueError, match="lr"):
        opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(3))], "lr": -1.0})
    opt.param_groups[0]["betas"] = (0.9, 2.0)
    loss_step_args = make_data()
    with pytest.raises(ValueError, match="beta2"):
        loss_step(m, opt, *loss_step_args, 0)


def test_defaults_and_conventions():
    p = [torch.nn.Parameter(torch.zeros(2))]
    assert ro.Adam(p).defaults["lr"] == 1e-3 and ro.Adam(p).defaults["betas"] == (0.9, 0.999)
    assert ro.AdamW(p).defaults["weight_decay"] == 0.01
    assert ro.SGD(p).defaults["lr"] == 1e-3 and ro.Adagrad(p).defaults["eps"] == 1e-10
    assert ro.RMSprop(p, convention="keras").defaults["alpha"] == 0.9
    assert ro.Adam(p, convention="keras").defaults["eps"] == 1e-7


# ---------------------------------------------------------------- lr as a tensor, schedulers


def test_lr_tensor_matches_float():
    X, Y = make_data()
    a, b = make_model(), make_model()
    oa = ro.Adam(a.parameters(), lr=1e-2, impl="eager")
    ob = ro.Adam(b.parameters(), lr=torch.tensor(1e-2), impl="eager")
    train(a, oa, X, Y, 20)
    train(b, ob, X, Y, 20)
    assert torch.equal(flat_params(a), flat_params(b))


SCHEDULERS = {
    "StepLR": lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    "CosineAnnealingLR": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30),
    "OneCycleLR": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.01, total_steps=40),
    "LambdaLR": lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 / (1 + e)),
}
SCHED_KW = {
    "SGD": dict(lr=0.01, momentum=0.9),
    "Adagrad": dict(lr=0.01),
    "RMSprop": dict(lr=1e-3, momentum=0.9),
    "Adadelta": dict(lr=1.0),
    "Adam": dict(lr=1e-3),
    "AdamW": dict(lr=1e-3),
    "NAdam": dict(lr=1e-3),
}


@pytest.fixture
def float64_default():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.mark.parametrize("sched", list(SCHEDULERS))
@pytest.mark.parametrize("name", TORCH_HAS)
def test_lr_schedulers_match_torch(name, sched, float64_default):
    if sched == "OneCycleLR" and name in ("Adagrad", "Adadelta"):
        pytest.skip("OneCycleLR cycles momentum/betas, which these methods do not have")
    X, Y = make_data()
    a, b = make_model(), make_model()
    oa = getattr(torch.optim, name)(a.parameters(), foreach=False, **SCHED_KW[name])
    ob = getattr(ro, name)(b.parameters(), impl="eager", **SCHED_KW[name])
    sa, sb = SCHEDULERS[sched](oa), SCHEDULERS[sched](ob)
    for s in range(40):
        loss_step(a, oa, X, Y, s)
        loss_step(b, ob, X, Y, s)
        sa.step()
        sb.step()
        assert sa.get_last_lr() == sb.get_last_lr()
    pa, pb = flat_params(a), flat_params(b)
    assert ((pa - pb).norm() / pa.norm()).item() < 1e-12


def test_schedule_lr_with_ravine_schedules():
    X, Y = make_data()
    m = make_model()
    opt = ro.SGD(m.parameters(), lr=0.1, momentum=0.5, impl="eager")
    lr_s = schedules.cosine(0.1, total_steps=10)
    mom_s = schedules.momentum_anneal(0.5, 0.9, steps=10)
    sched = ro.ScheduleLR(opt, {"lr": lr_s, "momentum": mom_s})
    assert isinstance(sched, torch.optim.lr_scheduler.LRScheduler)
    seen = []
    for s in range(12):
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]))
        loss_step(m, opt, X, Y, s)
        sched.step()
    assert seen[0] == (lr_s(0), mom_s(0)) and seen[5] == (lr_s(5), mom_s(5)) and seen[11] == (lr_s(11), mom_s(11))
    assert sched.get_last_lr() == [lr_s(12)]
    sd = sched.state_dict()
    assert sd["last_epoch"] == 12
    adam = ro.Adam(make_model().parameters(), impl="eager")
    s2 = ro.ScheduleLR(adam, {"beta1": schedules.linear(0.8, 0.9, 5)})
    s2.step()
    assert adam.param_groups[0]["betas"] == (schedules.linear(0.8, 0.9, 5)(1), 0.999)
    # a torch optimizer: the pairs come from the rules' field specs (betas = (beta1, beta2))
    tadam = torch.optim.Adam(make_model().parameters())
    s3 = ro.ScheduleLR(tadam, {"beta2": schedules.linear(0.99, 0.999, 5)})
    s3.step()
    assert tadam.param_groups[0]["betas"] == (0.9, schedules.linear(0.99, 0.999, 5)(1))
    with pytest.raises(ValueError, match="nope"):
        ro.ScheduleLR(adam, {"nope": schedules.constant(1.0)})


# ---------------------------------------------------------------- groups, grads, closure


def test_param_groups_and_add_param_group_match_torch(float64_default):
    X, Y = make_data()
    a, b = make_model(), make_model()
    mk = lambda mod, m, **kw: mod.Adam([{"params": list(m.parameters())[:2], "lr": 1e-2}], lr=1e-3, **kw)
    oa, ob = mk(torch.optim, a, foreach=False), mk(ro, b, impl="eager")
    train(a, oa, X, Y, 5)
    train(b, ob, X, Y, 5)
    oa.add_param_group({"params": list(a.parameters())[2:], "weight_decay": 0.1})
    ob.add_param_group({"params": list(b.parameters())[2:], "weight_decay": 0.1})
    train(a, oa, X, Y, 20, start=5)
    train(b, ob, X, Y, 20, start=5)
    assert ((flat_params(a) - flat_params(b)).abs().max()).item() < 1e-13
    assert ob.param_groups[1]["lr"] == 1e-3 and ob.param_groups[1]["weight_decay"] == 0.1


def test_grads_outside_the_flat_buffer_and_missing_grads(float64_default):
    """model.zero_grad() (grads set to None, then new tensors) and params without a grad behave as in torch."""
    X, Y = make_data()
    a, b = make_model(), make_model()
    oa = torch.optim.Adam(a.parameters(), lr=1e-2, foreach=False)
    ob = ro.Adam(b.parameters(), lr=1e-2, impl="eager")
    for s in range(10):
        for m, o in ((a, oa), (b, ob)):
            m.zero_grad(set_to_none=True)
            ((m(X[:64]) - Y[:64]) ** 2).mean().backward()
            if s in (3, 4):
                m[2].bias.grad = None  # this parameter skips two steps (its own step count lags)
            o.step()
    assert ((flat_params(a) - flat_params(b)).abs().max()).item() < 1e-13
    assert float(ob.state_dict()["state"][3]["step"]) == 8


def test_zero_grad_keeps_flat_views_and_closure():
    X, Y = make_data()
    m = make_model()
    opt = ro.SGD(m.parameters(), lr=0.1, impl="eager")
    loss_step(m, opt, X, Y, 0)
    g0 = [p.grad for p in m.parameters()]
    opt.zero_grad()
    assert all(g is h and float(g.abs().sum()) == 0 for g, h in zip((p.grad for p in m.parameters()), g0))
    calls = []

    def closure():
        opt.zero_grad()
        loss = ((m(X[:64]) - Y[:64]) ** 2).mean()
        loss.backward()
        calls.append(1)
        return loss

    loss = opt.step(closure)
    assert calls and isinstance(loss, torch.Tensor)
    # parameters share the flat buffer: state_dict and model agree
    assert m[0].weight.data_ptr() != m[2].weight.data_ptr()


@pytest.mark.parametrize("name", NAMES)
def test_bfloat16_runs(name):
    X, Y = make_data(torch.bfloat16)
    m = make_model(dtype=torch.bfloat16)
    opt = _opt(name, m)
    before = flat_params(m).clone()
    train(m, opt, X, Y, 5)
    p = flat_params(m)
    assert p.dtype == torch.bfloat16 and torch.isfinite(p).all() and not torch.equal(p, before)


def test_mixed_dtypes_in_one_group(float64_default):
    a = torch.nn.Parameter(torch.randn(5, dtype=torch.float32))
    b = torch.nn.Parameter(torch.randn(4, dtype=torch.float64))
    opt = ro.Adam([a, b], lr=0.1, impl="eager")
    a0, b0 = a.detach().clone(), b.detach().clone()
    for _ in range(3):
        opt.zero_grad()
        ((a**2).sum() + (b**2).sum()).backward()
        opt.step()
    assert (a.detach().abs() < a0.abs()).all() and (b.detach().abs() < b0.abs()).all()
    assert len(opt._buckets[0]) == 2


# ---------------------------------------------------------------- the compiled path


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_compiled_matches_eager(name):
    """The compiled step runs the same rule code: float64 trajectories agree to round-off."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        X, Y = make_data()
        a, b = make_model(), make_model()
        oa, ob = _opt(name, a), _opt(name, b, impl="compiled")
        train(a, oa, X, Y, 30)
        train(b, ob, X, Y, 30)
        pa, pb = flat_params(a), flat_params(b)
        assert ((pa - pb).norm() / pa.norm()).item() < 1e-12
    finally:
        torch.set_default_dtype(old)


@pytest.mark.slow
def test_compiled_no_recompiles_under_schedulers():
    from torch._dynamo.utils import counters

    X, Y = make_data()
    m = make_model()
    opt = ro.Adam(m.parameters(), lr=1e-3, impl="compiled", nonfinite="skip")
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=30)  # lr and betas change
    loss_step(m, opt, X, Y, 0)
    sched.step()
    before = sum(counters["stats"].values()), dict(counters.get("recompiles", {}))
    n0 = ro.compile_stats()["compiled_variants"]
    for s in range(1, 25):
        loss_step(m, opt, X, Y, s)
        sched.step()
    assert ro.compile_stats()["compiled_variants"] == n0
    assert dict(counters.get("recompiles", {})) == before[1]


@pytest.mark.slow
def test_no_optimizer_recompiles_when_a_scheduler_changes_lr_every_step():
    """Every optimizer, one after the other in one process (dynamo keeps some decisions
    process-wide, by argument name): once compiled, a per-step lr change recompiles nothing."""
    from torch._dynamo.utils import counters

    X, Y = make_data()
    for name in NAMES:
        m = make_model()
        opt = _opt(name, m, impl="compiled")
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0 / (1.0 + 0.05 * e))
        warm = 8 if name == "RAdam" else 3  # RAdam's warm-up (ρ_t ≤ 5, five steps) runs eagerly, as SGD's first step
        for s in range(warm):  # the first compiled steps
            loss_step(m, opt, X, Y, s)
            sched.step()
        before = dict(counters.get("recompiles", {}))
        n0 = ro.compile_stats()["compiled_variants"]
        for s in range(warm, warm + 12):
            loss_step(m, opt, X, Y, s)
            sched.step()
        assert ro.compile_stats()["compiled_variants"] == n0, name
        assert dict(counters.get("recompiles", {})) == before, name
