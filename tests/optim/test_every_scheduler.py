"""Every torch.optim.lr_scheduler class drives ravine.optim exactly as it drives torch.optim.

The schedulers write group['lr'] (and CyclicLR/OneCycleLR group['momentum'] or
group['betas']); ravine reads its hyperparameters from the group at every step, so the
parameters after 40 steps must equal torch's (float64, 1e-12 relative).
"""

import inspect

import pytest

torch = pytest.importorskip("torch")

import ravine.optim as ro  # noqa: E402

LS = torch.optim.lr_scheduler
STEPS = 40

FACTORIES = {
    "LambdaLR": lambda o: LS.LambdaLR(o, lambda e: 1.0 / (1 + 0.1 * e)),
    "MultiplicativeLR": lambda o: LS.MultiplicativeLR(o, lambda e: 0.97),
    "StepLR": lambda o: LS.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda o: LS.MultiStepLR(o, milestones=[5, 20], gamma=0.3),
    "ConstantLR": lambda o: LS.ConstantLR(o, factor=0.5, total_iters=10),
    "LinearLR": lambda o: LS.LinearLR(o, start_factor=0.2, total_iters=15),
    "ExponentialLR": lambda o: LS.ExponentialLR(o, gamma=0.95),
    "SequentialLR": lambda o: LS.SequentialLR(
        o, [LS.ConstantLR(o, factor=0.5, total_iters=5), LS.ExponentialLR(o, gamma=0.9)], milestones=[5]
    ),
    "PolynomialLR": lambda o: LS.PolynomialLR(o, total_iters=30, power=2.0),
    "CosineAnnealingLR": lambda o: LS.CosineAnnealingLR(o, T_max=25),
    "ChainedScheduler": lambda o: LS.ChainedScheduler(
        [LS.ConstantLR(o, factor=0.5, total_iters=5), LS.ExponentialLR(o, gamma=0.95)]
    ),
    "ReduceLROnPlateau": lambda o: LS.ReduceLROnPlateau(o, factor=0.5, patience=1),
    "CyclicLR": lambda o: LS.CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=5),
    "CosineAnnealingWarmRestarts": lambda o: LS.CosineAnnealingWarmRestarts(o, T_0=8, T_mult=2),
    "OneCycleLR": lambda o: LS.OneCycleLR(o, max_lr=0.01, total_steps=STEPS + 1),
}


def test_every_scheduler_class_is_covered():
    classes = {
        n
        for n, c in vars(LS).items()
        if inspect.isclass(c)
        and issubclass(c, (LS.LRScheduler, LS.ReduceLROnPlateau))
        and c not in (LS.LRScheduler, getattr(LS, "_LRScheduler", None))
        and not n.startswith("_")
    }
    assert classes <= set(FACTORIES), f"not covered: {sorted(classes - set(FACTORIES))}"


def _run(opt_cls, sched_name, kw):
    g = torch.Generator().manual_seed(0)
    A = torch.randn(6, 6, generator=g, dtype=torch.float64)
    A = A @ A.T / 6 + torch.eye(6, dtype=torch.float64)
    b = torch.randn(6, generator=g, dtype=torch.float64)
    p = torch.nn.Parameter(torch.randn(6, generator=g, dtype=torch.float64))
    opt = opt_cls([p], **kw)
    sched = FACTORIES[sched_name](opt)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = 0.5 * p @ A @ p - b @ p + torch.log(torch.cosh(p)).sum()
        loss.backward()
        opt.step()
        if sched_name == "ReduceLROnPlateau":
            sched.step(loss.item())
        else:
            sched.step()
    return p.detach().clone(), [grp["lr"] for grp in opt.param_groups]


@pytest.mark.parametrize("sched_name", list(FACTORIES))
@pytest.mark.parametrize(
    "name, kw",
    [("SGD", dict(lr=0.01, momentum=0.9)), ("Adam", dict(lr=0.01)), ("RMSprop", dict(lr=0.01, momentum=0.5))],
)
def test_scheduler_drives_ravine_like_torch(sched_name, name, kw):
    ref, ref_lr = _run(getattr(torch.optim, name), sched_name, dict(kw, foreach=False))
    got, got_lr = _run(getattr(ro, name), sched_name, kw)
    assert got_lr == pytest.approx(ref_lr, rel=1e-15)
    rel = ((got - ref).norm() / ref.norm()).item()
    assert rel <= 1e-12, f"{name} under {sched_name}: {rel:.2e}"
