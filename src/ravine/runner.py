"""Many trajectories at once: optimizers × hyperparameter values × start points.

``run`` is the NumPy adapter of the rules (``ravine/rules``). Each optimizer
(a rule with fixed hyperparameters) forms a *group* of trajectories, one per
start point, and the rule's ``update`` runs on the whole ``(starts, dim)``
array of the group at once. When Numba is installed and the rule is
elementwise, the same ``update`` is compiled into one loop over steps and
trajectories (``backend="numba"``, see ``ravine/_numba.py``); both backends give
the same numbers (tested).

Stopping, per trajectory: ``converged`` when ‖∇f(θ)‖ ≤ tol, ``diverged`` when
a step would leave θ non-finite or with ‖θ‖∞ > ``divergence`` — marked, never
raised — else it runs ``steps`` steps (``max_steps``). A stopped trajectory
stays frozen at its last good point (its optimizer state keeps the values of
the step that failed); later records repeat that point.

Non-finite gradients in the runner: ``nonfinite="stop"`` (default) marks the
trajectory diverged; ``"skip"`` skips the step for that trajectory (θ and
state unchanged) and goes on; ``"raise"`` raises
:class:`ravine.rules.NonFiniteGradientError`.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .rules import NonFiniteGradientError, Rule, get_rule
from .rules.base import next_theta

__all__ = ["run", "grid", "RunResult", "STATUS"]

#: trajectory status codes
STATUS = ("running", "max_steps", "converged", "diverged")
RUNNING, MAX_STEPS, CONVERGED, DIVERGED = range(4)


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
        label = base.name + "(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in changes.items()) + ")"
        out[label] = base.with_hyper(**changes)
    return out


@dataclass
class RunResult:
    """Trajectories of a run. N = number of trajectories, R = recorded steps, D = dimension.

    ``theta`` (R, N, D), ``loss`` (R, N), ``grad_norm`` (R, N) at the recorded steps
    ``steps`` (R,); ``state`` maps each state field to (R, N, D) (record="all"
    only); ``status`` (N,) codes into ``STATUS``; ``stop_step`` (N,) the step at
    which each trajectory stopped; ``labels`` (N,) its optimizer's label;
    ``group`` (N,) the optimizer index; ``start`` (N,) the start-point index.
    """

    problem: str
    labels: list
    optimizers: dict
    group: np.ndarray
    start: np.ndarray
    steps: np.ndarray
    theta: np.ndarray
    loss: np.ndarray
    grad_norm: np.ndarray
    status: np.ndarray
    stop_step: np.ndarray
    state: dict = field(default_factory=dict)
    backend: str = "numpy"

    @property
    def final_theta(self) -> np.ndarray:
        return self.theta[-1]

    @property
    def final_loss(self) -> np.ndarray:
        return self.loss[-1]

    @property
    def status_names(self) -> list[str]:
        return [STATUS[s] for s in self.status]

    @property
    def diverged(self) -> np.ndarray:
        return self.status == DIVERGED

    @property
    def converged(self) -> np.ndarray:
        return self.status == CONVERGED

    def trajectory(self, i: int) -> np.ndarray:
        """θ of trajectory i at the recorded steps, (R, D)."""
        return self.theta[:, i]

    def to_dict(self) -> dict:
        """Plain lists, for JSON export."""
        return {
            "problem": self.problem,
            "optimizers": {k: {"name": r.name, **_jsonable(r.hyperparameters())} for k, r in self.optimizers.items()},
            "trajectories": [
                {"label": self.labels[i], "start_index": int(self.start[i]), "status": STATUS[self.status[i]],
                 "stop_step": int(self.stop_step[i]), "steps": self.steps.tolist(),
                 "theta": _clean(self.theta[:, i]), "loss": _clean(self.loss[:, i]),
                 "grad_norm": _clean(self.grad_norm[:, i])}
                for i in range(len(self.labels))],
        }

    def to_json(self, path=None, **kw) -> str:
        text = json.dumps(self.to_dict(), **kw)
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text

    def to_csv(self, path=None) -> str:
        """Long format: label, start, step, θ₁…θ_D, loss, grad_norm, status."""
        D = self.theta.shape[-1]
        head = ["label", "start", "step", *[f"theta{j + 1}" for j in range(D)], "loss", "grad_norm", "status"]
        lines = [",".join(head)]
        for i, lab in enumerate(self.labels):
            for r, st in enumerate(self.steps):
                vals = [f'"{lab}"', str(self.start[i]), str(int(st)),
                        *[repr(float(v)) for v in self.theta[r, i]],
                        repr(float(self.loss[r, i])), repr(float(self.grad_norm[r, i])), STATUS[self.status[i]]]
                lines.append(",".join(vals))
        text = "\n".join(lines) + "\n"
        if path is not None:
            with open(path, "w") as fh:
                fh.write(text)
        return text


def _clean(a):
    return [[None if not math.isfinite(v) else v for v in row] if np.ndim(row) else
            (None if not math.isfinite(row) else row) for row in np.asarray(a, dtype=float).tolist()]


def _jsonable(d):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


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
    from .schedules import as_schedule

    vals = {}
    for name, sched in schedules.items():
        if name not in rule.h._fields:
            raise ValueError(f"schedules: {type(rule).__name__} has no hyperparameter {name!r}; "
                             f"it has {', '.join(rule.h._fields)}")
        s = as_schedule(sched)
        v = np.asarray(s.values(steps), dtype=float)
        # validate every scheduled value through the rule's own checks (first, min, max)
        for probe in {float(v.min()), float(v.max())}:
            rule.with_hyper(**{name: probe})
        vals[name] = v
    return vals


def run(optimizers, problem, starts=None, steps: int = 1000, *, tol: float | None = None,
        divergence: float = 1e8, record: str | int = "all", grad_noise: float = 0.0,
        seed: int | None = 0, schedules: Mapping[str, Any] | None = None, maximize: bool = False,
        nonfinite: str = "stop", backend: str = "auto", dtype=np.float64) -> RunResult:
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
    grad_noise : σ of Gaussian noise added to every gradient (seed 002's SGD
        emulation: g += N(0, σ²)); ``seed`` seeds it
    schedules : hyperparameter name → schedule (``ravine.schedules``), for all
        optimizers, e.g. ``{"lr": schedules.exponential(0.1, 0.01)}``
    maximize : ascend instead of descend (g ← −g)
    nonfinite : "stop" (mark diverged), "skip" or "raise"
    backend : "auto" (Numba when installed and the rule is elementwise),
        "numba" or "numpy"
    """
    from .problems import Problem, get_problem

    if isinstance(problem, str):
        problem = get_problem(problem)
    if not isinstance(problem, Problem):
        raise ValueError(f"problem: expected a Problem or a name, got {problem!r}")
    opts = _as_optimizers(optimizers)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps: must be an integer >= 0, got {steps!r}")
    steps = int(steps)
    if tol is not None and not (isinstance(tol, (int, float)) and tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol: must be a finite number >= 0 or None, got {tol!r}")
    if not (isinstance(divergence, (int, float)) and divergence > 0):
        raise ValueError(f"divergence: must be a number > 0, got {divergence!r}")
    if not (isinstance(grad_noise, (int, float)) and grad_noise >= 0 and math.isfinite(grad_noise)):
        raise ValueError(f"grad_noise: must be a finite number >= 0, got {grad_noise!r}")
    if nonfinite not in ("stop", "skip", "raise"):
        raise ValueError(f"nonfinite: must be one of 'stop', 'skip', 'raise', got {nonfinite!r}")
    if backend not in ("auto", "numba", "numpy"):
        raise ValueError(f"backend: must be one of 'auto', 'numba', 'numpy', got {backend!r}")
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
    for gi, (label, rule) in enumerate(opts.items()):
        sched = _schedule_values(schedules, rule, steps)
        noise = None
        if noise_rng is not None:
            if steps * S * D > 5e7:
                raise ValueError("grad_noise: steps × starts × dim must stay below 5e7 for noisy runs")
            noise = (grad_noise * noise_rng.standard_normal((steps, S, D))).astype(dtype)
        if backend == "numba" and not _numba_ok(rule, problem):
            raise ValueError(f"backend: 'numba' needs an elementwise rule and a problem with scalar functions "
                             f"({type(rule).__name__} on {problem.name} runs on backend='numpy'; 'auto' picks it)")
        use_numba = backend == "numba" or (backend == "auto" and _numba_ok(rule, problem))
        if use_numba:
            from ._numba import run_group_numba

            out = run_group_numba(rule, problem, starts, steps, tol, divergence, rec_steps, record == "all",
                                  noise, sched, maximize, nonfinite)
            used.add("numba")
        else:
            out = _run_group_numpy(rule, problem, starts, steps, tol, divergence, rec_steps, record == "all",
                                   noise, sched, maximize, nonfinite)
            used.add("numpy")
        results.append((label, out))

    labels = [lab for lab, _ in results for _ in range(S)]
    cat = lambda key, axis: np.concatenate([o[key] for _, o in results], axis=axis)  # noqa: E731
    state = {}
    if record == "all":
        for lab, o in results:
            for k, v in o["state"].items():
                state.setdefault(f"{k}", []).append(v)
        # state fields may differ across rules: keep only fields every group has
        state = {k: np.concatenate(v, axis=1) for k, v in state.items() if len(v) == len(results)}
    return RunResult(problem=problem.name, labels=labels, optimizers=opts,
                     group=np.repeat(np.arange(len(results)), S), start=np.tile(np.arange(S), len(results)),
                     steps=rec_steps, theta=cat("theta", 1), loss=cat("loss", 1), grad_norm=cat("grad_norm", 1),
                     status=cat("status", 0), stop_step=cat("stop_step", 0), state=state,
                     backend="+".join(sorted(used)))


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


def _run_group_numpy(rule: Rule, problem, starts, steps, tol, divergence, rec_steps, keep_state,
                     noise, sched, maximize, nonfinite):
    """The reference path: the rule on (S, D) arrays, one step at a time."""
    S, D = starts.shape
    dtype = starts.dtype
    theta = starts.copy()
    state = rule.init_state(rule.h, theta)
    status = np.zeros(S, dtype=np.int8)
    stop_step = np.full(S, steps, dtype=np.int64)
    R = len(rec_steps)
    rec_pos = {int(s): i for i, s in enumerate(rec_steps)}
    out_theta = np.empty((R, S, D), dtype=dtype)
    out_loss = np.empty((R, S), dtype=dtype)
    out_gn = np.empty((R, S), dtype=dtype)
    out_state = {f: np.empty((R, S, D), dtype=dtype) for f in rule.State._fields
                 if keep_state and np.shape(getattr(state, f)) == (S, D)}
    sign = -1.0 if maximize else 1.0
    needs_h = "hessian" in rule.needs
    lookahead = "lookahead" in rule.needs

    def grad_at(x, t):
        with np.errstate(all="ignore"):
            g = sign * problem.grad(x)
        if noise is not None:
            g = g + noise[t - 1]
        return g

    def record(ri, x, g):
        with np.errstate(all="ignore"):
            out_theta[ri] = x
            out_loss[ri] = problem.f(x)
            out_gn[ri] = np.sqrt((g * g).sum(-1)) if g is not None else np.sqrt((problem.grad(x) ** 2).sum(-1))
        for f in out_state:
            out_state[f][ri] = getattr(state, f)

    g0 = None
    with np.errstate(all="ignore"):
        g0 = sign * problem.grad(theta)
    gnorm0 = np.sqrt((g0 * g0).sum(-1))
    if tol is not None:
        status[gnorm0 <= tol] = CONVERGED
        stop_step[gnorm0 <= tol] = 0
    if 0 in rec_pos:
        record(rec_pos[0], theta, g0)

    for t in range(1, steps + 1):
        active = status == RUNNING
        if not active.any():
            for s in rec_steps[rec_steps >= t]:
                record(rec_pos[int(s)], theta, None)
            break
        h = rule.h._replace(**{k: v[t - 1] for k, v in sched.items()}) if sched else rule.h
        k = rule.terms(h, t)
        x_eval = rule.lookahead(h, state, theta) if lookahead else theta
        g = grad_at(x_eval, t)
        finite = np.isfinite(g).all(-1)
        if nonfinite == "raise" and not finite[active].all():
            raise NonFiniteGradientError(f"run: non-finite gradient at step {t} (nonfinite='raise')")
        with np.errstate(all="ignore"):
            if needs_h:
                H = sign * problem.hessian(theta)
                rec = rule.update(h, state, g, theta, k, H)
            else:
                rec = rule.update(h, state, g, theta, k)
            new_theta = next_theta(rec, theta)
            within = (np.abs(new_theta) <= divergence).all(-1)  # False for NaN
        step = active & finite if nonfinite == "skip" else active
        blow = step & ~within
        status[blow] = DIVERGED
        stop_step[blow] = t
        theta = np.where((step & within)[:, None], new_theta, theta)
        state = rule.State(*(_masked(step, getattr(rec, f), getattr(state, f)) for f in rule.State._fields))
        ok = step & within
        if tol is not None or t in rec_pos:
            with np.errstate(all="ignore"):
                g_new = sign * problem.grad(theta)
                gn = np.sqrt((g_new * g_new).sum(-1))
            if tol is not None:
                conv = ok & (gn <= tol)
                status[conv] = CONVERGED
                stop_step[conv] = t
            if t in rec_pos:
                record(rec_pos[t], theta, g_new)
    status[status == RUNNING] = MAX_STEPS
    return dict(theta=out_theta, loss=out_loss, grad_norm=out_gn, status=status, stop_step=stop_step,
                state=out_state)


def _masked(ok, new, old):
    """Take ``new`` where trajectory is ok, else keep ``old`` (state fields of any shape)."""
    if isinstance(old, float) or np.ndim(old) == 0 or np.shape(new) == ():
        return new
    new = np.asarray(new)
    if new.ndim >= 2 and new.shape[-2:] == np.shape(old)[-2:] and new.shape[0] == ok.shape[0]:
        return np.where(ok.reshape((-1,) + (1,) * (new.ndim - 1)), new, old)
    # windowed state (W, S, D): batch axis is 1
    return np.where(ok.reshape((1, -1) + (1,) * (new.ndim - 2)), new, old)
