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


# ------------------------------------------------------------------ how a step executes
#
# Compiled (the default): the vmapped forward + loss goes through ``torch.compile``
# (AOTAutograd compiles its backward too), and the rule's own ``update`` — partially evaluated
# for the batch's flags by ``ravine.rules.specialize``, as ``ravine.optim``'s compiled steps are —
# goes through ``torch.compile`` together with the finiteness test and the masking of diverged
# members: one fused kernel over the (C, P) buffers per step. The hyperparameters enter as
# tensors (one value per configuration: (C, 1); one shared value: a 0-d float64 tensor, which
# rounds as the Python float of the eager path does), so another batch with other values reuses
# the compiled code. Eager: the same functions, uncompiled (``RAVINE_BATCHED_COMPILE=0``, a step
# whose terms carry a True flag — SGD's first — and, said once, whenever compilation fails).

_FWD: dict = {}  # (problem, dtype, shared, shapes) → (compiled forward, its meta module)
_UPD: dict = {}  # (rule class, static fields, dynamic fields, dtype) → compiled masked update
_FAILED: set = set()  # keys whose compilation failed: eager from then on
STATS = {"compile_seconds": 0.0, "fallbacks": 0, "compiled_batches": 0, "eager_batches": 0}


#: "auto" compiles the update of a batch of at least this many configuration-steps (C × steps):
#: a compilation costs ~4 s per process and rule variant (warm inductor cache; ~7-14 s cold) and
#: saves ~2 ms per step of 32 digits-MLP configurations (16 × 200 steps compile)
AUTO_MIN_WORK = 3200


def compile_enabled(C: int = 0, steps: int = 0) -> bool:
    """``RAVINE_BATCHED_COMPILE``: ``auto`` (the default: batches of at least ``AUTO_MIN_WORK``
    configuration-steps), ``1`` always, ``0`` never."""
    import os

    v = os.environ.get("RAVINE_BATCHED_COMPILE", "auto").lower()
    if v == "auto":
        return C * steps >= AUTO_MIN_WORK
    return v not in ("0", "", "false", "no")


def _forward_backend() -> str:
    import os

    return os.environ.get("RAVINE_BATCHED_FORWARD", "eager")


def _cache_dir() -> None:
    """Inductor's disk cache in ``.ravine-cache/inductor`` (as perf/step.py), unless set: a second
    process loads the compiled kernels instead of compiling them."""
    import os

    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", os.path.join(os.getcwd(), ".ravine-cache", "inductor"))


def _fallback(key, what: str, exc: Exception) -> None:
    import warnings

    _FAILED.add(key)
    STATS["fallbacks"] += 1
    warnings.warn(
        f"batched: torch.compile of the {what} failed ({type(exc).__name__}: "
        f"{(str(exc).splitlines() or [''])[0][:200]}); running it eagerly",
        RuntimeWarning,
        stacklevel=3,
    )


def _masked_step(rule_cls, update):
    """One step of ``update`` on the stacked buffers; rows where ``m`` (C, 1) is False keep their
    parameters and state (``m`` None: every row steps)."""
    import torch

    from ..rules.base import next_theta

    State = rule_cls.State

    def step(h, state, g, theta, k, m):
        rec = update(h, State(*state), g, theta, k)
        new = next_theta(rec, theta)
        if m is not None:
            new = torch.where(m, new, theta)
        out = []
        for f, old in zip(State._fields, state):
            v = getattr(rec, f)
            if m is not None and isinstance(v, torch.Tensor) and isinstance(old, torch.Tensor) and v.shape == old.shape:
                v = torch.where(m, v, old)
            out.append(v)
        return new, tuple(out)

    return step


def _ok_rows(losses, g):
    import torch

    return torch.isfinite(losses) & torch.isfinite(g).all(1)


