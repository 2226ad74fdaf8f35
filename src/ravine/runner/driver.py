"""``run`` and ``grid``: the runner's driver (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import _checks
from ..rules import Rule, get_rule
from .numpy_backend import _run_group_numpy
from .result import CONVERGED, DIVERGED, MAX_STEPS, RUNNING, STATUS, RunResult

__all__ = ["run", "grid", "RunResult", "STATUS", "RUNNING", "MAX_STEPS", "CONVERGED", "DIVERGED"]


def grid(rule: Rule | str, **values: Sequence) -> dict[str, Rule]:
    """All combinations of hyperparameter values for one rule, labelled.

    ``grid("adam", lr=[1e-3, 1e-2], beta1=[0.8, 0.9])`` → 4 rules. Values are
    validated by the rule.
    """
    import itertools

    base = get_rule(rule) if isinstance(rule, str) else rule
    keys = list(values)
    out = {}
    for combo in itertools.product(*(values[k] for k in keys)):
        changes = dict(zip(keys, combo))
        label = (
            base.name
            + "("
            + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in changes.items())
            + ")"
        )
        out[label] = base.with_hyper(**changes)
    return out


def _as_optimizers(optimizers) -> dict[str, Rule]:
    if isinstance(optimizers, (Rule, str)):
        optimizers = [optimizers]
    if isinstance(optimizers, Mapping):
        items = list(optimizers.items())
    else:
        items = []
        for o in optimizers:
            r = get_rule(o) if isinstance(o, str) else o
            items.append((None, r))
    out: dict[str, Rule] = {}
    for label, r in items:
        if isinstance(r, str):
            r = get_rule(r)
        if not isinstance(r, Rule):
            raise ValueError(f"optimizers: expected rules or names, got {r!r}")
        if label is None:
            label = r.name
            n = 2
            while label in out:
                label = f"{r.name}#{n}"
                n += 1
        out[str(label)] = r
    if not out:
        raise ValueError("optimizers: give at least one optimizer")
    return out


def _schedule_values(schedules, rule: Rule, steps: int) -> dict[str, np.ndarray]:
    if not schedules:
        return {}
    from ..schedules import as_schedule

    vals = {}
    for name, sched in schedules.items():
        if name not in rule.h._fields:
            raise ValueError(
                f"schedules: {type(rule).__name__} has no hyperparameter {name!r}; it has {', '.join(rule.h._fields)}"
            )
        s = as_schedule(sched)
        v = np.asarray(s.values(steps), dtype=float)
        # validate every scheduled value through the rule's own checks (first, min, max)
        for probe in {float(v.min()), float(v.max())}:
            rule.with_hyper(**{name: probe})
        vals[name] = v
    return vals


def run(
    optimizers,
    problem,
    starts=None,
    steps: int = 1000,
    *,
    tol: float | None = None,
    divergence: float = 1e8,
    record: str | int = "all",
    grad_noise: float = 0.0,
    seed: int | None = 0,
    schedules: Mapping[str, Any] | None = None,
    maximize: bool = False,
    nonfinite: str = "stop",
    backend: str = "auto",
    dtype=np.float64,
    progress=None,
) -> RunResult:
    """Run every optimizer from every start point on ``problem``.

    Parameters
    ----------
    optimizers : rule, name, list of them, or dict label → rule (see :func:`grid`)
    problem : a :class:`ravine.problems.Problem` or its name
    starts : (S, D) start points (or one point); default the problem's start
    steps : maximum number of steps (≥ 0)
    tol : stop a trajectory when ‖g‖₂ ≤ tol (None: never)
    divergence : mark a trajectory diverged when ‖θ‖∞ exceeds this
    record : "all" (every step, with the optimizer state), "final", or an
        int k (every k-th step and the last)
    progress : called as ``progress(done, total)`` after each optimizer's trajectories
        (``ravine sweep`` draws its progress bar from it)
    grad_noise : σ of Gaussian noise added to every gradient (lecture 002's SGD
        emulation: g += N(0, σ²)); ``seed`` seeds it
    schedules : hyperparameter name → schedule (``ravine.schedules``), for all
        optimizers, e.g. ``{"lr": schedules.exponential(0.1, 0.01)}``
    maximize : ascend instead of descend (g ← −g)
    nonfinite : "stop" (mark diverged), "skip" or "raise"
    backend : "auto" (Numba when installed and the rule is elementwise),
        "numba" or "numpy"
    """
    from ..problems import Problem, get_problem

    if isinstance(problem, str):
        problem = get_problem(problem)
    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a Problem or a name, got {problem!r}")
    opts = _as_optimizers(optimizers)
    steps = _checks.integer("run", "steps", steps, minimum=0)
    if tol is not None:
        _checks.real("run", "tol", tol, lo=0, describe="a finite number >= 0 or None")
    _checks.real("run", "divergence", divergence, lo=0, lo_open=True)
    _checks.real("run", "grad_noise", grad_noise, lo=0)
    _checks.choice("run", "nonfinite", nonfinite, ("stop", "skip", "raise"))
    _checks.choice("run", "backend", backend, ("auto", "numba", "numpy"))
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype: must be float32 or float64, got {dtype}")
    every = _record_every(record, steps)

    D = problem.dim
    if starts is None:
        starts = np.asarray(problem.start, dtype=dtype)[None]
    starts = np.asarray(starts, dtype=dtype)
    if starts.ndim == 1:
        starts = starts[None]
    if starts.ndim != 2 or starts.shape[1] != D:
        raise ValueError(f"starts: expected shape (S, {D}) for {problem.name}, got {starts.shape}")
    if not np.isfinite(starts).all():
        raise ValueError("starts: must be finite")
    S = starts.shape[0]
    rec_steps = np.unique(np.r_[np.arange(0, steps + 1, every), steps]) if every else np.array([0, steps])
    if record == "final":
        rec_steps = np.array([steps]) if steps > 0 else np.array([0])

    noise_rng = np.random.default_rng(seed) if grad_noise > 0 else None
    results = []
    used = set()
    for _gi, (label, rule) in enumerate(opts.items()):
        sched = _schedule_values(schedules, rule, steps)
        noise = None
        if noise_rng is not None:
            if steps * S * D > 5e7:
                raise ValueError("grad_noise: steps × starts × dim must stay below 5e7 for noisy runs")
            noise = (grad_noise * noise_rng.standard_normal((steps, S, D))).astype(dtype)
        if backend == "numba" and not _numba_ok(rule, problem):
            raise ValueError(
                f"backend: 'numba' needs an elementwise rule and a problem with scalar functions "
                f"({type(rule).__name__} on {problem.name} runs on backend='numpy'; 'auto' picks it)"
            )
        use_numba = backend == "numba" or (backend == "auto" and _numba_ok(rule, problem))
        args = (rule, problem, starts, steps, tol, divergence, rec_steps, record == "all", noise, sched)
        if use_numba:
            from .numba_backend import run_group_numba

            out = run_group_numba(*args, maximize, nonfinite)
            used.add("numba")
        else:
            out = _run_group_numpy(*args, maximize, nonfinite)
            used.add("numpy")
        results.append((label, out))
        if progress is not None:
            progress(len(results), len(opts))

    labels = [lab for lab, _ in results for _ in range(S)]
    cat = lambda key, axis: np.concatenate([o[key] for _, o in results], axis=axis)
    state = {}
    if record == "all":
        for _lab, o in results:
            for k, v in o["state"].items():
                state.setdefault(f"{k}", []).append(v)
        # state fields may differ across rules: keep only fields every group has
        state = {k: np.concatenate(v, axis=1) for k, v in state.items() if len(v) == len(results)}
    return RunResult(
        problem=problem.name,
        labels=labels,
        optimizers=opts,
        group=np.repeat(np.arange(len(results)), S),
        start=np.tile(np.arange(S), len(results)),
        steps=rec_steps,
        theta=cat("theta", 1),
        loss=cat("loss", 1),
        grad_norm=cat("grad_norm", 1),
        status=cat("status", 0),
        stop_step=cat("stop_step", 0),
        state=state,
        backend="+".join(sorted(used)),
    )


def _record_every(record, steps):
    if record == "all":
        return 1
    if record == "final":
        return 0
    if isinstance(record, (int, np.integer)) and not isinstance(record, bool) and record >= 1:
        return int(record)
    raise ValueError(f"record: must be 'all', 'final' or an integer >= 1, got {record!r}")


def _numba_ok(rule: Rule, problem) -> bool:
    if not rule.elementwise or problem.scalar_functions() is None:
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True
