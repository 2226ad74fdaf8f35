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
(tests/benchmark/test_batched.py uses 1e-3 on final losses in float32) — for a configuration
that trains: where the learning rate makes training chaotic, rounding differences grow.

How a step executes — eagerly, or traced once into one graph and compiled (``--compile``) —
is described above ``_FWD`` below; both paths run the same code (the rule's ``update``).
"""

from __future__ import annotations

import copy
import functools
import math
import time
from collections.abc import Sequence
from typing import Any

from .._fallback import COMPILE_MODES, fall_back
from ..rules.specialize import is_literal
from . import metrics as _metrics
from .space import rule_class
from .tracing import Traced, signature
from .trial import CURVE_FIELDS, Outcome, TrialSpec, _fin, problem_instance

__all__ = ["run_batch", "per_config_class", "stack_hyper"]


@functools.cache
def per_config_class() -> type:
    """The :class:`PerConfig` tensor subclass, made on first use (this module does not import
    torch until then); ``ravine.benchmark.batched.PerConfig`` is the same class."""
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


def __getattr__(name: str) -> Any:
    if name == "PerConfig":
        return per_config_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
            out[f] = t.as_subclass(per_config_class())
        else:
            raise ValueError(
                f"batched: hyperparameter {f!r} differs between configurations and is not a "
                f"float ({vals[:3]}…); batch them separately"
            )
    return H(**out)


def run_batch(specs: Sequence[TrialSpec], compile: str | None = None) -> list[Outcome]:
    """Run trials of one (problem, optimizer, steps) as one vectorized model; ``compile`` is
    ``auto``, ``always`` or ``never`` (:func:`compile_mode`). A failure of the whole batch is
    recorded as "failed" for each trial (never raised)."""
    t_all = time.perf_counter()
    keys = {(s.problem, s.optimizer, s.steps) for s in specs}
    if len(keys) != 1:
        raise ValueError(f"run_batch: one (problem, optimizer, steps) per batch, got {sorted(keys)}")
    mode = compile_mode(compile)
    try:
        return _run(list(specs), t_all, mode)
    except Exception as exc:
        msg = f"batched: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        return [
            Outcome(s.key, "failed", msg, {f: [] for f in CURVE_FIELDS}, {}, time.perf_counter() - t_all) for s in specs
        ]


# ------------------------------------------------------------------ how a step executes
#
# Eager: each step runs the vmapped forward, autograd's backward and the rule's ``update`` on
# the stacked buffers, operation by operation.
#
# Compiled (``always``; ``auto`` once a variant has run long enough eagerly to repay it, see
# ``AUTO_MIN_WORK``): the same Python — ``_loss_and_grad`` below and the rule's own ``update``,
# partially evaluated for the batch's flags by ``ravine.rules.specialize`` as ``ravine.optim``'s
# compiled steps are — is traced ONCE into one graph of ATen operations (``make_fx``: vmap's
# batching rules and autograd's backward are resolved while tracing), with the finiteness test
# and the masking of diverged members, and inductor compiles that graph (``ravine.benchmark.tracing``).
# A step is then one call: the batched products and a few fused loops over the (C, P) buffers,
# with no vmap, autograd or Python dispatch per operation. The hyperparameters enter as tensors
# (one value per configuration: (C, 1); one shared value: a 0-d float64 tensor, which rounds as
# the Python float of the eager path does), so another batch with other values reuses the
# compiled step. A graph is traced for one set of shapes (C, the minibatch; the shorter last
# minibatch of an epoch has its own). A step whose terms carry a True flag (SGD's first), and —
# said once — any step whose tracing or compilation failed, run eagerly. The evaluations (the
# validation and test splits at each evaluation point, the training split at the end) are
# traced and compiled the same way.

_FWD: dict = {}  # (problem, dtype, shared, names, shapes) → the vmapped functions of the model
_STEP: dict = {}  # (rule variant, model, input shapes and constants) → compiled step
_FAILED: set = set()  # keys whose compilation failed: eager from then on
STATS = {"compile_seconds": 0.0, "fallbacks": 0, "compiled_batches": 0, "eager_batches": 0}


#: ``auto`` compiles a (problem, rule variant) once this process has run that much of it eagerly,
#: in configuration-steps (C × steps): the rent-or-buy rule — keep paying the eager steps until
#: they have cost about what compiling costs (digits MLP: 16 × 200 configuration-steps take
#: ≈ 0.65 s eagerly and 0.2 s compiled; compiling takes ≈ 5 s with inductor's disk cache warm),
#: then compile — which never costs more than twice the better choice made in hindsight
AUTO_MIN_WORK = 25_000
_EAGER_WORK: dict = {}  # (rule variant, model) → configuration-steps run eagerly in this process


def compile_mode(mode: str | None = None) -> str:
    """``auto``, ``always`` or ``never``: ``mode`` (``ravine bench run --compile``), else the
    environment's ``RAVINE_BATCHED_COMPILE`` (also ``1`` / ``0``), else ``auto``."""
    import os

    given = mode is not None
    v = str(mode if given else os.environ.get("RAVINE_BATCHED_COMPILE", "auto")).strip().lower()
    v = {"1": "always", "0": "never"}.get(v, v)
    if v not in COMPILE_MODES:
        where = "--compile" if given else "RAVINE_BATCHED_COMPILE"
        raise ValueError(f"{where}: unknown mode {mode if given else v!r}; choose from {', '.join(COMPILE_MODES)}")
    return v


def _cache_dir() -> None:
    """Inductor's disk cache in the user's private cache (``ravine._cache.use_for_inductor``:
    ``TORCHINDUCTOR_CACHE_DIR`` when the user set it, else the ``inductor`` folder under
    ``$RAVINE_CACHE_DIR`` or the platform's user cache; never the working directory): a second
    process loads the compiled kernels instead of compiling them."""
    from .._cache import use_for_inductor

    use_for_inductor()


def _fallback(key, what: str, exc: Exception) -> None:
    """Compiling ``key`` failed: eager from then on, said once (``ravine._fallback``)."""
    fall_back(_FAILED, STATS, key, f"batched: compiling the {what} failed", exc, "running it eagerly", stacklevel=3)


def _masked_step(rule_cls, update):
    """One step of ``update`` on the stacked buffers; rows where ``m`` (C, 1) is False keep their
    parameters and state (``m`` None: every row steps)."""
    from ..rules.base import masked, masked_state, outcome

    State = rule_cls.State

    def step(h, state, g, theta, k, m):
        old = State(*state)
        new, st = outcome(State, update(h, old, g, theta, k), theta)
        return masked(m, new, theta), tuple(masked_state(m, st, old))

    return step


def _ok_rows(losses, g):
    import torch

    return torch.isfinite(losses) & torch.isfinite(g).all(1)


def _loss_and_grad(entry, buf, buffers, xb, yb):
    """Each configuration's minibatch loss (C,) and the gradient (C, P) at the flat buffer
    ``buf``. Each parameter is its own contiguous (C, …) leaf (a copy of its columns of the
    flat buffer) and the gradient is gathered back into one (C, P) buffer for the rule: the
    model's batched products on strided views of the flat buffer, and the backward into them,
    took 60 % longer eagerly (2.45 against 1.51 ms for 32 digits-MLP configurations)."""
    import torch

    with torch.enable_grad():
        ps = {n: v.contiguous().requires_grad_(True) for n, v in entry["views"](buf.detach()).items()}
        losses = entry["loss"](ps, buffers, xb, yb)
        gs = torch.autograd.grad(losses.sum(), list(ps.values()))
    return losses.detach(), torch.cat([gi.reshape(gi.shape[0], -1) for gi in gs], dim=1)


def _traced(key, what: str, build, args):
    """The compiled ``build()`` for ``args`` (``tracing.Traced``), cached under ``key``; None if
    tracing or compiling it failed (said once, a RuntimeWarning; eager from then on)."""
    if key in _FAILED:
        return None
    hit = _STEP.get(key)
    if hit is not None:
        return hit
    t = time.perf_counter()
    try:
        _STEP[key] = out = Traced(build(), args)
    except Exception as exc:
        _fallback(key, what, exc)
        return None
    finally:
        STATS["compile_seconds"] += time.perf_counter() - t
    return out


def _compiled_step(rule_cls, static: dict, dynamic: frozenset, entry, fkey, args):
    """The whole step — loss and gradient of every configuration, the finiteness test of each
    row, the rule's ``update`` for the flags in ``static`` (branches on them, and tests of the
    ``dynamic`` floats against 0, fold away), the masking — traced and compiled for ``args``
    = (hyper tensors, terms, state, θ, alive, buffers, x, y)."""

    def build():
        from ..rules.specialize import attributes_used, specialized_function

        update, tree = specialized_function(rule_cls.update, static, nonzero=dynamic)
        step = _masked_step(rule_cls, update)
        const = {f: 0.0 for f in dynamic if f not in attributes_used(tree, "h")}  # read by nothing
        Hyper = rule_cls.Hyper

        def full(hv, k, state, theta, alive, buffers, x, y):
            losses, g = _loss_and_grad(entry, theta, buffers, x, y)
            ok = _ok_rows(losses, g)
            hv = {f: v for f, v in hv.items() if f not in const}
            new, st = step(Hyper(**static, **const, **hv), state, g, theta, k, (alive & ok)[:, None])
            return (new, losses, ok, ok.all(), *st)

        return full

    key = ("step", rule_cls, tuple(sorted(static.items())), dynamic, fkey, signature(args))
    return _traced(key, "batched step", build, args)


def _evaluate(entry, problem, theta, buffers, splits):
    """Loss and error (or None) of every configuration on each split: {name: ((C,), (C,) | None)}."""
    import torch

    with torch.no_grad():
        p = {n: v.contiguous() for n, v in entry["views"](theta).items()}  # (see _loss_and_grad)
        res = {}
        for name, x, y in splits:
            out = entry["eval"](p, buffers, x)
            res[name] = (entry["crit"](out, y), None if problem.error(out[0], y) is None else entry["err"](out, y))
    return res


def _compiled_eval(entry, problem, fkey, args):
    """``_evaluate`` traced and compiled for ``args`` = (θ, buffers, splits)."""

    def build():
        return lambda theta, buffers, splits: _evaluate(entry, problem, theta, buffers, splits)

    return _traced(("eval", fkey, signature(args)), "batched evaluation", build, args)


def _run(specs: list[TrialSpec], t_all: float, mode: str) -> list[Outcome]:
    import torch
    from torch.func import functional_call, stack_module_state, vmap

    torch.set_num_threads(1)
    s0 = specs[0]
    C = len(specs)
    problem = problem_instance(s0.problem, s0.steps)
    data = problem.data()
    rule_cls = rule_class(s0.optimizer)
    hypers = [rule_cls.build(**s.hyper).h for s in specs]
    # a model is a function of its seed (``Problem.model``): one per distinct seed, shared by
    # the configurations that start from it
    by_seed = {seed: problem.model(seed) for seed in dict.fromkeys(s.seed for s in specs)}
    models = [by_seed[s.seed] for s in specs]
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

        entry = dict(
            views=views,
            loss=vmap(loss_of, in_dims=(0, 0, bdim, bdim)),
            eval=vmap(outs_of, in_dims=(0, 0, None)),
            crit=vmap(problem.criterion, in_dims=(0, None)),
            err=vmap(problem.error, in_dims=(0, None)),
        )
        _FWD[fkey] = entry
    h = stack_hyper(hypers, 2, dtype)
    state = tuple(rule_cls.init_state(h, flat))

    # what the compiled step gets: flags and zeros fixed; every other float as a tensor.
    # A float that is 0 for some configurations only stays eager (a branch on it is an error)
    static, dynamic, mixed = {}, set(), False
    for f in rule_cls.Hyper._fields:
        vals = [getattr(x, f) for x in hypers]
        if not all(is_literal(v) for v in vals):  # (stack_hyper: values that differ are all floats)
            dynamic.add(f)
            mixed |= any(is_literal(v) for v in vals)
        else:
            static[f] = getattr(h, f)
    family = (rule_cls, tuple(sorted(static.items())), frozenset(dynamic), fkey)
    if mode == "auto":
        compiling = _EAGER_WORK.get(family, 0) >= AUTO_MIN_WORK
    else:
        compiling = mode == "always"
    compiling = compiling and not mixed
    if compiling:
        _cache_dir()

    def to_tensor(v):
        if isinstance(v, torch.Tensor):
            return v.as_subclass(torch.Tensor)
        return torch.tensor(float(v), dtype=torch.float64)

    hv = {f: to_tensor(getattr(h, f)) for f in sorted(dynamic)}
    eager_step = _masked_step(rule_cls, rule_cls.update)
    used_compiled = False
    traced: dict = {}  # minibatch shapes → compiled step (or None: eager)

    def step_once(step, state, flat, alive, xb, yb):
        """New (θ, state), the minibatch losses, the rows whose loss and gradient are finite,
        and whether all are."""
        nonlocal used_compiled
        k = rule_cls.terms(h, step)
        if compiling and isinstance(k, tuple) and all(isinstance(v, (bool, float, torch.Tensor)) for v in k):
            if not any(isinstance(v, bool) and v for v in k):  # a True flag (SGD's first step): eager
                kk = type(k)(*(v if isinstance(v, bool) else to_tensor(v) for v in k))
                args = (hv, kk, state, flat, alive, buffers, xb, yb)
                sig = (xb.shape, yb.shape)  # within a batch only the minibatch's shape varies
                if sig not in traced:
                    traced[sig] = _compiled_step(rule_cls, static, frozenset(dynamic), entry, fkey, args)
                fn = traced[sig]
                if fn is not None:
                    used_compiled = True
                    new, losses, ok, all_ok, *st = fn(*args)
                    return new, st, losses, ok, bool(all_ok)
        losses, g = _loss_and_grad(entry, flat, buffers, xb, yb)
        with torch.no_grad():
            ok = _ok_rows(losses, g)
            all_ok = bool(ok.all())
            m = alive & ok
            new, st = eager_step(h, state, g, flat, k, None if all_ok and bool(alive.all()) else m[:, None])
        return new, st, losses, ok, all_ok

    alive = torch.ones(C, dtype=torch.bool)
    dead_at = [None] * C  # steps_done of a diverged member
    curves = [{f: [] for f in CURVE_FIELDS} for _ in range(C)]
    evals = problem.eval_steps()
    run_sum = torch.zeros(C, dtype=torch.float64)
    run_n = 0
    train_time = 0.0

    splits = (("val", data.x_val, data.y_val), ("test", data.x_test, data.y_test))
    ev = _compiled_eval(entry, problem, fkey, (flat, buffers, splits)) if compiling else None

    def record(step, tl):
        r = (ev or functools.partial(_evaluate, entry, problem))(flat, buffers, splits)
        res = {k: (a.tolist(), None if b is None else b.tolist()) for k, (a, b) in r.items()}
        for c, live in enumerate(alive.tolist()):
            if not live:
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
        # the update masks the rows that are dead or whose loss or gradient is not finite
        new_flat, new_state, losses, ok, all_ok = step_once(step, state, flat, alive, xb, yb)
        flat, state = new_flat, tuple(new_state)
        if not all_ok:
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
        whole = (("train", data.x_train, data.y_train),)
        ev_train = _compiled_eval(entry, problem, fkey, (flat, buffers, whole)) if used_compiled else None
        fl, fe = (ev_train or functools.partial(_evaluate, entry, problem))(flat, buffers, whole)["train"]
        full = (fl.tolist(), None if fe is None else fe.tolist())
    STATS["compiled_batches" if used_compiled else "eager_batches"] += 1
    if not used_compiled:
        _EAGER_WORK[family] = _EAGER_WORK.get(family, 0) + C * step
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