def _compiled_update(rule_cls, static: dict, dynamic: frozenset, dtype):
    """The rule's ``update`` for the flags in ``static`` (``ravine.rules.specialize``: branches on
    them, and tests of the ``dynamic`` floats against 0, fold away), the finiteness test of each
    row and the masking, through ``torch.compile``. Returns (fn, fields of h it reads)."""
    key = (rule_cls, tuple(sorted(static.items())), dynamic, dtype)
    hit = _UPD.get(key)
    if hit is not None:
        return hit
    import torch

    from ..rules.specialize import attributes_used, specialized_function

    update, tree = specialized_function(rule_cls.update, static, nonzero=dynamic)
    step = _masked_step(rule_cls, update)
    used = sorted(attributes_used(tree, "h") & dynamic)
    const = {f: 0.0 for f in dynamic if f not in used}  # read by nothing the variant runs
    Hyper = rule_cls.Hyper

    def _inner(hv, k, state, g, theta, alive, losses):
        ok = _ok_rows(losses, g)
        new, st = step(Hyper(**static, **const, **hv), state, g, theta, k, (alive & ok)[:, None])
        return new, st, ok, ok.all()

    name = f"ravine_batched_{rule_cls.name}_update_{len(_UPD)}"
    _inner.__code__ = _inner.__code__.replace(co_name=name)  # dynamo caches per code object
    _UPD[key] = out = (torch.compile(_inner, fullgraph=True, dynamic=True), used, key)
    return out


