"""A gradient stream that is hard to follow, torch.optim's trajectory on it, and a per-coordinate
comparison: what the tests of the rules torch.optim has (RAdam, Adamax, ASGD, Rprop) share.

The stream is open loop (the gradients do not depend on θ), so two implementations that round
differently do not drift apart through the problem: what differs is the update alone.
"""

import numpy as np

STEPS = 200
DIM = 24
#: worst difference per coordinate, relative to that coordinate's largest value along the run
RTOL = 1e-12


def hard_stream(seed=0, steps=STEPS, dim=DIM):
    """``steps`` float64 gradients of ``dim`` coordinates: coordinate scales 1e-6, 1 and 1e6
    (a third each), about 15 % exact zeros at every step, the first half's sign flipped every
    third step, and the last two coordinates flipping at every step (Rprop's η⁻ then its
    step-size floor)."""
    r = np.random.default_rng(seed)
    scale = np.resize(np.array([1e-6, 1.0, 1e6]), dim)
    r.shuffle(scale)
    base = r.normal(size=dim)
    out = []
    for t in range(steps):
        g = scale * (base + 0.7 * r.normal(size=dim))
        g[r.random(dim) < 0.15] = 0.0
        if t % 3 == 2:
            g[: dim // 2] *= -1
        g[-2:] = (-1) ** t * scale[-2:] * (1.0 + r.random(2))
        out.append(g)
    return out


def theta0(seed=1, dim=DIM):
    return np.random.default_rng(seed).normal(size=dim)


class Worst:
    """The worst |a − b| over a run, per coordinate relative to the largest |b| that coordinate
    has had so far (a coordinate still at exactly 0 must be exactly 0)."""

    def __init__(self):
        self.scale = None
        self.worst = 0.0

    def add(self, a, b):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        self.scale = np.abs(b) if self.scale is None else np.maximum(self.scale, np.abs(b))
        err = np.abs(a - b)
        zero = self.scale == 0
        if np.any(err[zero] != 0) or np.any(np.isnan(a) != np.isnan(b)):
            self.worst = np.inf
        live = ~zero & ~np.isnan(b)
        if live.any():
            self.worst = max(self.worst, float(np.max(err[live] / self.scale[live])))
        return self


def torch_trajectory(torch, cls, kw, start, grads):
    """θ and ``opt.state[p]`` (NumPy copies) after each step of ``torch.optim`` ``cls(**kw)``
    (single-tensor path, float64, its scalar state in float64) on the gradients ``grads``."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch keeps its scalar state (ASGD's η, μ) in this dtype
    try:
        p = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
        opt = cls([p], foreach=False, **kw)
        out = []
        for g in grads:
            p.grad = torch.tensor(g, dtype=torch.float64)
            opt.step()
            st = {k: v.detach().numpy().copy() for k, v in opt.state[p].items() if k != "step"}
            out.append((p.detach().numpy().copy(), st))
        return out
    finally:
        torch.set_default_dtype(old)


def follow_with_rule(rule, state_names, start, grads, ref, **apply_kw):
    """Run ``rule`` (``ravine.rules``, NumPy float64) on ``grads`` beside ``ref`` (from
    :func:`torch_trajectory`): the worst relative difference of θ and of each State field
    (``state_names``: rule field → torch's key), and the rule's last records."""
    theta, st = start.copy(), rule.init(start)
    worst = {"theta": Worst(), **{f: Worst() for f in state_names}}
    records = []
    for g, (ref_theta, ref_state) in zip(grads, ref):
        theta, st, rec = rule.apply(theta, g, st, **apply_kw)
        records.append(rec)
        worst["theta"].add(theta, ref_theta)
        for f, name in state_names.items():
            worst[f].add(
                np.broadcast_to(getattr(st.state, f), theta.shape), np.broadcast_to(ref_state[name], theta.shape)
            )
    return {k: w.worst for k, w in worst.items()}, records


def assert_follows_torch(torch, rule, torch_cls, kw, state_names, rtol=RTOL):
    """``rule`` (built with ``kw``) and ``torch_cls(**kw)`` on :func:`hard_stream` from
    :func:`theta0`: θ and every state field within ``rtol`` (:class:`Worst`), and θ moved.
    Returns torch's trajectory and the rule's records."""
    grads, start = hard_stream(), theta0()
    ref = torch_trajectory(torch, torch_cls, kw, start, grads)
    worst, records = follow_with_rule(rule, state_names, start, grads, ref)
    assert max(worst.values()) <= rtol, worst
    assert np.max(np.abs(ref[-1][0] - start)) > 1e-2, "the run did not move: a test that cannot fail"
    return ref, records
