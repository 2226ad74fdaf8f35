"""Many configurations of one (problem, optimizer) trained in one process as one vectorized model.

The C models are stacked (``torch.func.stack_module_state``) into one flat buffer of shape
(C, P) (every parameter of every configuration; the model sees views of it through
``vmap(functional_call)``, and one backward pass gives the (C, P) gradient). The optimizer is
the rule itself, applied ONCE per step to the stacked buffers: ``init_state``, ``terms`` and
``update`` of the rule class (``ravine/rules/``), with each hyperparameter that differs
between configurations passed as a tensor of shape (C, 1) that broadcasts against (C, P).
No equation is written here: the rules use plain arithmetic, which broadcasts; a test such as
``if h.momentum != 0`` on a per-configuration value is answered when every configuration
agrees (:class:`PerConfig`), and is an error otherwise.

Each configuration follows exactly the unbatched trial (``ravine.benchmark.trial``): the same
initialisation (its seed), the same minibatches (its own generator), the same evaluation points.
A configuration whose loss or gradient stops being finite is masked — its parameters and
state are kept as they were and it is recorded as diverged at that step — and does not
poison the others (their rows of every tensor are computed independently).

Agreement with the unbatched run: float64, 1e-10 relative (the remaining differences are
rounding: batched matrix products sum in another order, and ``add_scaled`` with a tensor of
scales rounds twice where ``torch.add(alpha=)`` rounds once). float32: the per-configuration
hyperparameter arithmetic (1 − β, β^t, η·λ) is done on float32 tensors where the unbatched
optimizer does it on Python floats (float64) and rounds once, so values differ by ~1e-7
relative per step and the curves agree to ~1e-4 relative after a few hundred steps
(tests/benchmark/test_batched.py uses 1e-3 on final losses in float32).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any

from . import metrics as _metrics
from .space import rule_class
from .trial import CURVE_FIELDS, Outcome, TrialSpec, _fin, problem_instance

__all__ = ["run_batch", "PerConfig", "stack_hyper"]


def _per_config_cls():
    import torch

    cmp = {
        "__ne__",
        "__eq__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "ne",
        "eq",
        "lt",
        "le",
        "gt",
        "ge",
        "__and__",
        "__or__",
        "logical_and",
        "logical_or",
        "logical_not",
        "__invert__",
    }

    class PerConfig(torch.Tensor):
        """Per-configuration values of one hyperparameter, shape (C, 1, …). Arithmetic gives
        plain tensors; a comparison gives a PerConfig whose truth value is defined when all
        configurations agree (``if h.momentum != 0``)."""

        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            with torch._C.DisableTorchFunctionSubclass():
                ret = func(*args, **(kwargs or {}))
            if getattr(func, "__name__", "") in cmp and isinstance(ret, torch.Tensor):
                return ret.as_subclass(cls)
            return ret

        def __bool__(self):
            t = self.as_subclass(torch.Tensor)
            a, o = bool(t.all()), bool(t.any())
            if a != o:
                raise ValueError(
                    "batched: configurations disagree on a branch of the rule "
                    "(e.g. momentum = 0 for some, not others); batch them separately"
                )
            return a

    return PerConfig


_PC = None


def PerConfig():
    global _PC
    if _PC is None:
        _PC = _per_config_cls()
    return _PC


def stack_hyper(hypers: Sequence[Any], ndim: int, dtype) -> Any:
    """One Hyper for C configurations: a field equal in all stays a Python value; a float field
    that differs becomes a PerConfig tensor of shape (C, 1 × (ndim − 1))."""
    import torch

    H = type(hypers[0])
    out = {}
    for f in H._fields:
        vals = [getattr(h, f) for h in hypers]
        if all(v == vals[0] and type(v) is type(vals[0]) for v in vals):
            out[f] = vals[0]
        elif all(isinstance(v, float) for v in vals):
            t = torch.tensor(vals, dtype=dtype).reshape((len(vals),) + (1,) * (ndim - 1))
            out[f] = t.as_subclass(PerConfig())
        else:
            raise ValueError(
                f"batched: hyperparameter {f!r} differs between configurations and is not a "
                f"float ({vals[:3]}…); batch them separately"
            )
    return H(**out)


def run_batch(specs: Sequence[TrialSpec]) -> list[Outcome]:
    """Run trials of one (problem, optimizer, steps) as one vectorized model. A failure of the
    whole batch is recorded as "failed" for each trial (never raised)."""
    t_all = time.perf_counter()
    keys = {(s.problem, s.optimizer, s.steps) for s in specs}
    if len(keys) != 1:
        raise ValueError(f"run_batch: one (problem, optimizer, steps) per batch, got {sorted(keys)}")
    try:
        return _run(list(specs), t_all)
    except Exception as exc:
        msg = f"batched: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return [
            Outcome(s.key, "failed", msg, {f: [] for f in CURVE_FIELDS}, {}, time.perf_counter() - t_all) for s in specs
        ]


def _run(specs: list[TrialSpec], t_all: float) -> list[Outcome]:
    import torch
    from torch.func import functional_call, stack_module_state, vmap

    from ..rules.base import next_theta

    torch.set_num_threads(1)
    s0 = specs[0]
    C = len(specs)
    problem = problem_instance(s0.problem, s0.steps)
    data = problem.data()
    rule_cls = rule_class(s0.optimizer)
    hypers = [rule_cls.build(**s.hyper).h for s in specs]
    models = [problem.model(s.seed) for s in specs]
    params, buffers = stack_module_state(models)
    params = {k: v.detach().clone() for k, v in params.items()}
    buffers = {k: v.detach().clone() for k, v in buffers.items()}
    base = copy.deepcopy(models[0]).to("meta")
    dtype = next(iter(params.values())).dtype

    # one flat (C, P) buffer holds every parameter of every configuration (as ravine.optim's
    # flat buckets do): the rule runs once per step on it; the model sees views of it
    names = list(params)
    shapes = [params[n].shape[1:] for n in names]
    sizes = [int(math.prod(sh)) for sh in shapes]
    flat = torch.cat([params[n].reshape(C, -1) for n in names], dim=1).contiguous()
    offs = [0]
    for z in sizes:
        offs.append(offs[-1] + z)

    def views(buf):
        return {n: buf[:, offs[i] : offs[i + 1]].view((C, *shapes[i])) for i, n in enumerate(names)}

    def loss_of(p, b, x, y):
        return problem.criterion(functional_call(base, (p, b), (x,)), y)

    def outs_of(p, b, x):
        return functional_call(base, (p, b), (x,))

    shared = len({s.seed for s in specs}) == 1
    gens = [torch.Generator().manual_seed(int(s.seed)) for s in (specs[:1] if shared else specs)]
    iters = [problem.batches(data, g) for g in gens]
    bdim = None if shared else 0
    loss_fn = vmap(loss_of, in_dims=(0, 0, bdim, bdim))
    eval_fn = vmap(outs_of, in_dims=(0, 0, None))
    crit = vmap(problem.criterion, in_dims=(0, None))

    h = stack_hyper(hypers, 2, dtype)
    state = tuple(rule_cls.init_state(h, flat))
    alive = torch.ones(C, dtype=torch.bool)
    dead_at = [None] * C  # steps_done of a diverged member
    curves = [{f: [] for f in CURVE_FIELDS} for _ in range(C)]
    evals = problem.eval_steps()
    run_sum = torch.zeros(C, dtype=torch.float64)
    run_n = 0
    train_time = 0.0
    err_of = vmap(problem.error, in_dims=(0, None))

    def record(step, tl):
        with torch.no_grad():
            res = {}
            p = views(flat)
            for split, x, y in (("val", data.x_val, data.y_val), ("test", data.x_test, data.y_test)):
                out = eval_fn(p, buffers, x)
                loss = crit(out, y)
                err = None if problem.error(out[0], y) is None else err_of(out, y)
                res[split] = (loss.tolist(), None if err is None else err.tolist())
        for c in range(C):
            if not alive[c]:
                continue
            vl, ve = res["val"][0][c], (res["val"][1][c] if res["val"][1] is not None else None)
            tl_, te = res["test"][0][c], (res["test"][1][c] if res["test"][1] is not None else None)
            for f, v in zip(
                CURVE_FIELDS, (step, train_time / C, None if tl is None else tl[c], _fin(vl), ve, _fin(tl_), te)
            ):
                curves[c][f].append(v)
            if not math.isfinite(vl):
                alive[c] = False
                dead_at[c] = step - 1

    record(0, None)
    nxt = 1
    t0 = time.perf_counter()
    for step in range(1, s0.steps + 1):
        if shared:
            xb, yb = next(iters[0])
        else:
            bs = [next(it) for it in iters]
            xb, yb = torch.stack([b[0] for b in bs]), torch.stack([b[1] for b in bs])
        leaf = flat.detach().requires_grad_(True)
        losses = loss_fn(views(leaf), buffers, xb, yb)
        (g,) = torch.autograd.grad(losses.sum(), leaf)
        losses = losses.detach()
        # a finite row sum means a finite row (NaN and ±inf propagate); the exact test runs
        # only when some sum is not finite (a NaN/inf gradient, or an overflowing sum)
        ok = torch.isfinite(losses + g.sum(1))
        if not bool(ok.all()):
            ok = torch.isfinite(losses) & torch.isfinite(g).all(1)
        newly = alive & ~ok
        if bool(newly.any()):
            for c in torch.nonzero(newly).flatten().tolist():
                dead_at[c] = step - 1
            alive &= ok
            if not bool(alive.any()):
                break
        m = alive[:, None]
        run_sum += torch.where(alive, losses.to(torch.float64), 0.0)
        run_n += 1
        with torch.no_grad():
            all_alive = bool(alive.all())
            if not all_alive:
                g = torch.where(m, g, 0.0)
            k = rule_cls.terms(h, step)
            rec = rule_cls.update(h, rule_cls.State(*state), g, flat, k)
            new_flat = next_theta(rec, flat)
            new_state = []
            for f, old in zip(rule_cls.State._fields, state):
                v = getattr(rec, f)
                if (
                    not all_alive
                    and isinstance(v, torch.Tensor)
                    and isinstance(old, torch.Tensor)
                    and v.shape == old.shape
                ):
                    v = torch.where(m, v, old)
                new_state.append(v)
            state = tuple(new_state)
            flat = new_flat if all_alive else torch.where(m, new_flat, flat)
        if nxt < len(evals) and step == evals[nxt]:
            train_time += time.perf_counter() - t0
            record(step, (run_sum / run_n).tolist())
            run_sum.zero_()
            run_n = 0
            nxt += 1
            t0 = time.perf_counter()
    else:
        train_time += time.perf_counter() - t0
    full = None
    if data.x_train is not None:  # the whole training split, once, at the end
        with torch.no_grad():
            out = eval_fn(views(flat), buffers, data.x_train)
            fl = crit(out, data.y_train).tolist()
            fe = None if problem.error(out[0], data.y_train) is None else err_of(out, data.y_train).tolist()
        full = (fl, fe)
    wall = time.perf_counter() - t_all
    outs = []
    for c, s in enumerate(specs):
        diverged = dead_at[c] is not None
        steps_done = dead_at[c] if diverged else s0.steps
        m = _metrics.trial_metrics(
            curves[c], problem.metric, problem.target, diverged, steps_done=steps_done, train_time=train_time / C
        )
        if full is not None and not diverged:
            m["final_train_loss_full"] = full[0][c]
            m["final_train_err_full"] = None if full[1] is None else full[1][c]
        m["batched"] = C
        outs.append(Outcome(s.key, "diverged" if diverged else "ok", None, curves[c], m, wall / C))
    return outs