def _run(specs: list[TrialSpec], t_all: float) -> list[Outcome]:
    import torch
    from torch.func import functional_call, stack_module_state, vmap

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
    dtype = next(iter(params.values())).dtype

    # one flat (C, P) buffer holds every parameter of every configuration (as ravine.optim's
    # flat buckets do): the rule runs once per step on it; the model sees views of it
    names = list(params)
    shapes = [tuple(params[n].shape[1:]) for n in names]
    sizes = [int(math.prod(sh)) for sh in shapes]
    flat = torch.cat([params[n].reshape(C, -1) for n in names], dim=1).contiguous()
    offs = [0]
    for z in sizes:
        offs.append(offs[-1] + z)

    shared = len({s.seed for s in specs}) == 1
    gens = [torch.Generator().manual_seed(int(s.seed)) for s in (specs[:1] if shared else specs)]
    iters = [problem.batches(data, g) for g in gens]
    bdim = None if shared else 0
    compiling = compile_enabled(C, s0.steps)
    if compiling:
        _cache_dir()

    fkey = (s0.problem, dtype, shared, tuple(names), tuple(shapes))
    entry = _FWD.get(fkey)
    if entry is None:
        base = copy.deepcopy(models[0]).to("meta")

        def views(buf):
            n_ = buf.shape[0]
            return {n: buf[:, offs[i] : offs[i + 1]].view((n_, *shapes[i])) for i, n in enumerate(names)}

        def loss_of(p, b, x, y):
            return problem.criterion(functional_call(base, (p, b), (x,)), y)

        def outs_of(p, b, x):
            return functional_call(base, (p, b), (x,))

        loss_v = vmap(loss_of, in_dims=(0, 0, bdim, bdim))

        def forward(buf, b, x, y):
            return loss_v(views(buf), b, x, y)

        forward.__code__ = forward.__code__.replace(co_name=f"ravine_batched_forward_{len(_FWD)}")
        entry = dict(
            views=views,
            loss=loss_v,
            eager=forward,
            compiled=torch.compile(forward, backend=_forward_backend(), dynamic=True)
            if compiling and _forward_backend() != "eager"
            else None,
            eval=vmap(outs_of, in_dims=(0, 0, None)),
            crit=vmap(problem.criterion, in_dims=(0, None)),
            err=vmap(problem.error, in_dims=(0, None)),
        )
        _FWD[fkey] = entry
    views, eval_fn, crit, err_of = entry["views"], entry["eval"], entry["crit"], entry["err"]

    h = stack_hyper(hypers, 2, dtype)
    state = tuple(rule_cls.init_state(h, flat))

    # what the compiled update gets: flags and zeros fixed; every other float as a tensor.
    # A float that is 0 for some configurations only stays eager (a branch on it is an error)
    static, dynamic, mixed = {}, set(), False
    for f in rule_cls.Hyper._fields:
        vals = [getattr(x, f) for x in hypers]
        if all(isinstance(v, float) for v in vals) and any(v != 0.0 for v in vals):
            dynamic.add(f)
            mixed |= any(v == 0.0 for v in vals)
        else:
            static[f] = getattr(h, f)
    upd = None
    if compiling and not mixed:
        try:
            upd = _compiled_update(rule_cls, static, frozenset(dynamic), dtype)
        except Exception as exc:  # the rule's source cannot be specialized
            _fallback((rule_cls, "specialize"), "rule's update", exc)
        if upd is not None and upd[2] in _FAILED:
            upd = None
    if upd is not None:
        hv = {
            f: (v.as_subclass(torch.Tensor) if isinstance(v, torch.Tensor) else torch.tensor(v, dtype=torch.float64))
            for f in upd[1]
            for v in (getattr(h, f),)
        }
    eager_step = _masked_step(rule_cls, rule_cls.update)
    fwd = entry["compiled"] if compiling and fkey not in _FAILED else None
    STATS["compiled_batches" if fwd is not None or upd is not None else "eager_batches"] += 1

    def grad_of(buf, xb, yb):
        nonlocal fwd
        leaf = buf.detach().requires_grad_(True)
        if fwd is not None:
            t = time.perf_counter()
            try:
                losses = fwd(leaf, buffers, xb, yb)
                (g,) = torch.autograd.grad(losses.sum(), leaf)
                return losses.detach(), g
            except Exception as exc:
                _fallback(fkey, "batched forward and backward", exc)
                fwd = None
            finally:
                STATS["compile_seconds"] += time.perf_counter() - t if first[0] else 0.0
        # eager: each parameter as its own contiguous (C, …) leaf (a copy of its columns of the
        # flat buffer), and the gradient gathered back into one (C, P) buffer for the rule. The
        # model's batched products on strided views of the flat buffer, and the backward into
        # them, took 60 % longer (2.45 against 1.51 ms for 32 digits-MLP configurations).
        ps = {n: v.contiguous().requires_grad_(True) for n, v in views(buf.detach()).items()}
        losses = entry["loss"](ps, buffers, xb, yb)
        gs = torch.autograd.grad(losses.sum(), list(ps.values()))
        return losses.detach(), torch.cat([gi.reshape(gi.shape[0], -1) for gi in gs], dim=1)

    def to_tensor(v):
        if isinstance(v, torch.Tensor):
            return v.as_subclass(torch.Tensor)
        return torch.tensor(float(v), dtype=torch.float64)

    def update(step, state, g, flat, alive, losses):
        """New (θ, state), the rows whose loss and gradient are finite, and whether all are."""
        nonlocal upd
        k = rule_cls.terms(h, step)
        flagged = isinstance(k, tuple) and any(isinstance(v, bool) and v for v in k)
        if upd is not None and not flagged:
            t = time.perf_counter()
            try:
                kk = type(k)(*(v if isinstance(v, bool) else to_tensor(v) for v in k)) if hasattr(k, "_fields") else k
                return upd[0](hv, kk, state, g, flat, alive, losses)
            except Exception as exc:
                _fallback(upd[2], "rule's update", exc)
                upd = None
            finally:
                STATS["compile_seconds"] += time.perf_counter() - t if first[1] else 0.0
                first[1] = False
        with torch.no_grad():
            ok = _ok_rows(losses, g)
            all_ok = bool(ok.all())
            m = alive & ok
            new, st = eager_step(h, state, g, flat, k, None if all_ok and bool(alive.all()) else m[:, None])
        return new, st, ok, all_ok

    first = [True, True]  # the first compiled calls compile (or load from the cache)
    alive = torch.ones(C, dtype=torch.bool)
    dead_at = [None] * C  # steps_done of a diverged member
    curves = [{f: [] for f in CURVE_FIELDS} for _ in range(C)]
    evals = problem.eval_steps()
    run_sum = torch.zeros(C, dtype=torch.float64)
    run_n = 0
    train_time = 0.0

    def record(step, tl):
        with torch.no_grad():
            res = {}
            p = {n: v.contiguous() for n, v in views(flat).items()}  # (see grad_of)
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
        losses, g = grad_of(flat, xb, yb)
        first[0] = False
        # the update masks the rows that are dead or whose loss or gradient is not finite
        new_flat, new_state, ok, all_ok = update(step, state, g, flat, alive, losses)
        flat, state = new_flat, tuple(new_state)
        if not bool(all_ok):
            newly = alive & ~ok
            for c in torch.nonzero(newly).flatten().tolist():
                dead_at[c] = step - 1
            alive &= ok
            if not bool(alive.any()):
                break
        # a dead member's sum is never read (it is not recorded): no masking needed
        run_sum.add_(losses)
        run_n += 1
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
            out = eval_fn({n: v.contiguous() for n, v in views(flat).items()}, buffers, data.x_train)
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
